//! The server's side of the metadata index: publishes and withdraws objects' trees.

use std::fs::File;
use std::os::fd::RawFd;
use std::sync::atomic::{fence, Ordering};

use memmap2::MmapRaw;

use super::{
    index_shape, sequence, slot_entry, slot_id, slot_of, IndexedBlob, BLOB_ENTRY_LEN,
    ENTRY_HEADER_LEN, HEADER_LEN, MAGIC, MAX_ENTRY_LEN, SLOT_LEN,
};
use crate::error::Result;
use crate::store::OffsetAllocator;
use crate::sys;

/// The index one server writes (from under its table lock: one writer at a time).
#[derive(Debug)]
pub struct MetaIndex {
    /// A read-only fd of the index file: what clients receive.
    read_only: File,
    mapping: MmapRaw,
    /// Slots in the index (a power of two).
    slot_count: usize,
    /// Free ranges of the heap.
    heap: OffsetAllocator,
}

impl MetaIndex {
    /// A new, empty index describing the bulk store passed as `store_fd` of `map_size` bytes,
    /// shaped for that size ([`index_shape`]).
    pub fn create(store_fd: RawFd, map_size: u64) -> Result<MetaIndex> {
        let (slot_count, heap_len) = index_shape(map_size);
        let length = HEADER_LEN + slot_count * SLOT_LEN + heap_len;
        let file = sys::create_memfd("vineyard-meta-index", length as u64)?;
        let mapping = MmapRaw::map_raw(&file)?;
        let mut header = [0u8; HEADER_LEN];
        header[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        header[8..12].copy_from_slice(&(slot_count as u32).to_le_bytes());
        header[12..16].copy_from_slice(&(heap_len as u32).to_le_bytes());
        header[16..20].copy_from_slice(&store_fd.to_le_bytes());
        header[24..32].copy_from_slice(&map_size.to_le_bytes());
        // SAFETY: the mapping is at least HEADER_LEN bytes long and nobody reads it yet.
        unsafe { std::ptr::copy_nonoverlapping(header.as_ptr(), mapping.as_mut_ptr(), HEADER_LEN) };
        // Only this mapping writes: no one, whatever fd they hold, can map it writable again.
        sys::seal_future_writes(&file)?;
        Ok(MetaIndex {
            read_only: sys::reopen_read_only(&file)?,
            mapping,
            slot_count,
            heap: OffsetAllocator::new(heap_len as u64),
        })
    }

    /// The index file, opened read-only: clients map it and cannot write to it.
    pub fn file(&self) -> &File {
        &self.read_only
    }

    fn slot(&self, id: u64) -> *mut u8 {
        let offset = HEADER_LEN + slot_of(id, self.slot_count) * SLOT_LEN;
        // SAFETY: slot_of is below slot_count, so the slot lies inside the mapping.
        unsafe { self.mapping.as_mut_ptr().add(offset) }
    }

    /// Writes `id`'s tree (JSON text) and blobs into the index, evicting what held its slot.
    /// Returns false, and leaves `id` unindexed, if the entry is too large or the heap full.
    pub fn publish(&mut self, id: u64, tree: &[u8], blobs: &[IndexedBlob]) -> bool {
        let length = ENTRY_HEADER_LEN + blobs.len() * BLOB_ENTRY_LEN + tree.len();
        if length > MAX_ENTRY_LEN {
            self.withdraw(id);
            return false;
        }
        let mut entry = Vec::with_capacity(length);
        entry.extend_from_slice(&(tree.len() as u32).to_le_bytes());
        entry.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
        for blob in blobs {
            entry.extend_from_slice(&blob.id.to_le_bytes());
            entry.extend_from_slice(&blob.offset.to_le_bytes());
            entry.extend_from_slice(&blob.size.to_le_bytes());
        }
        entry.extend_from_slice(tree);
        let slot = self.slot(id);
        // SAFETY: the slot lies inside the mapping (see `slot`); this is the only writer.
        unsafe {
            self.write_locked(slot, |index, slot| {
                index.free_entry(slot);
                let Some(offset) = index.heap.allocate(length as u64) else {
                    return false;
                };
                let heap = index
                    .mapping
                    .as_mut_ptr()
                    .add(HEADER_LEN + index.slot_count * SLOT_LEN);
                // The allocator keeps the entry inside the heap.
                std::ptr::copy_nonoverlapping(entry.as_ptr(), heap.add(offset as usize), length);
                slot_id(slot).store(id, Ordering::Relaxed);
                slot_entry(slot).store(offset | (length as u64) << 32, Ordering::Relaxed);
                true
            })
        }
    }

    /// Removes `id` from the index, if its slot holds it.
    pub fn withdraw(&mut self, id: u64) {
        let slot = self.slot(id);
        // SAFETY: the slot lies inside the mapping; this is the only writer.
        unsafe {
            if slot_id(slot).load(Ordering::Relaxed) != id {
                return;
            }
            self.write_locked(slot, |index, slot| index.free_entry(slot));
        }
    }

    /// Empties the slot, returning its entry's range to the heap.
    ///
    /// # Safety
    /// `slot` must be a slot of this index whose sequence is odd.
    unsafe fn free_entry(&mut self, slot: *mut u8) {
        // SAFETY: per the contract.
        let entry = unsafe { slot_entry(slot).load(Ordering::Relaxed) };
        let (offset, length) = (entry & u32::MAX as u64, entry >> 32);
        if length > 0 {
            self.heap.free(offset, length);
        }
        // SAFETY: per the contract.
        unsafe {
            slot_id(slot).store(0, Ordering::Relaxed);
            slot_entry(slot).store(0, Ordering::Relaxed);
        }
    }

    /// Runs `write` on the slot between the odd and the next even sequence number.
    ///
    /// # Safety
    /// `slot` must be a slot of this index.
    unsafe fn write_locked<T>(
        &mut self,
        slot: *mut u8,
        write: impl FnOnce(&mut MetaIndex, *mut u8) -> T,
    ) -> T {
        // SAFETY: per the contract.
        let sequence = unsafe { sequence(slot) };
        let start = sequence.load(Ordering::Relaxed);
        sequence.store(start + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        let result = write(self, slot);
        sequence.store(start + 2, Ordering::Release);
        // Orders the change before whatever the server looks at next (the hold rings, when
        // it frees memory): see the module documentation.
        fence(Ordering::SeqCst);
        result
    }
}
