//! All-or-nothing writes: what a thread creates through a client while a write is open (a
//! Python `put`, a table built from many arrays) is recorded, so that a write that fails
//! half-way removes every object and blob it created instead of leaving them behind.

use std::collections::HashMap;
use std::thread::ThreadId;

use super::{ClientInner, IpcClient};
use crate::error::Result;
use crate::id::{ObjectID, EMPTY_BLOB_ID};

/// The open writes of a client's threads: nesting depth and what was created so far.
#[derive(Debug, Default)]
pub(super) struct Writes {
    open: HashMap<ThreadId, (usize, Vec<ObjectID>)>,
}

impl ClientInner {
    /// Notes that this thread created `id`, if it has a write open.
    pub(super) fn created(&self, id: ObjectID) {
        if id == EMPTY_BLOB_ID {
            return;
        }
        let mut writes = self
            .writes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some((_, ids)) = writes.open.get_mut(&std::thread::current().id()) {
            ids.push(id);
        }
    }
}

impl IpcClient {
    /// Opens a write on this thread (or joins the one open already: writes nest, and the
    /// outermost decides). Close it with [`IpcClient::end_write`].
    pub fn begin_write(&self) {
        let mut writes = self
            .inner
            .writes
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        writes
            .open
            .entry(std::thread::current().id())
            .or_default()
            .0 += 1;
    }

    /// Closes this thread's write. When the outermost one closes as `failed`, everything the
    /// thread created through this client since it opened is deleted (objects and blobs; the
    /// replies of requests sent without waiting are read first, their errors dropped).
    pub fn end_write(&self, failed: bool) -> Result<()> {
        let created = {
            let mut writes = self
                .inner
                .writes
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            let thread = std::thread::current().id();
            let Some((depth, _)) = writes.open.get_mut(&thread) else {
                return Ok(());
            };
            *depth -= 1;
            if *depth > 0 {
                return Ok(());
            }
            writes
                .open
                .remove(&thread)
                .map(|(_, ids)| ids)
                .unwrap_or_default()
        };
        if !failed || created.is_empty() {
            return Ok(());
        }
        // What failed is reported already; only the state of the store matters now.
        let _ = self.flush();
        self.delete(&created, true, false).map(drop)
    }

    /// Runs `write` as one all-or-nothing write (see [`IpcClient::begin_write`]).
    pub fn all_or_nothing<T>(&self, write: impl FnOnce(&IpcClient) -> Result<T>) -> Result<T> {
        self.begin_write();
        let outcome = write(self);
        let cleaned = self.end_write(outcome.is_err());
        let value = outcome?;
        cleaned.map(|()| value)
    }
}
