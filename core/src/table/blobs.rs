//! Blob operations of the object table: create, seal, get, hold, release, free.

use super::{BlobEntry, ConnectionId, ObjectTable};
use crate::error::{Error, Result};
use crate::id::{ObjectID, EMPTY_BLOB_ID};
use crate::protocol::Payload;

impl ObjectTable {
    /// Where a blob lies, for reading it (through the store's read-only fd) or, for the
    /// connection that creates it, for writing it.
    fn payload(&self, id: ObjectID, entry: &BlobEntry, writable: bool) -> Payload {
        if entry.size == 0 {
            return Payload {
                object_id: id.0,
                is_sealed: entry.sealed,
                ..Payload::empty()
            };
        }
        Payload {
            object_id: id.0,
            store_fd: if writable {
                self.arena.write_fd()
            } else {
                self.arena.read_fd()
            },
            data_offset: entry.offset as i64,
            data_size: entry.size as i64,
            map_size: self.arena.map_size() as i64,
            pointer: self.arena.address_of(entry.offset),
            is_sealed: entry.sealed,
            is_owner: true,
            is_gpu: false,
        }
    }

    /// `size` bytes of the arena, or `NotEnoughMemory`.
    fn allocate(&mut self, size: u64) -> Result<u64> {
        self.allocator.allocate(size).ok_or(Error::NotEnoughMemory {
            requested: size,
            available: self.allocator.largest_free_range(),
        })
    }

    /// Allocates a writable buffer owned by `connection` until it is sealed.
    pub fn create_buffer(&mut self, connection: ConnectionId, size: u64) -> Result<Payload> {
        if size == 0 {
            let mut empty = Payload::empty();
            empty.is_sealed = false;
            return Ok(empty);
        }
        let offset = self.allocate(size)?;
        let id = self.ids.blob_id();
        let mut entry = BlobEntry::new(offset, size, false, connection);
        entry.last_use = self.tick();
        let payload = self.payload(id, &entry, true);
        self.blobs.insert(id, entry);
        if let Some(refs) = self.connections.get_mut(&connection) {
            refs.unsealed.insert(id);
        }
        Ok(payload)
    }

    /// Stores `data` as a sealed blob under `id`, a blob id made from an id `connection`
    /// reserved (see [`ObjectTable::reserve_ids`]).
    pub fn put_blob(&mut self, connection: ConnectionId, id: ObjectID, data: &[u8]) -> Result<()> {
        if !id.is_blob() || data.is_empty() {
            return Err(Error::invalid(format!(
                "put_blob_request needs a blob id (a reserved id with bit 63 set) and at least \
                 one byte, got {id} and {} bytes; the empty blob is {EMPTY_BLOB_ID}",
                data.len()
            )));
        }
        let size = data.len() as u64;
        let offset = self.allocate(size)?;
        if let Err(error) = self.take_reserved(connection, id.without_blob_bit()) {
            self.allocator.free(offset, size);
            return Err(error);
        }
        self.arena.write_fresh(offset, data);
        let mut entry = BlobEntry::new(offset, size, true, connection);
        entry.last_use = self.tick();
        self.blobs.insert(id, entry);
        self.publish(id);
        Ok(())
    }

    /// Allocates several buffers, all or none.
    pub fn create_buffers(
        &mut self,
        connection: ConnectionId,
        sizes: &[u64],
    ) -> Result<Vec<Payload>> {
        let mut payloads = Vec::with_capacity(sizes.len());
        for &size in sizes {
            match self.create_buffer(connection, size) {
                Ok(payload) => payloads.push(payload),
                Err(error) => {
                    for payload in payloads {
                        self.discard_unsealed(payload.id());
                    }
                    return Err(error);
                }
            }
        }
        Ok(payloads)
    }

    fn discard_unsealed(&mut self, id: ObjectID) {
        if let Some(entry) = self.blobs.remove(&id) {
            if let Some(refs) = self.connections.get_mut(&entry.creator) {
                refs.unsealed.remove(&id);
            }
            self.free_or_defer(id, entry);
        }
    }

    /// The unsealed buffer `id`, if `connection` created it: only a buffer's writer may seal,
    /// shrink or drop it (another connection could otherwise free memory the writer still
    /// writes to, and a blob reusing it would change after its seal).
    fn writers_buffer(
        &self,
        connection: ConnectionId,
        id: ObjectID,
        action: &'static str,
    ) -> Result<&BlobEntry> {
        let entry = self.blobs.get(&id).ok_or(Error::ObjectNotExists { id })?;
        if entry.creator != connection {
            return Err(Error::NotOwner { id, action });
        }
        Ok(entry)
    }

    /// Makes `connection`'s buffer immutable and visible to readers. Sealing a sealed blob
    /// again is fine (whoever asks); sealing another connection's buffer is not.
    pub fn seal(&mut self, connection: ConnectionId, id: ObjectID) -> Result<()> {
        if id == EMPTY_BLOB_ID {
            return Ok(());
        }
        let entry = self.blobs.get(&id).ok_or(Error::ObjectNotExists { id })?;
        if entry.sealed {
            return Ok(());
        }
        self.writers_buffer(connection, id, "seal")?;
        let now = self.tick();
        let entry = self.blobs.get_mut(&id).expect("checked");
        entry.sealed = true;
        entry.last_use = now;
        if let Some(refs) = self.connections.get_mut(&connection) {
            refs.unsealed.remove(&id);
        }
        self.publish(id);
        Ok(())
    }

    /// Payloads of the requested blobs that exist (unknown ids are left out, as Vineyard);
    /// each returned blob is held by `connection` until released.
    pub fn get_buffers(
        &mut self,
        connection: ConnectionId,
        ids: &[ObjectID],
        unsafe_read: bool,
    ) -> Result<Vec<Payload>> {
        let mut payloads = Vec::with_capacity(ids.len());
        for &id in ids {
            if id == EMPTY_BLOB_ID {
                payloads.push(Payload::empty());
                continue;
            }
            let Some(entry) = self.blobs.get(&id) else {
                continue;
            };
            if !entry.sealed && !unsafe_read {
                return Err(Error::ObjectNotSealed { id });
            }
            if !entry.in_memory() {
                // The handlers bring spilled blobs back before they ask (see `spill`).
                return Err(Error::invalid(format!(
                    "blob {id} is spilled to disk; load it first (client.load)"
                )));
            }
            payloads.push(self.payload(id, entry, false));
        }
        for payload in &payloads {
            if payload.data_size > 0 {
                self.hold(connection, payload.id());
            }
        }
        Ok(payloads)
    }

    /// Records that `connection` uses blob `id`. Requests hold a blob once per connection
    /// however often they name it (the client releases it once, when its last handle goes).
    /// What its client wrote to its ring before the request counts first.
    pub fn hold(&mut self, connection: ConnectionId, id: ObjectID) {
        self.take_ring(connection);
        self.add_hold(connection, id, false);
    }

    /// Records one more hold from `connection`'s ring, released by one release each. They are
    /// counted: the client may write one while its release of the blob is still on the way.
    /// A deleted blob whose memory is not freed yet can be held too.
    pub(super) fn hold_from_ring(&mut self, connection: ConnectionId, id: ObjectID) {
        self.add_hold(connection, id, true);
    }

    fn add_hold(&mut self, connection: ConnectionId, id: ObjectID, counted: bool) {
        let Some(refs) = self.connections.get_mut(&connection) else {
            return;
        };
        let entry = match self.blobs.get_mut(&id) {
            Some(entry) => Some(entry),
            None if counted => self.zombies.get_mut(&id),
            None => None,
        };
        let Some(entry) = entry else {
            return;
        };
        self.spill.clock += 1;
        entry.last_use = self.spill.clock;
        match refs.held.get_mut(&id) {
            Some(count) if counted => *count += 1,
            Some(_) => {}
            None => {
                refs.held.insert(id, 1);
                entry.holders += 1;
            }
        }
    }

    /// Drops one of `connection`'s holds on blob `id` (after what its client wrote to its
    /// ring before); frees a deleted blob when nobody holds it any more.
    pub fn release(&mut self, connection: ConnectionId, id: ObjectID) {
        self.take_ring(connection);
        self.apply_release(connection, id);
    }

    /// Drops one of `connection`'s holds on blob `id`, as [`ObjectTable::release`] does but
    /// without taking the ring first.
    pub(super) fn apply_release(&mut self, connection: ConnectionId, id: ObjectID) {
        let Some(refs) = self.connections.get_mut(&connection) else {
            return;
        };
        let Some(count) = refs.held.get_mut(&id) else {
            return;
        };
        *count -= 1;
        if *count == 0 {
            refs.held.remove(&id);
            self.drop_holder(id);
        }
    }

    /// Drops one holder of blob `id` (a connection's, or the spiller's own); a deleted blob
    /// nobody holds any more is freed.
    pub fn drop_holder(&mut self, id: ObjectID) {
        if let Some(entry) = self.blobs.get_mut(&id) {
            entry.holders = entry.holders.saturating_sub(1);
        } else if let Some(entry) = self.zombies.get_mut(&id) {
            entry.holders = entry.holders.saturating_sub(1);
            if entry.holders == 0 {
                let entry = self.zombies.remove(&id).expect("present");
                self.release_memory(&entry);
            }
        }
    }

    /// Frees a blob removed from the table, or parks it until its holders let go (taking the
    /// rings first if it was indexed, where a reader may have found it, or is held, where
    /// its release may be waiting).
    pub(super) fn free_or_defer(&mut self, id: ObjectID, entry: BlobEntry) {
        self.withdraw_from_index(id);
        if entry.size == 0 {
            return;
        }
        self.forget_spill_file(id, &entry);
        let take_rings = entry.published || entry.holders > 0;
        self.zombies.insert(id, entry);
        if take_rings {
            // Parked first: the holds taken here find it among the zombies, and a release
            // taken here that lets the last holder go frees it.
            self.take_all_rings();
        }
        if self
            .zombies
            .get(&id)
            .is_some_and(|entry| entry.holders == 0)
        {
            let entry = self.zombies.remove(&id).expect("parked above");
            self.release_memory(&entry);
        }
    }

    /// Aborts `connection`'s unsealed buffer (a writer's abort). Sealed blobs are deleted
    /// with `del_data`, not dropped.
    pub fn drop_buffer(&mut self, connection: ConnectionId, id: ObjectID) -> Result<()> {
        let entry = self.blobs.get(&id).ok_or(Error::ObjectNotExists { id })?;
        if entry.sealed {
            return Err(Error::ObjectSealed {
                id,
                action: "drop",
                hint: "delete it instead (del_data_request, client.delete)",
            });
        }
        self.writers_buffer(connection, id, "drop")?;
        self.discard_unsealed(id);
        Ok(())
    }

    /// Shrinks `connection`'s unsealed buffer to `size` bytes, returning the tail to the
    /// store.
    pub fn shrink_buffer(
        &mut self,
        connection: ConnectionId,
        id: ObjectID,
        size: u64,
    ) -> Result<()> {
        let entry = self.blobs.get(&id).ok_or(Error::ObjectNotExists { id })?;
        if entry.sealed {
            return Err(Error::ObjectSealed {
                id,
                action: "shrink",
                hint: "only a buffer being written can shrink",
            });
        }
        self.writers_buffer(connection, id, "shrink")?;
        let entry = self.blobs.get_mut(&id).expect("checked");
        if size > entry.size || size == 0 {
            return Err(Error::invalid(format!(
                "cannot shrink blob {id} of {} bytes to {size} bytes; the new size must be \
                 between 1 and the current size",
                entry.size
            )));
        }
        let old_reserved = crate::store::OffsetAllocator::reserved_size(entry.size);
        let new_reserved = crate::store::OffsetAllocator::reserved_size(size);
        let tail = entry.offset + new_reserved;
        entry.size = size;
        if old_reserved > new_reserved {
            self.allocator.free(tail, old_reserved - new_reserved);
        }
        Ok(())
    }

    /// The metadata tree Vineyard reports for a blob id itself.
    pub(super) fn blob_tree(
        &self,
        id: ObjectID,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let size = if id == EMPTY_BLOB_ID {
            0
        } else {
            let entry = self.blobs.get(&id)?;
            if !entry.sealed {
                return None;
            }
            entry.size
        };
        Some(self.blob_member_tree(id, size))
    }

    /// A blob member as Vineyard shows it: typename, id, instance, sizes.
    pub(super) fn blob_member_tree(
        &self,
        id: ObjectID,
        size: u64,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut tree = serde_json::Map::new();
        tree.insert("id".into(), id.to_string().into());
        tree.insert("instance_id".into(), self.instance_id.into());
        tree.insert("length".into(), size.into());
        tree.insert("nbytes".into(), size.into());
        tree.insert("transient".into(), true.into());
        tree.insert("typename".into(), crate::meta::BLOB_TYPENAME.into());
        tree
    }
}
