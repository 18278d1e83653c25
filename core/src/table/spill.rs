//! The table's side of spilling: which sealed blobs are in memory, on their way to disk, on
//! disk, or on their way back; picking the least recently used blobs nobody holds; and the
//! bookkeeping that keeps readers safe.
//!
//! Clients map indexed blobs without asking (see `indexed`), so a blob leaves the index, with
//! every object whose tree has it, and the hold rings are taken, before it is chosen; a blob
//! any client holds then is left alone. While its bytes are written out, the spiller holds it
//! like a client would, so that a delete meanwhile frees nothing under the writer. Only once
//! written, and still held by nobody else, is its memory freed. A blob read back gets a new
//! offset and is published again; the reader that brought it back holds it the same way until
//! its own hold is taken.
//!
//! The I/O itself happens in the server (`server::spill`), never under the table's lock.

use tokio::sync::mpsc::UnboundedSender;

use super::{BlobEntry, ObjectTable};
use crate::error::{Error, Result};
use crate::id::{ObjectID, EMPTY_BLOB_ID};

/// Where a sealed blob's bytes are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Residence {
    /// In the arena at the entry's `offset`.
    #[default]
    Memory,
    /// In the arena, being written to the spill directory.
    Spilling,
    /// Only in the spill directory: the entry's `offset` means nothing.
    Spilled,
    /// Being read back into the arena at the entry's (new) `offset`.
    Loading,
}

impl BlobEntry {
    /// True if the blob's bytes are in the arena and readers may map them.
    pub(super) fn in_memory(&self) -> bool {
        self.residence == Residence::Memory
    }

    /// True if its `offset` holds memory of its own (to free when it goes).
    fn owns_memory(&self) -> bool {
        self.size > 0 && self.residence != Residence::Spilled
    }
}

/// The spill state of a table.
#[derive(Debug, Default)]
pub(super) struct SpillState {
    /// The table's logical clock (see `BlobEntry::last_use`).
    pub(super) clock: u64,
    /// Bytes and number of blobs that are only on disk.
    spilled_bytes: u64,
    spilled_blobs: u64,
    /// Bytes written out and read back since start.
    spilled_total: u64,
    reloaded_total: u64,
    /// Where ids of blobs whose spill file is no longer needed go (the spiller removes them).
    removals: Option<UnboundedSender<ObjectID>>,
}

/// What spilling has done, for `status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpillStatus {
    /// Bytes only on disk now.
    pub spilled_bytes: u64,
    /// Blobs only on disk now.
    pub spilled_blobs: u64,
    /// Bytes written to disk since start.
    pub spilled_total_bytes: u64,
    /// Bytes read back since start.
    pub reloaded_total_bytes: u64,
}

/// A blob chosen to be spilled: the spiller writes `size` bytes from `offset`, then calls
/// [`ObjectTable::finish_spill`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpillCandidate {
    /// The blob.
    pub id: ObjectID,
    /// Where its bytes are in the arena (valid until `finish_spill`).
    pub offset: u64,
    /// How many.
    pub size: u64,
}

/// What [`ObjectTable::start_reload`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadStart {
    /// Read `size` bytes into `offset`, then call [`ObjectTable::finish_reload`]; the caller
    /// holds the blob until it calls [`ObjectTable::drop_holder`].
    Read {
        /// Where to put the bytes.
        offset: u64,
        /// How many.
        size: u64,
    },
    /// Another request is reading it back (or writing it out): wait, then look again.
    Busy,
    /// It is in memory (or gone): nothing to do.
    Resident,
}

impl ObjectTable {
    /// Advances the clock; its new value.
    pub(super) fn tick(&mut self) -> u64 {
        self.spill.clock += 1;
        self.spill.clock
    }

    /// Where to send the ids of blobs whose spill files can go.
    pub fn set_spill_removals(&mut self, removals: UnboundedSender<ObjectID>) {
        self.spill.removals = Some(removals);
    }

    /// What is spilled now and since start.
    pub fn spill_status(&self) -> SpillStatus {
        SpillStatus {
            spilled_bytes: self.spill.spilled_bytes,
            spilled_blobs: self.spill.spilled_blobs,
            spilled_total_bytes: self.spill.spilled_total,
            reloaded_total_bytes: self.spill.reloaded_total,
        }
    }

    /// The longest free range of the arena: the largest blob that fits now.
    pub fn largest_free_range(&self) -> u64 {
        self.allocator.largest_free_range()
    }

    /// Returns a removed blob's memory, if it has any.
    pub(super) fn release_memory(&mut self, entry: &BlobEntry) {
        if entry.owns_memory() {
            self.allocator.free(entry.offset, entry.size);
        }
    }

    /// A blob leaves the table: its spill file, if it may have one, is no longer needed.
    pub(super) fn forget_spill_file(&mut self, id: ObjectID, entry: &BlobEntry) {
        if entry.residence == Residence::Spilled {
            self.spill.spilled_bytes -= entry.size;
            self.spill.spilled_blobs -= 1;
        }
        if entry.residence != Residence::Memory {
            self.remove_spill_file(id);
        }
    }

    fn remove_spill_file(&self, id: ObjectID) {
        if let Some(removals) = &self.spill.removals {
            let _ = removals.send(id);
        }
    }

    /// The local blobs of `ids` (objects' blob members, blobs themselves), without repeats.
    pub fn blobs_of(&self, ids: &[ObjectID]) -> Vec<ObjectID> {
        let mut found = Vec::new();
        for &id in ids {
            if id.is_blob() {
                found.push(id);
            } else if let Some(tree) = self.get_tree(id) {
                super::collect_blob_ids(&serde_json::Value::Object(tree), &mut found);
            }
        }
        found.sort_unstable();
        found.dedup();
        found.retain(|id| *id != EMPTY_BLOB_ID && self.blobs.contains_key(id));
        found
    }

    /// The blobs among `ids` that are not in memory (spilled, or on their way in or out).
    pub fn not_in_memory(&self, ids: &[ObjectID]) -> Vec<ObjectID> {
        ids.iter()
            .copied()
            .filter(|id| self.blobs.get(id).is_some_and(|entry| !entry.in_memory()))
            .collect()
    }

    /// True if any blob of the object (or the blob) is only on disk.
    pub fn is_spilled(&self, id: ObjectID) -> bool {
        self.blobs_of(&[id]).iter().any(|blob| {
            self.blobs
                .get(blob)
                .is_some_and(|entry| entry.residence == Residence::Spilled)
        })
    }

    /// Pins (or, with `pin` false, unpins) the blobs of `ids` in memory.
    pub fn pin(&mut self, ids: &[ObjectID], pin: bool) {
        for id in self.blobs_of(ids) {
            if let Some(entry) = self.blobs.get_mut(&id) {
                entry.pins = if pin {
                    entry.pins.saturating_add(1)
                } else {
                    entry.pins.saturating_sub(1)
                };
            }
        }
    }

    /// Chooses blobs to spill: sealed, in memory, unpinned, held by nobody, least recently
    /// used first, until they add up to `bytes` (all of `only`, if given, that qualify). They
    /// leave the index first, then the hold rings are taken: one a reader held meanwhile stays.
    pub fn choose_spill(&mut self, bytes: u64, only: Option<&[ObjectID]>) -> Vec<SpillCandidate> {
        // Releases waiting in rings make blobs nobody holds any more eligible.
        self.take_all_rings();
        let eligible = |entry: &BlobEntry| {
            entry.sealed && entry.in_memory() && entry.size > 0 && entry.pins == 0
        };
        let mut ranked: Vec<(u64, ObjectID)> = match only {
            Some(ids) => ids
                .iter()
                .filter_map(|id| Some((self.blobs.get(id)?, *id)))
                .filter(|(entry, _)| eligible(entry) && entry.holders == 0)
                .map(|(entry, id)| (entry.last_use, id))
                .collect(),
            None => self
                .blobs
                .iter()
                .filter(|(_, entry)| eligible(entry) && entry.holders == 0)
                .map(|(&id, entry)| (entry.last_use, id))
                .collect(),
        };
        ranked.sort_unstable();
        let mut chosen = Vec::new();
        let mut total = 0;
        for (_, id) in ranked {
            if only.is_none() && total >= bytes {
                break;
            }
            total += self.blobs[&id].size;
            chosen.push(id);
        }
        if chosen.is_empty() {
            return Vec::new();
        }
        for &id in &chosen {
            self.withdraw_with_users(id);
        }
        self.take_all_rings();
        let mut candidates = Vec::with_capacity(chosen.len());
        for id in chosen {
            let entry = self.blobs.get_mut(&id).expect("chosen above");
            if entry.holders > 0 {
                // A reader found it in the index before it left: it stays.
                self.republish_with_users(&[id]);
                continue;
            }
            entry.residence = Residence::Spilling;
            // The spiller's own hold: a delete meanwhile parks the memory instead of freeing it.
            entry.holders = 1;
            candidates.push(SpillCandidate {
                id,
                offset: entry.offset,
                size: entry.size,
            });
        }
        candidates
    }

    /// Takes a blob and every object whose tree has it out of the index.
    fn withdraw_with_users(&mut self, id: ObjectID) {
        let mut pending = vec![id];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(id) = pending.pop() {
            if !seen.insert(id) {
                continue;
            }
            let users = match (self.blobs.get(&id), self.objects.get(&id)) {
                (Some(entry), _) => entry.users.iter().copied().collect::<Vec<_>>(),
                (None, Some(entry)) => entry.users.iter().copied().collect(),
                (None, None) => Vec::new(),
            };
            pending.extend(users);
            self.withdraw_from_index(id);
        }
    }

    /// Ends the spill of a blob [`ObjectTable::choose_spill`] gave: with `written`, and no one
    /// else holding it, its memory is freed and it is only on disk; otherwise it stays in
    /// memory (and in the index), and the caller removes the file it wrote. Returns true if it
    /// was spilled.
    pub fn finish_spill(&mut self, id: ObjectID, written: bool) -> bool {
        let Some(entry) = self.blobs.get_mut(&id) else {
            // Deleted meanwhile: let go of the memory, and of the file just written.
            self.drop_holder(id);
            self.remove_spill_file(id);
            return false;
        };
        if written && entry.holders == 1 {
            entry.holders = 0;
            entry.residence = Residence::Spilled;
            let (offset, size) = (entry.offset, entry.size);
            self.allocator.free(offset, size);
            self.spill.spilled_bytes += size;
            self.spill.spilled_blobs += 1;
            self.spill.spilled_total += size;
            return true;
        }
        entry.residence = Residence::Memory;
        entry.holders -= 1;
        self.republish_with_users(&[id]);
        false
    }

    /// Starts reading a spilled blob back: allocates its memory (or fails with
    /// `NotEnoughMemory`, for the caller to make room and try again).
    pub fn start_reload(&mut self, id: ObjectID) -> Result<ReloadStart> {
        let Some(entry) = self.blobs.get(&id) else {
            return Ok(ReloadStart::Resident);
        };
        match entry.residence {
            Residence::Memory => return Ok(ReloadStart::Resident),
            Residence::Spilling | Residence::Loading => return Ok(ReloadStart::Busy),
            Residence::Spilled => {}
        }
        let size = entry.size;
        let offset = self
            .allocator
            .allocate(size)
            .ok_or(Error::NotEnoughMemory {
                requested: size,
                available: self.allocator.largest_free_range(),
            })?;
        let now = self.tick();
        let entry = self.blobs.get_mut(&id).expect("checked");
        entry.offset = offset;
        entry.residence = Residence::Loading;
        entry.holders += 1;
        entry.last_use = now;
        self.spill.spilled_bytes -= size;
        self.spill.spilled_blobs -= 1;
        Ok(ReloadStart::Read { offset, size })
    }

    /// Ends a reload [`ObjectTable::start_reload`] began. With `read`, the blob is in memory
    /// again, published, and still held by the caller, who removes its spill file; otherwise its
    /// memory is freed, it is spilled as before and the caller holds nothing.
    pub fn finish_reload(&mut self, id: ObjectID, read: bool) {
        let Some(entry) = self.blobs.get_mut(&id) else {
            // Deleted meanwhile (its spill file went with it).
            self.drop_holder(id);
            return;
        };
        if read {
            entry.residence = Residence::Memory;
            self.spill.reloaded_total += entry.size;
            self.republish_with_users(&[id]);
        } else {
            entry.residence = Residence::Spilled;
            entry.holders -= 1;
            let (offset, size) = (entry.offset, entry.size);
            self.allocator.free(offset, size);
            self.spill.spilled_bytes += size;
            self.spill.spilled_blobs += 1;
        }
    }

    /// The arena of the table (the spiller reads and writes blobs' bytes there).
    pub fn arena(&self) -> &std::sync::Arc<crate::store::Arena> {
        &self.arena
    }
}
