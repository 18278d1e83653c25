//! A client's read-only view of a server's metadata index.

use std::fs::File;
use std::sync::atomic::{fence, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use super::{
    sequence, slot_entry, slot_id, slot_of, IndexedBlob, BLOB_ENTRY_LEN, ENTRY_HEADER_LEN,
    HEADER_LEN, MAGIC, MAX_ENTRY_LEN, SLOT_LEN,
};
use crate::error::{Error, Result};

/// A mapped metadata index.
pub struct IndexView {
    mapping: MmapRaw,
    slot_count: usize,
    heap_len: usize,
    store_fd: i32,
    map_size: u64,
}

/// Which content of which slot an entry is. The server never changes a slot without moving
/// its sequence number on, so two reads of the same version saw the same entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryVersion {
    slot: usize,
    sequence: u64,
}

/// One slot's content, copied out, with the version it was read at.
#[derive(Debug)]
pub struct Snapshot {
    /// The version read.
    pub version: EntryVersion,
    /// The object's expanded tree, as JSON text.
    pub tree: Vec<u8>,
    /// Its blobs (each once), where they lie in the bulk store.
    pub blobs: Vec<IndexedBlob>,
}

fn malformed(what: &str) -> Error {
    Error::Protocol {
        message: format!("the server's metadata index is malformed: {what}"),
    }
}

impl IndexView {
    /// Maps the index file the server sent, checking its header.
    pub fn open(file: &File) -> Result<IndexView> {
        let length = file.metadata()?.len() as usize;
        if length < HEADER_LEN {
            return Err(malformed("shorter than its header"));
        }
        let mapping = MmapOptions::new()
            .len(length)
            .map_raw_read_only(file)
            .map_err(|error| Error::Protocol {
                message: format!("cannot map the server's metadata index: {error}"),
            })?;
        let mut header = [0u8; HEADER_LEN];
        // SAFETY: the mapping is at least HEADER_LEN bytes long; the header never changes.
        unsafe { std::ptr::copy_nonoverlapping(mapping.as_ptr(), header.as_mut_ptr(), HEADER_LEN) };
        let word = |range: std::ops::Range<usize>| {
            let mut bytes = [0u8; 8];
            bytes[..range.len()].copy_from_slice(&header[range]);
            u64::from_le_bytes(bytes)
        };
        if word(0..8) != MAGIC {
            return Err(malformed(
                "unknown magic number (a different server version?)",
            ));
        }
        let slot_count = word(8..12) as usize;
        let heap_len = word(12..16) as usize;
        if slot_count < 2 || !slot_count.is_power_of_two() {
            return Err(malformed(
                "its slot count is not a power of two of at least 2",
            ));
        }
        if HEADER_LEN + slot_count * SLOT_LEN + heap_len > length {
            return Err(malformed("its slots and heap do not fit in it"));
        }
        Ok(IndexView {
            mapping,
            slot_count,
            heap_len,
            store_fd: word(16..20) as u32 as i32,
            map_size: word(24..32),
        })
    }

    /// The bulk store the blobs' offsets refer to: its `store_fd` number and `map_size`.
    pub fn store(&self) -> (i32, u64) {
        (self.store_fd, self.map_size)
    }

    fn slot(&self, index: usize) -> *const u8 {
        // SAFETY: callers pass an index below slot_count; open checked that all slots fit.
        unsafe { self.mapping.as_ptr().add(HEADER_LEN + index * SLOT_LEN) }
    }

    /// The start of a read of `id`'s entry: its slot's version, if the slot holds `id` and is
    /// not being written. What is read after it counts only if [`IndexView::still_at`] holds.
    fn begin_read(&self, id: u64) -> Option<EntryVersion> {
        let index = slot_of(id, self.slot_count);
        let slot = self.slot(index);
        // SAFETY: the slot lies inside the live mapping; its words are only accessed atomically.
        unsafe {
            let sequence = sequence(slot).load(Ordering::Acquire);
            (sequence % 2 == 0 && slot_id(slot).load(Ordering::Relaxed) == id).then_some(
                EntryVersion {
                    slot: index,
                    sequence,
                },
            )
        }
    }

    /// The end of a read begun by [`IndexView::begin_read`]: true if the slot still has that
    /// version, so that everything read in between was one consistent entry.
    fn still_at(&self, version: EntryVersion) -> bool {
        fence(Ordering::Acquire);
        // SAFETY: the version's slot index came from this view.
        unsafe { sequence(self.slot(version.slot)).load(Ordering::Relaxed) == version.sequence }
    }

    /// The version of the entry of `id` if its slot holds it now and is not being written:
    /// without copying the entry, enough to tell whether a tree read before is still current.
    pub fn current(&self, id: u64) -> Option<EntryVersion> {
        let version = self.begin_read(id)?;
        self.still_at(version).then_some(version)
    }

    /// The tree and blobs of `id` if its slot holds it and was not being written meanwhile.
    pub fn read(&self, id: u64) -> Option<Snapshot> {
        let version = self.begin_read(id)?;
        let slot = self.slot(version.slot);
        // SAFETY: the slot lies inside the live mapping; its words are only accessed
        // atomically, and its body is copied out and checked against the sequence afterwards.
        unsafe {
            let entry = slot_entry(slot).load(Ordering::Relaxed);
            let (offset, length) = ((entry & u32::MAX as u64) as usize, (entry >> 32) as usize);
            // Every byte here is untrusted: a torn read (which the sequence check would catch
            // too) or a damaged index must not make this read out of bounds or allocate much.
            if !(ENTRY_HEADER_LEN..=MAX_ENTRY_LEN).contains(&length)
                || offset.checked_add(length)? > self.heap_len
            {
                return None;
            }
            let entry = self
                .mapping
                .as_ptr()
                .add(HEADER_LEN + self.slot_count * SLOT_LEN + offset);
            let mut header = [0u8; ENTRY_HEADER_LEN];
            std::ptr::copy_nonoverlapping(entry, header.as_mut_ptr(), ENTRY_HEADER_LEN);
            let half = |at: usize| {
                u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes")) as usize
            };
            let (tree_len, blob_count) = (half(0), half(4));
            let blobs_len = blob_count.checked_mul(BLOB_ENTRY_LEN)?;
            if ENTRY_HEADER_LEN
                .checked_add(blobs_len)?
                .checked_add(tree_len)?
                != length
            {
                return None;
            }
            // Both parts are copied straight into their own buffers, within `length`.
            let copy = |from: usize, len: usize| {
                let mut bytes = Vec::<u8>::with_capacity(len);
                std::ptr::copy_nonoverlapping(entry.add(from), bytes.as_mut_ptr(), len);
                bytes.set_len(len);
                bytes
            };
            let blob_bytes = copy(ENTRY_HEADER_LEN, blobs_len);
            let tree = copy(ENTRY_HEADER_LEN + blobs_len, tree_len);
            if !self.still_at(version) {
                return None;
            }
            let blobs = blob_bytes
                .chunks_exact(BLOB_ENTRY_LEN)
                .map(|entry| {
                    let word = |at: usize| {
                        u64::from_le_bytes(entry[at..at + 8].try_into().expect("8 bytes"))
                    };
                    IndexedBlob {
                        id: word(0),
                        offset: word(8),
                        size: word(16),
                    }
                })
                .collect();
            Some(Snapshot {
                version,
                tree,
                blobs,
            })
        }
    }

    /// True if the slot an entry of `version` was read from has not changed since. Call it
    /// after the hold on the entry's blobs was written to the connection's ring.
    pub fn unchanged(&self, version: EntryVersion) -> bool {
        // Orders the hold written before against the look at the slot (see the module
        // documentation: the server orders its change before looking at the rings).
        fence(Ordering::SeqCst);
        // SAFETY: the version's slot index came from this view.
        unsafe { sequence(self.slot(version.slot)).load(Ordering::Relaxed) == version.sequence }
    }
}
