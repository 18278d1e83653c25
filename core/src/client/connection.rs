//! The client's side of one socket: requests out, frames and the fds a reply announces in
//! (through the [`Inbox`]).
//!
//! Two things keep round trips short. The client polls briefly for a reply before blocking:
//! on virtual machines, waking a vCPU that went idle costs 20-40 µs, more than most requests
//! (measured: an `exists` round trip between two vCPUs drops from ~48 to ~27 µs). And replies
//! nobody needs (`release`), that the next request depends on (pipelined `seal`) or that a
//! `put` need not wait for (creates under reserved ids) are not waited for: they are read
//! before the next reply.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::id::{ObjectID, EMPTY_BLOB_ID};
use crate::meta_index::{HoldRing, RING_LEN};
use crate::protocol::reply::{self, ErrorReply, ExistsReply, Reply, ReserveIdsReply};
use crate::protocol::{frame, Request};
use crate::sys;

use super::inbox::Inbox;

/// The request that has the server take a connection's hold ring: the server takes it before
/// any request of that connection, and `exists` of the empty blob is the cheapest one.
const TAKE_RING: Request = Request::Exists { id: EMPTY_BLOB_ID };

/// A registered connection. Not thread-safe by itself: the client wraps it in a mutex.
pub struct Connection {
    stream: UnixStream,
    /// Memory files received, by the server's `store_fd` number.
    pub files: HashMap<i32, File>,
    /// How many live handles this process holds on each blob (released at zero).
    pub holds: HashMap<ObjectID, usize>,
    /// Replies to requests sent with [`Connection::send_unawaited`], not read yet, in order.
    unread: VecDeque<Unread>,
    /// The first error among those replies, read but not reported yet.
    failed: Option<Error>,
    broken: Option<String>,
    /// Object ids reserved for this connection and not used yet.
    reserved: Range<u64>,
    /// Where `get` from the metadata index writes its holds (see [`crate::meta_index`]).
    pub ring: Option<HoldRing>,
    /// The ring's `written` count when this client last asked the server to take it without
    /// waiting ([`Connection::nudge_ring`]); no new nudge until the server took that far.
    ring_nudged_at: Option<u64>,
    inbox: Inbox,
}

/// What to do with the reply of a request sent without waiting for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unread {
    /// Drop it, error or not (`release`).
    Ignore,
    /// An error in it fails the next awaited request (`seal`, which later requests need).
    Check,
    /// The create of this object: an error in it fails the next awaited request, saying so.
    Created(ObjectID),
}

/// How long a client polls for a reply before blocking.
const REPLY_POLL: Duration = Duration::from_micros(100);

/// Object ids reserved at a time (one round trip per this many creates without waiting).
const RESERVED_RUN: u64 = 256;

/// Unread replies allowed before the client reads them: bounded, so that the server never
/// blocks writing replies to a client that is not reading.
const MAX_UNREAD_REPLIES: usize = 64;

impl Connection {
    /// Wraps a connected stream.
    pub fn new(stream: UnixStream) -> Connection {
        Connection {
            stream,
            files: HashMap::new(),
            holds: HashMap::new(),
            unread: VecDeque::new(),
            failed: None,
            broken: None,
            reserved: 0..0,
            ring: None,
            ring_nudged_at: None,
            inbox: Inbox::default(),
        }
    }

    /// The next object id this connection may give an object itself; reserves a new run of
    /// ids from the server when the last one is used up.
    pub fn next_reserved_id(&mut self) -> Result<ObjectID> {
        if self.reserved.is_empty() {
            let reply: ReserveIdsReply = self.call(&Request::ReserveIds {
                count: RESERVED_RUN,
            })?;
            self.reserved = reply.first..reply.first + reply.count.min(RESERVED_RUN);
        }
        let id = self.reserved.start;
        self.reserved.start += 1;
        Ok(ObjectID(id))
    }

    /// Writes holds of `ids` into the hold ring (no system call). With the ring full, the
    /// server is asked to take it (one round trip) and the write is tried once more; then
    /// [`Connection::nudge_ring`]. `false`: no ring, or no room even then (the caller asks
    /// the server instead).
    pub fn push_holds(&mut self, ids: &[ObjectID]) -> Result<bool> {
        let Some(ring) = &self.ring else {
            return Ok(false);
        };
        if !ring.push(ids) {
            self.empty_ring()?;
            if !self.ring.as_ref().is_some_and(|ring| ring.push(ids)) {
                return Ok(false);
            }
        }
        self.nudge_ring()?;
        Ok(true)
    }

    /// Writes releases of `ids` into the hold ring if there is room, then
    /// [`Connection::nudge_ring`]; `false`: no ring or no room (the caller sends them).
    pub fn push_releases(&mut self, ids: &[ObjectID]) -> bool {
        if !self
            .ring
            .as_ref()
            .is_some_and(|ring| ring.push_releases(ids))
        {
            return false;
        }
        // Best effort: a broken connection has released everything server-side already.
        let _ = self.nudge_ring();
        true
    }

    /// Once the hold ring is half full, asks the server to take it, without waiting: gets
    /// from the index then keep finding room instead of falling back to a round trip with the
    /// whole tree in it. At most one such request is on its way.
    fn nudge_ring(&mut self) -> Result<()> {
        let Some(ring) = &self.ring else {
            return Ok(());
        };
        if ring.waiting() < RING_LEN / 2
            || self.ring_nudged_at.is_some_and(|mark| ring.taken() < mark)
        {
            return Ok(());
        }
        self.ring_nudged_at = Some(ring.written());
        self.send_unawaited(&TAKE_RING, Unread::Ignore)
    }

    /// Has the server take the hold ring, and waits for it (one round trip): for a client
    /// whose ring is full.
    fn empty_ring(&mut self) -> Result<()> {
        let _: ExistsReply = self.call(&TAKE_RING)?;
        Ok(())
    }

    /// Sends a request and reads its typed reply (and the fds it announces); error replies
    /// become errors.
    pub fn call<R: Reply>(&mut self, request: &Request) -> Result<R> {
        debug_assert_eq!(request.reply_type(), R::TYPE, "{request:?}");
        self.check_unbroken()?;
        let message = self
            .exchange(request)
            .map_err(|error| self.lost_on(error))?;
        reply::decode(message).map_err(|error| self.lost_on(error))
    }

    /// Fails once the stream broke: nothing more can be read from it in step.
    fn check_unbroken(&self) -> Result<()> {
        match &self.broken {
            Some(reason) => Err(Error::ConnectionLost {
                message: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Fails if the server hung up: answers read from shared memory need it alive too.
    pub fn check_alive(&mut self) -> Result<()> {
        self.check_unbroken()?;
        if sys::peer_hung_up(self.stream.as_raw_fd()) {
            let error = std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the server closed the connection",
            );
            return Err(self.lost_on(error.into()));
        }
        Ok(())
    }

    /// Passes a server's error on; a failure of the stream itself (I/O, or a frame that
    /// cannot be read) breaks the connection for good and becomes `ConnectionLost`.
    fn lost_on(&mut self, error: Error) -> Error {
        if !matches!(
            error,
            Error::Io(_) | Error::Protocol { .. } | Error::FrameTooLarge { .. }
        ) {
            return error;
        }
        self.broken = Some(error.to_string());
        Error::ConnectionLost {
            message: error.to_string(),
        }
    }

    /// Sends a request that gets no reply (`exit_request`).
    pub fn send_only(&mut self, request: &Request) -> Result<()> {
        frame::write_blocking(&mut self.stream, &request.to_json())
    }

    /// Sends a request without waiting for its reply, which is read before the next one:
    /// `Ignore` for replies nobody needs (`release`); `Check` and `Created` for replies whose
    /// error the next awaited request (or [`Connection::flush`]) reports.
    pub fn send_unawaited(&mut self, request: &Request, unread: Unread) -> Result<()> {
        self.check_unbroken()?;
        if self.unread.len() >= MAX_UNREAD_REPLIES {
            self.read_unread_replies()
                .map_err(|error| self.lost_on(error))?;
        }
        frame::write_blocking(&mut self.stream, &request.to_json())
            .map_err(|error| self.lost_on(error))?;
        self.unread.push_back(unread);
        Ok(())
    }

    /// Sends requests without waiting for their replies (as [`Connection::send_unawaited`]),
    /// as few writes as the bound on unread replies allows.
    pub fn send_unawaited_all(&mut self, requests: &[Request], unread: Unread) -> Result<()> {
        self.check_unbroken()?;
        for part in requests.chunks(MAX_UNREAD_REPLIES) {
            if self.unread.len() + part.len() > MAX_UNREAD_REPLIES {
                self.read_unread_replies()
                    .map_err(|error| self.lost_on(error))?;
            }
            let frames: Vec<u8> = part
                .iter()
                .flat_map(|request| frame::encode(&request.to_json()))
                .collect();
            self.stream
                .write_all(&frames)
                .map_err(|error| self.lost_on(error.into()))?;
            self.unread.extend(part.iter().map(|_| unread));
        }
        Ok(())
    }

    /// Reads the replies not read yet; fails with the first error among them not reported yet.
    pub fn flush(&mut self) -> Result<()> {
        self.read_unread_replies()
            .map_err(|error| self.lost_on(error))?;
        self.failed.take().map_or(Ok(()), Err)
    }

    /// Reads the replies not read yet, keeping the first error of a `Check` or `Created` one.
    fn read_unread_replies(&mut self) -> Result<()> {
        while let Some(unread) = self.unread.pop_front() {
            let reply = self.read_reply()?;
            if self.failed.is_none() {
                self.failed = match unread {
                    Unread::Ignore => None,
                    Unread::Check => reply_error(&reply),
                    Unread::Created(id) => {
                        reply_error(&reply).map(|error| unawaited_create_failed(id, error))
                    }
                };
            }
        }
        Ok(())
    }

    /// Reads the next frame, polling briefly before blocking when none has arrived yet.
    fn read_reply(&mut self) -> Result<Map<String, Value>> {
        let socket = self.stream.as_raw_fd();
        if !self.inbox.has_frame() {
            let deadline = Instant::now() + REPLY_POLL;
            while !sys::readable_now(socket) && Instant::now() < deadline {
                std::thread::yield_now();
            }
        }
        self.inbox.read_frame(socket)
    }

    /// Writes a request and reads its reply message: an error reply is an error (or the
    /// error of an earlier request nobody waited for, which comes first).
    fn exchange(&mut self, request: &Request) -> Result<Map<String, Value>> {
        if let Err(error) = frame::write_blocking(&mut self.stream, &request.to_json()) {
            return Err(self.refusal_left_behind().unwrap_or(error));
        }
        self.read_unread_replies()?;
        let reply = self.read_reply()?;
        if let Some(failed) = reply_error(&reply) {
            return Err(self.failed.take().unwrap_or(failed));
        }
        // The fds follow the reply on the stream: take them even when failing below.
        self.receive_announced_fds(&reply)?;
        self.failed.take().map_or(Ok(reply), Err)
    }

    /// The error reply a server wrote before closing the connection on a request it refused
    /// whole (a frame too large), if it is there: a better reason than the broken pipe the
    /// rest of the write ran into. The connection is broken either way.
    fn refusal_left_behind(&mut self) -> Option<Error> {
        if !self.unread.is_empty() || !sys::readable_now(self.stream.as_raw_fd()) {
            return None;
        }
        let reply = self.inbox.read_frame(self.stream.as_raw_fd()).ok()?;
        let error = reply_error(&reply)?;
        self.broken = Some(format!("the server closed the connection after: {error}"));
        Some(error)
    }

    fn receive_announced_fds(&mut self, reply: &Map<String, Value>) -> Result<()> {
        let announced: Vec<i64> = match (reply.get("fd"), reply.get("fds")) {
            (Some(fd), _) => fd.as_i64().into_iter().filter(|&fd| fd >= 0).collect(),
            (None, Some(Value::Array(fds))) => fds.iter().filter_map(Value::as_i64).collect(),
            _ => Vec::new(),
        };
        for store_fd in announced {
            let received = self.inbox.read_fd(self.stream.as_raw_fd())?;
            self.files.insert(store_fd as i32, File::from(received));
        }
        Ok(())
    }
}

/// The error of a create nobody waited for, saying which object it was (same code).
fn unawaited_create_failed(id: ObjectID, error: Error) -> Error {
    let reason = match &error {
        Error::Server { message, .. } => message.clone(),
        other => other.to_string(),
    };
    Error::Server {
        code: error.code(),
        message: format!(
            "creating {id}, sent by an earlier put that did not wait for the server, failed: \
             {reason}"
        ),
    }
}

/// The error an error reply carries, if it is one.
fn reply_error(reply: &Map<String, Value>) -> Option<Error> {
    ErrorReply::from_message(reply).map(ErrorReply::into_error)
}
