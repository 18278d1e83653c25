//! The table's side of the metadata index: local objects published there when created (and
//! blobs when sealed), withdrawn when deleted or changed; the holds and releases clients wrote
//! to their rings applied before the connection's other holds and releases, before any indexed
//! or held blob is freed, and before blobs are chosen to spill.

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{fence, Ordering};

use serde_json::Value;

use super::{ConnectionId, ObjectTable};
use crate::error::{Error, Result};
use crate::id::{ObjectID, EMPTY_BLOB_ID};
use crate::meta_index::{HoldRing, IndexedBlob};

/// The ids of the blobs in an expanded tree, the tree itself included (repeats possible).
pub fn collect_blob_ids(tree: &Value, found: &mut Vec<ObjectID>) {
    let Value::Object(tree) = tree else {
        return;
    };
    if let Some(id) = tree.get("id").and_then(Value::as_str) {
        if let Ok(id) = id.parse::<ObjectID>() {
            if id.is_blob() {
                found.push(id);
            }
        }
    }
    for member in tree.values() {
        collect_blob_ids(member, found);
    }
}

impl ObjectTable {
    /// True if the instance has a metadata index to give clients.
    pub fn has_index(&self) -> bool {
        self.index.is_some()
    }

    /// Writes a local object's (or sealed blob's) expanded tree and its blobs' places into the
    /// index (if its members are all local and it fits).
    pub(super) fn publish(&mut self, id: ObjectID) {
        if self.index.is_none() {
            return;
        }
        let Some(tree) = self.get_tree(id).map(Value::Object) else {
            return;
        };
        let mut blob_ids = Vec::new();
        collect_blob_ids(&tree, &mut blob_ids);
        blob_ids.sort_unstable();
        blob_ids.dedup();
        let mut blobs = Vec::with_capacity(blob_ids.len());
        for &blob in &blob_ids {
            if blob == EMPTY_BLOB_ID {
                blobs.push(IndexedBlob {
                    id: blob.0,
                    offset: 0,
                    size: 0,
                });
                continue;
            }
            match self.blobs.get(&blob) {
                Some(entry) if entry.sealed && entry.in_memory() => blobs.push(IndexedBlob {
                    id: blob.0,
                    offset: entry.offset,
                    size: entry.size,
                }),
                // A member on another instance, or spilled: only the server can answer for it.
                _ => return self.withdraw_from_index(id),
            }
        }
        let text = serde_json::to_vec(&tree).expect("trees serialise");
        let index = self.index.as_mut().expect("checked");
        if index.publish(id.0, &text, &blobs) {
            for blob in blob_ids {
                if let Some(entry) = self.blobs.get_mut(&blob) {
                    entry.published = true;
                }
            }
        }
    }

    /// Publishes `ids` again, and every object that has one of them as a member (their
    /// expanded trees changed with them).
    pub(super) fn republish_with_users(&mut self, ids: &[ObjectID]) {
        let mut pending: Vec<ObjectID> = ids.to_vec();
        let mut seen = BTreeSet::new();
        while let Some(id) = pending.pop() {
            if !seen.insert(id) {
                continue;
            }
            if let Some(entry) = self.objects.get(&id) {
                pending.extend(entry.users.iter().copied());
            }
            self.publish(id);
        }
    }

    /// Takes `id` out of the index.
    pub(super) fn withdraw_from_index(&mut self, id: ObjectID) {
        if let Some(index) = self.index.as_mut() {
            index.withdraw(id.0);
        }
    }

    /// Gives `connection` the index and a hold ring of its own; returns their fd numbers (to
    /// pass to the client; the files live as long as the index and the connection).
    pub fn open_meta_index(&mut self, connection: ConnectionId) -> Result<(RawFd, RawFd)> {
        let index = self.index.as_ref().ok_or_else(|| Error::NotImplemented {
            what: "a metadata index on this instance (it could not be created)".into(),
        })?;
        let index = index.file().as_raw_fd();
        let refs = self
            .connections
            .get_mut(&connection)
            .ok_or_else(|| Error::invalid("the connection is closing"))?;
        let ring = match &refs.ring {
            Some(ring) => ring,
            None => refs.ring.insert(HoldRing::create()?),
        };
        Ok((index, ring.file().as_raw_fd()))
    }

    /// Applies the holds and releases `connection`'s client wrote to its ring since the last
    /// time: the holds first (see [`crate::meta_index::Taken`]).
    pub(super) fn take_ring(&mut self, connection: ConnectionId) {
        let taken = match self
            .connections
            .get(&connection)
            .and_then(|refs| refs.ring.as_ref())
        {
            Some(ring) => ring.take(),
            None => return,
        };
        for id in taken.holds {
            self.hold_from_ring(connection, id);
        }
        for id in taken.releases {
            self.apply_release(connection, id);
        }
    }

    /// Before any request of `connection`: what its client wrote to its ring (so the request
    /// sees its releases), and every ring while deleted blobs wait for holders to let go (so
    /// their memory is freed at the next request of anyone, not only of their holders).
    pub fn take_rings_before_request(&mut self, connection: ConnectionId) {
        if self.zombies.is_empty() {
            self.take_ring(connection);
        } else {
            self.take_all_rings();
        }
    }

    /// Applies the holds and releases in every connection's ring: called after a withdrawal
    /// from the index, before an indexed or held blob is freed, and before blobs are chosen
    /// to spill.
    pub(super) fn take_all_rings(&mut self) {
        // Pairs with the reader's fence between writing its hold and looking at the slot again.
        fence(Ordering::SeqCst);
        let connections: Vec<ConnectionId> = self
            .connections
            .iter()
            .filter(|(_, refs)| refs.ring.is_some())
            .map(|(&connection, _)| connection)
            .collect();
        for connection in connections {
            self.take_ring(connection);
        }
    }
}
