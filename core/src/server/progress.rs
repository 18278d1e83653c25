//! Whether a connection's requests have all been handled, for requests of other connections
//! that refer to ids it reserved.
//!
//! A client that names its objects itself (reserved ids) creates them without waiting, and
//! seals blobs without waiting, so a `put` can return before the server has read the create
//! or the seal. Another process that gets the id
//! and asks for it must still find it: its request, on a miss, waits until the reserving
//! connection has handled everything it sent so far. The creator wrote its create before the
//! id could travel anywhere, so once that connection's socket is empty and it is not inside
//! a request, the create was handled (or failed) and the miss is real.

use std::borrow::Cow;
use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Shared;
use crate::id::ObjectID;
use crate::protocol::Request;
use crate::sys;
use crate::table::ConnectionId;

/// Longest a request waits for another connection's requests (a client that stopped in the
/// middle of a frame must not stall others for good).
const SETTLE_LIMIT: Duration = Duration::from_secs(2);

/// Longest a listing waits: a client that creates without pause may never be idle.
const LISTING_SETTLE_LIMIT: Duration = Duration::from_millis(50);

/// How often a waiting request looks again when nothing changed in the table.
const SETTLE_RECHECK: Duration = Duration::from_millis(1);

/// One connection's reading state.
pub struct Progress {
    socket: RawFd,
    /// Set from before a request is read until it is handled; clear while the connection waits
    /// for bytes or is parked on a `wait: true` request.
    busy: AtomicBool,
}

impl Progress {
    /// Marks the connection as reading or handling a request.
    pub fn set_busy(&self) {
        self.busy.store(true, Ordering::SeqCst);
    }

    /// Marks the connection as having handled everything it read.
    pub fn set_idle(&self) {
        self.busy.store(false, Ordering::SeqCst);
    }

    /// True if every byte the client sent so far has been read and handled. The socket is
    /// looked at first: bytes that leave it were read while `busy` was set.
    fn is_drained(&self) -> bool {
        sys::unread_bytes(self.socket) == 0 && !self.busy.load(Ordering::SeqCst)
    }
}

/// The progress of every open connection.
#[derive(Default)]
pub struct ProgressBoard {
    connections: Mutex<HashMap<ConnectionId, Arc<Progress>>>,
}

impl ProgressBoard {
    /// Tracks a new connection reading from `socket` (busy until it first waits for bytes).
    pub fn open(&self, connection: ConnectionId, socket: RawFd) -> Arc<Progress> {
        let progress = Arc::new(Progress {
            socket,
            busy: AtomicBool::new(true),
        });
        self.lock().insert(connection, Arc::clone(&progress));
        progress
    }

    /// Stops tracking a connection; call before its socket closes.
    pub fn close(&self, connection: ConnectionId) {
        self.lock().remove(&connection);
    }

    /// True unless `connection` is open and has requests not handled yet.
    fn is_drained(&self, connection: ConnectionId) -> bool {
        // Under the lock: the socket cannot close (and its number be reused) meanwhile.
        self.lock()
            .get(&connection)
            .is_none_or(|progress| progress.is_drained())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, Arc<Progress>>> {
        self.connections
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// What a request needs settled before it is handled.
enum Awaited<'a> {
    /// Nothing.
    Nothing,
    /// Objects it names.
    Ids(Cow<'a, [ObjectID]>),
    /// Every object (a listing).
    Everything,
}

fn awaited(request: &Request) -> Awaited<'_> {
    match request {
        Request::GetData { ids, .. }
        | Request::DelData { ids, .. }
        | Request::GetBuffers {
            ids,
            unsafe_read: false,
        } => Awaited::Ids(Cow::Borrowed(ids)),
        Request::Exists { id }
        | Request::Persist { id }
        | Request::IfPersist { id }
        | Request::PutName { id, .. } => Awaited::Ids(Cow::Borrowed(std::slice::from_ref(id))),
        Request::CreateData { contents, .. } => Awaited::Ids(
            contents
                .iter()
                .flat_map(|tree| tree.values())
                .filter_map(|member| member.get("id")?.as_str()?.parse().ok())
                .collect(),
        ),
        Request::ListData { .. } => Awaited::Everything,
        _ => Awaited::Nothing,
    }
}

/// Waits, before `me` handles `request`, until no object it names (or, for a listing, no
/// object at all) may still be created by a request another connection already sent.
pub async fn settle(shared: &Shared, me: ConnectionId, request: &Request) {
    let awaited = awaited(request);
    let limit = match awaited {
        Awaited::Nothing => return,
        Awaited::Ids(_) => SETTLE_LIMIT,
        Awaited::Everything => LISTING_SETTLE_LIMIT,
    };
    if is_settled(shared, me, &awaited) {
        return;
    }
    let started = tokio::time::Instant::now();
    loop {
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if is_settled(shared, me, &awaited) || started.elapsed() >= limit {
            return;
        }
        let _ = tokio::time::timeout(SETTLE_RECHECK, changed).await;
    }
}

/// True unless a connection other than `me` may still send what `awaited` needs.
fn is_settled(shared: &Shared, me: ConnectionId, awaited: &Awaited) -> bool {
    let creators: Vec<ConnectionId> = {
        let table = shared.table();
        match awaited {
            Awaited::Ids(ids) => ids
                .iter()
                .filter(|&&id| !table.exists(id))
                .filter_map(|&id| table.pending_creator(id))
                .collect(),
            _ => table.connections_with_reserved_ids(),
        }
    };
    creators
        .into_iter()
        .all(|creator| creator == me || shared.progress.is_drained(creator))
}
