//! Applies a request to the shared state and builds its typed reply. [`dispatch`] routes each
//! request to the module of its family; waiters (`wait: true` requests) are woken in one
//! place, after every request that can change what they wait for.
//!
//! # Layout
//! - `blobs`: create, seal, get, drop, shrink, hold and release buffers.
//! - `objects`: create, get, list, delete, exists and persist metadata trees.
//! - `names`: put, get, list and drop names.
//! - `instance`: register, status, the cluster view, clear, memory trim, sessions, debug.
//! - `spill`: evict, load, unpin and is_spilled (Vineyard's spilling requests).
//! - `extensions`: our own requests (reserved ids, small blobs in the request, the metadata
//!   index).

mod blobs;
mod extensions;
mod instance;
mod names;
mod objects;
mod spill;

use std::collections::HashSet;

use super::Shared;
use crate::error::{Error, Result};
use crate::protocol::reply::{self, ErrorReply, Reply};
use crate::protocol::{Payload, Request};
use crate::table::ConnectionId;

/// Per-connection protocol state.
pub struct Session {
    /// The table's id for this connection.
    pub connection: ConnectionId,
    /// Set once `register_request` succeeded.
    pub registered: bool,
    /// Store fds already sent on this connection (each is sent once).
    pub sent_fds: HashSet<i32>,
}

impl Session {
    /// Picks the fds this connection has not received yet, in payload order.
    fn new_fds<'a>(&mut self, payloads: impl IntoIterator<Item = &'a Payload>) -> Vec<i32> {
        let mut fds = Vec::new();
        for payload in payloads {
            if payload.data_size > 0 && self.sent_fds.insert(payload.store_fd) {
                fds.push(payload.store_fd);
            }
        }
        fds
    }
}

/// What the connection should do with a handled request.
pub enum Outcome {
    /// Write this frame, then send these fds, one message each.
    Reply {
        /// The reply, framed.
        frame: Vec<u8>,
        /// Fds to pass after it.
        fds: Vec<i32>,
    },
    /// The request waits for an object or a name that does not exist yet.
    NotYet,
    /// Close the connection without a reply.
    Exit,
}

impl Outcome {
    /// A reply with no fds after it.
    fn reply<R: Reply>(reply: &R) -> Outcome {
        Outcome::with_fds(reply, Vec::new())
    }

    /// A reply followed by the memory files `fds`.
    fn with_fds<R: Reply>(reply: &R, fds: Vec<i32>) -> Outcome {
        Outcome::Reply {
            frame: reply::frame(reply),
            fds,
        }
    }

    /// The error reply for `error` (the connection stays open).
    pub fn error(error: &Error) -> Outcome {
        Outcome::Reply {
            frame: crate::protocol::frame::encode(&ErrorReply::of(error)),
            fds: Vec::new(),
        }
    }
}

/// Handles one request. Errors become error replies; the connection stays open.
pub async fn handle(shared: &Shared, session: &mut Session, request: &Request) -> Outcome {
    let outcome = dispatch(shared, session, request).await;
    if wakes_waiters(request) {
        shared.changed.notify_waiters();
    }
    outcome.unwrap_or_else(|error| Outcome::error(&error))
}

/// Requests after which a parked request may find what it waits for (an object, a sealed
/// blob, a name). Waking on a failed one is harmless: a woken request just looks again.
fn wakes_waiters(request: &Request) -> bool {
    matches!(
        request,
        Request::Seal { .. }
            | Request::CreateData { .. }
            | Request::PutBlob { .. }
            | Request::DelData { .. }
            | Request::PutName { .. }
            | Request::Clear
    )
}

async fn dispatch(shared: &Shared, session: &mut Session, request: &Request) -> Result<Outcome> {
    if !session.registered && !matches!(request, Request::Register { .. } | Request::Exit) {
        return Err(Error::invalid(format!(
            "The connection is not registered yet, command is: {}; send register_request first",
            request.reply_type().replace("_reply", "_request")
        )));
    }
    shared.table().take_rings_before_request(session.connection);
    match request {
        Request::CreateBuffer { .. }
        | Request::CreateBuffers { .. }
        | Request::Seal { .. }
        | Request::GetBuffers { .. }
        | Request::DropBuffer { .. }
        | Request::ShrinkBuffer { .. }
        | Request::IncreaseReferenceCount { .. }
        | Request::Release { .. } => blobs::handle(shared, session, request).await,
        Request::CreateData { .. }
        | Request::GetData { .. }
        | Request::ListData { .. }
        | Request::DelData { .. }
        | Request::Exists { .. }
        | Request::Persist { .. }
        | Request::IfPersist { .. } => objects::handle(shared, session, request).await,
        Request::PutName { .. }
        | Request::GetName { .. }
        | Request::ListName { .. }
        | Request::DropName { .. } => names::handle(shared, request).await,
        Request::PutBlob { .. } | Request::MetaIndex | Request::ReserveIds { .. } => {
            extensions::handle(shared, session, request).await
        }
        Request::Evict { .. }
        | Request::Load { .. }
        | Request::Unpin { .. }
        | Request::IsSpilled { .. } => spill::handle(shared, request).await,
        Request::Register { .. }
        | Request::InstanceStatus
        | Request::ClusterMeta
        | Request::Clear
        | Request::MemoryTrim
        | Request::Exit
        | Request::NewSession
        | Request::DeleteSession
        | Request::Debug { .. } => instance::handle(shared, session, request).await,
    }
}
