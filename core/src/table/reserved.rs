//! Ids a client reserves to name its objects itself, so that it can create them without
//! waiting for replies (our extension: `reserve_ids_request`, then `create_data_request`
//! with `assigned_id`, or `put_blob_request` for a small blob named by the id with bit 63
//! set).
//!
//! Each connection has at most one run of reserved ids, used in order. A client reserves a
//! new run only after its last one is used up, so the server has handled every create of the
//! old run by then (requests of one connection are handled in order) and forgets it.

use super::{ConnectionId, ObjectTable};
use crate::error::{Error, Result};
use crate::id::ObjectID;

/// Most ids one `reserve_ids_request` may ask for (one millisecond of the id counter).
pub const MAX_RESERVED_IDS: u64 = 4096;

/// A connection's run of reserved ids: `[next, end)` are still unused.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reservation {
    next: u64,
    end: u64,
}

impl ObjectTable {
    /// Reserves `count` consecutive object ids for `connection`; returns the first.
    pub fn reserve_ids(&mut self, connection: ConnectionId, count: u64) -> Result<ObjectID> {
        if !(1..=MAX_RESERVED_IDS).contains(&count) {
            return Err(Error::invalid(format!(
                "reserve_ids_request asked for {count} ids; ask for 1 to {MAX_RESERVED_IDS}"
            )));
        }
        let first = self.ids.reserve(count);
        if let Some(refs) = self.connections.get_mut(&connection) {
            refs.reserved = Some(Reservation {
                next: first.0,
                end: first.0 + count,
            });
        }
        Ok(first)
    }

    /// Uses `id` from `connection`'s reserved run: it must be reserved and not used yet (ids
    /// are used in increasing order).
    pub(super) fn take_reserved(&mut self, connection: ConnectionId, id: ObjectID) -> Result<()> {
        let reservation = self
            .connections
            .get_mut(&connection)
            .and_then(|refs| refs.reserved.as_mut())
            .filter(|run| (run.next..run.end).contains(&id.0));
        match reservation {
            Some(run) => {
                run.next = id.0 + 1;
                Ok(())
            }
            None => Err(Error::invalid(format!(
                "object id {id} is not an unused id this connection reserved; name objects \
                 with ids from reserve_ids_request, each once and in increasing order, or \
                 leave `assigned_id` out to let the server choose"
            ))),
        }
    }

    /// The connection whose request may still be on the way to make `id` exist: the writer
    /// of an unsealed blob (its seal), or the connection that reserved the id (a blob id:
    /// the id without bit 63) and has not used it yet (its create).
    pub fn pending_creator(&self, id: ObjectID) -> Option<ConnectionId> {
        if let Some(entry) = self.blobs.get(&id) {
            return (!entry.sealed).then_some(entry.creator);
        }
        let reserved = id.without_blob_bit().0;
        self.connections.iter().find_map(|(&connection, refs)| {
            refs.reserved
                .filter(|run| (run.next..run.end).contains(&reserved))
                .map(|_| connection)
        })
    }

    /// Connections that have unused reserved ids (listings wait for them).
    pub fn connections_with_reserved_ids(&self) -> Vec<ConnectionId> {
        self.connections
            .iter()
            .filter(|(_, refs)| refs.reserved.is_some_and(|run| run.next < run.end))
            .map(|(&connection, _)| connection)
            .collect()
    }
}
