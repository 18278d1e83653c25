//! The metadata index: sealed objects' trees in shared memory, so that a client on the same
//! machine can `get` an object without asking the server.
//!
//! The server ([`MetaIndex`]) writes each new local object's (and sealed blob's) expanded tree
//! and where its blobs lie in the bulk store into a memfd it passes to clients; a client
//! ([`IndexView`]) maps it read-only. It is a cache, not a table: each id has one slot (picked
//! by a hash), a new object takes the slot from whatever was there, and entries over
//! [`MAX_ENTRY_LEN`] (or that find the heap full) are not indexed. A miss costs nothing but the usual round trip.
//! Larger stores get more slots and a larger heap ([`index_shape`]).
//!
//! Each slot is a seqlock: its sequence number is odd while the server writes it, so a reader
//! that sees the same even number before and after copying the slot has a consistent tree.
//!
//! Reading a tree is not enough to use its blobs: the server could delete the object and
//! reuse their memory. So the reader writes a hold for the blobs into its connection's
//! [`HoldRing`] (shared memory, no system call), then looks at the slot again: if it is
//! unchanged, the object was still indexed after the hold was written. The server, after it
//! withdraws an object and before it frees any blob that was indexed, takes every ring's
//! holds. Fences on both sides make sure that one of the two sees the other: the reader the
//! withdrawal (and it asks the server instead), or the server the hold.
//!
//! # Layout (little-endian)
//! - header, [`HEADER_LEN`] bytes: magic (8), slot count (4), heap length (4), the bulk
//!   store's `store_fd` number (4, signed), padding (4), the bulk store's `map_size` (8);
//! - the slots, [`SLOT_LEN`] bytes each: sequence (8), object id (8), offset (4) and length
//!   (4) of its entry in the heap, padding (8);
//! - the heap: entries of tree length (4), blob count (4), the blobs as (id, offset, size)
//!   triples of 8 bytes each, then the tree as JSON text. An entry's range is only reused
//!   after its slot's sequence moved on, so a reader that checks the sequence after copying
//!   never keeps bytes of another entry.

mod hold_ring;
mod reader;
#[cfg(feature = "server")]
mod writer;

pub use hold_ring::{HoldRing, Taken, RING_LEN};
pub use reader::{EntryVersion, IndexView, Snapshot};
#[cfg(feature = "server")]
pub use writer::MetaIndex;

use std::sync::atomic::AtomicU64;

/// Marks a metadata index file (and its layout version).
pub const MAGIC: u64 = u64::from_le_bytes(*b"VYMIDX02");

/// Bytes before the first slot.
pub const HEADER_LEN: usize = 64;

/// Bytes of one slot.
pub const SLOT_LEN: usize = 32;

/// Slots in the index of a small store (a power of two); see [`index_shape`].
pub const MIN_SLOT_COUNT: usize = 1 << 16;

/// Bytes of the heap that holds the entries in the index of a small store (pages are used as
/// entries first touch them); see [`index_shape`].
pub const MIN_HEAP_LEN: usize = 64 << 20;

/// The largest heap (entry offsets are 32-bit).
pub const MAX_HEAP_LEN: usize = 2 << 30;

/// The heap is this many times smaller than the bulk store, within [`MIN_HEAP_LEN`] and
/// [`MAX_HEAP_LEN`]. A table of 1 GiB in 64 batches of 4 columns takes about 0.6 MB of entries
/// (its tree, its batches', its arrays' and its blobs'), small objects far more per byte: with
/// a fixed 64 MiB heap, a store of a hundred such tables filled the index, and every `get`
/// past that asked the server (42 ms instead of 3 ms for such a table, measured).
const STORE_BYTES_PER_HEAP_BYTE: u64 = 16;

/// Heap bytes per slot (slots are 32 bytes: 3% of the heap).
const HEAP_BYTES_PER_SLOT: usize = MIN_HEAP_LEN / MIN_SLOT_COUNT;

/// The slot count and heap length of the index of a bulk store of `map_size` bytes: the heap a
/// sixteenth of the store (64 MiB to 2 GiB), a slot per KiB of heap (rounded up to a power of
/// two). Only the pages entries touch take memory.
pub fn index_shape(map_size: u64) -> (usize, usize) {
    let heap = usize::try_from(map_size / STORE_BYTES_PER_HEAP_BYTE)
        .unwrap_or(MAX_HEAP_LEN)
        .clamp(MIN_HEAP_LEN, MAX_HEAP_LEN)
        / 64
        * 64;
    let slots = (heap / HEAP_BYTES_PER_SLOT).next_power_of_two();
    (slots, heap)
}

/// Largest entry indexed: room for the tree of a table of a few hundred batches, or a dataframe
/// of a few thousand columns (a 1 GiB table in 64 batches of 4 columns is about 210 KB). A tree
/// this large costs a copy out of the slot, still far less than the round trip and parse it saves.
pub const MAX_ENTRY_LEN: usize = 1 << 20;

/// Bytes of an entry before its blobs.
const ENTRY_HEADER_LEN: usize = 8;

/// Bytes of one blob in an entry.
const BLOB_ENTRY_LEN: usize = 24;

/// A blob of an indexed object: where its bytes lie in the bulk store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexedBlob {
    /// The blob's id.
    pub id: u64,
    /// Offset in the bulk store.
    pub offset: u64,
    /// Length in bytes (0 for the empty blob).
    pub size: u64,
}

/// The slot an id lives in, for `slot_count` slots (a power of two, at least 2).
pub fn slot_of(id: u64, slot_count: usize) -> usize {
    let mixed = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - slot_count.trailing_zeros())) as usize
}

/// The sequence number at the start of the slot at `slot`.
///
/// # Safety
/// `slot` must point at a slot inside a live mapping (8-byte aligned).
unsafe fn sequence<'a>(slot: *const u8) -> &'a AtomicU64 {
    // SAFETY: per the contract, aligned and alive; shared memory is only ever accessed
    // atomically at this word.
    unsafe { &*(slot as *const AtomicU64) }
}

/// The object id word of the slot at `slot` (same contract as [`sequence`]).
unsafe fn slot_id<'a>(slot: *const u8) -> &'a AtomicU64 {
    // SAFETY: as for `sequence`; the id word follows it.
    unsafe { &*(slot.add(8) as *const AtomicU64) }
}

/// The word holding the slot's entry offset (low half) and length (high half), same contract
/// as [`sequence`].
unsafe fn slot_entry<'a>(slot: *const u8) -> &'a AtomicU64 {
    // SAFETY: as for `sequence`; the entry word follows the id.
    unsafe { &*(slot.add(16) as *const AtomicU64) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_spread_consecutive_ids() {
        let mut used = std::collections::HashSet::new();
        for id in 0..MIN_SLOT_COUNT as u64 {
            let slot = slot_of(0x0001_0000_0000_0000 + id, MIN_SLOT_COUNT);
            assert!(slot < MIN_SLOT_COUNT);
            used.insert(slot);
        }
        // A multiplicative hash spreads a run of ids over most slots.
        assert!(used.len() > MIN_SLOT_COUNT / 2, "{} slots used", used.len());
    }

    #[test]
    fn no_client_can_map_the_index_writable() {
        let index = MetaIndex::create(7, 1 << 20).unwrap();
        let file = index.file();
        assert!(memmap2::MmapOptions::new().len(64).map_raw(file).is_err());
        // Not even through a file reopened for writing (which the superuser may do).
        if let Ok(reopened) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(file)
            ))
        {
            let error = memmap2::MmapOptions::new()
                .len(64)
                .map_raw(&reopened)
                .unwrap_err();
            assert_eq!(error.raw_os_error(), Some(libc::EPERM), "{error}");
        }
    }

    #[test]
    fn a_published_tree_reads_back_until_withdrawn() {
        let mut index = MetaIndex::create(7, 1 << 20).unwrap();
        let view = IndexView::open(index.file()).unwrap();
        assert_eq!(view.store(), (7, 1 << 20));
        let blobs = [
            IndexedBlob {
                id: 0x8000_0000_0000_0001,
                offset: 64,
                size: 100,
            },
            IndexedBlob {
                id: 0x8000_0000_0000_0000,
                offset: 0,
                size: 0,
            },
        ];
        assert!(index.publish(5, br#"{"typename":"x"}"#, &blobs));
        let snapshot = view.read(5).expect("indexed");
        assert_eq!(snapshot.tree, br#"{"typename":"x"}"#);
        assert_eq!(snapshot.blobs, blobs);
        assert!(view.unchanged(snapshot.version));
        assert_eq!(view.current(5), Some(snapshot.version));
        assert!(view.read(6).is_none(), "another id misses");
        assert_eq!(view.current(6), None);
        index.withdraw(5);
        assert!(
            !view.unchanged(snapshot.version),
            "a withdrawal changes the slot"
        );
        assert!(view.read(5).is_none());
        assert_eq!(view.current(5), None);
        assert!(index.publish(5, br#"{"typename":"y"}"#, &[]));
        let again = view.read(5).expect("indexed again");
        assert_eq!(again.tree, br#"{"typename":"y"}"#);
        assert_eq!(view.current(5), Some(again.version));
        assert_ne!(
            again.version, snapshot.version,
            "a new entry is a new version"
        );
    }

    #[test]
    fn entries_too_large_are_not_indexed() {
        let mut index = MetaIndex::create(3, 4096).unwrap();
        let view = IndexView::open(index.file()).unwrap();
        assert!(index.publish(9, b"{}", &[]));
        let large = vec![b' '; MAX_ENTRY_LEN];
        assert!(!index.publish(9, &large, &[]));
        assert!(view.read(9).is_none(), "the old tree of the id is gone too");
    }

    #[test]
    fn a_full_heap_takes_entries_again_once_some_leave() {
        let mut index = MetaIndex::create(3, 4096).unwrap();
        let view = IndexView::open(index.file()).unwrap();
        let tree = vec![b'x'; MAX_ENTRY_LEN - ENTRY_HEADER_LEN];
        let ids: Vec<u64> = (1..).take(2 * MIN_HEAP_LEN / MAX_ENTRY_LEN).collect();
        let published: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|&id| index.publish(id, &tree, &[]))
            .collect();
        assert!(published.len() < ids.len(), "the heap never filled");
        let refused = *ids.iter().find(|id| !published.contains(id)).unwrap();
        assert!(view.read(refused).is_none());
        for &id in &published {
            assert_eq!(
                view.read(id).map(|entry| entry.tree.len()),
                Some(tree.len())
            );
        }
        index.withdraw(published[0]);
        assert!(index.publish(refused, b"{}", &[]), "freed heap is reused");
        assert_eq!(view.read(refused).unwrap().tree, b"{}");
    }

    #[test]
    fn larger_stores_get_larger_indexes() {
        assert_eq!(index_shape(4096), (MIN_SLOT_COUNT, MIN_HEAP_LEN));
        assert_eq!(index_shape(1 << 30), (MIN_SLOT_COUNT, MIN_HEAP_LEN));
        assert_eq!(index_shape(4 << 30), (1 << 18, 256 << 20));
        assert_eq!(index_shape(3 << 30), (1 << 18, 192 << 20));
        assert_eq!(index_shape(u64::MAX), (MAX_HEAP_LEN / 1024, MAX_HEAP_LEN));
    }

    #[test]
    fn the_index_of_a_large_store_holds_more_than_a_small_ones_heap() {
        let mut index = MetaIndex::create(3, 4 << 30).unwrap();
        let view = IndexView::open(index.file()).unwrap();
        let tree = vec![b'x'; MAX_ENTRY_LEN - ENTRY_HEADER_LEN];
        let ids = 1..=(2 * MIN_HEAP_LEN / MAX_ENTRY_LEN) as u64;
        for id in ids.clone() {
            assert!(index.publish(id, &tree, &[]), "entry {id} did not fit");
        }
        for id in ids {
            let read = view.read(id).map(|entry| entry.tree.len());
            assert_eq!(read, Some(tree.len()), "entry {id}");
        }
    }

    #[test]
    fn a_colliding_id_takes_the_slot() {
        let mut index = MetaIndex::create(3, 4096).unwrap();
        let view = IndexView::open(index.file()).unwrap();
        let first = 1u64;
        let slot = slot_of(first, MIN_SLOT_COUNT);
        let second = (2..u64::MAX)
            .find(|&id| slot_of(id, MIN_SLOT_COUNT) == slot)
            .unwrap();
        assert!(index.publish(first, b"1", &[]));
        let snapshot = view.read(first).unwrap();
        assert!(index.publish(second, b"2", &[]));
        assert!(view.read(first).is_none());
        assert!(!view.unchanged(snapshot.version));
        assert_eq!(view.read(second).unwrap().tree, b"2");
        index.withdraw(first);
        assert!(
            view.read(second).is_some(),
            "withdrawing another id leaves the slot"
        );
    }
}
