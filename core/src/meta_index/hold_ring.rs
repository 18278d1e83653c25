//! A connection's hold ring: the blobs its client starts and stops holding, written to shared
//! memory instead of the socket, so that a `get` from the index and the drop of what it
//! returned make no system call.
//!
//! The client appends entries and then moves `tail`; the server takes them (and moves `head`)
//! before it handles the connection's next hold or release, whenever it withdraws objects from
//! the index or parks a deleted blob that is held, and before it chooses blobs to spill.
//!
//! # Layout (little-endian)
//! `head` (8 bytes, written by the server) at 0, `tail` (8, written by the client) at 64, then
//! [`RING_LEN`] entries of 8 bytes from 128; entry `n` lives at `n % RING_LEN`. Only blobs are
//! held, and a blob's id has its top bit set: an entry with that bit is a hold of that id, one
//! without it a release of the id with the bit set again.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Error, Result};
use crate::id::{ObjectID, BLOB_BIT};

/// Ids a ring holds before its client must wait for the server to take them: 64 KiB per
/// connection, room for a table of 64 batches of 4 columns (256 blobs) to be got and dropped
/// 16 times between two requests of its client. A client asks the server to take its ring,
/// without waiting, once it is half full.
pub const RING_LEN: usize = 8192;

/// The bit every blob id has, cleared in an entry that releases the blob.
const HOLD_BIT: u64 = BLOB_BIT;

/// Offset of the first entry.
const ENTRIES: usize = 128;

/// Bytes of a ring file.
const RING_BYTES: usize = ENTRIES + RING_LEN * 8;

/// One connection's ring, mapped read-write (by the server and by its client).
#[derive(Debug)]
pub struct HoldRing {
    mapping: MmapRaw,
    file: File,
}

impl HoldRing {
    /// A new, empty ring in a memfd.
    #[cfg(feature = "server")]
    pub fn create() -> Result<HoldRing> {
        let file = crate::sys::create_memfd("vineyard-hold-ring", RING_BYTES as u64)?;
        let mapping = MmapRaw::map_raw(&file)?;
        Ok(HoldRing { mapping, file })
    }

    /// Maps a ring file the server sent.
    pub fn open(file: File) -> Result<HoldRing> {
        if file.metadata()?.len() != RING_BYTES as u64 {
            return Err(Error::Protocol {
                message: "the server's hold ring has an unexpected size".into(),
            });
        }
        let mapping = MmapOptions::new()
            .len(RING_BYTES)
            .map_raw(&file)
            .map_err(|error| Error::Protocol {
                message: format!("cannot map the server's hold ring: {error}"),
            })?;
        Ok(HoldRing { mapping, file })
    }

    /// The memfd (the server passes it to the client).
    pub fn file(&self) -> &File {
        &self.file
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        assert!(offset.is_multiple_of(8) && offset + 8 <= RING_BYTES);
        // SAFETY: aligned and inside the live mapping (checked above); the ring's words are
        // only accessed atomically.
        unsafe { &*(self.mapping.as_ptr().add(offset) as *const AtomicU64) }
    }

    fn head(&self) -> &AtomicU64 {
        self.word(0)
    }

    fn tail(&self) -> &AtomicU64 {
        self.word(64)
    }

    fn entry(&self, position: u64) -> &AtomicU64 {
        self.word(ENTRIES + (position as usize % RING_LEN) * 8)
    }

    /// Client: entries written so far (the ring's `tail`).
    pub fn written(&self) -> u64 {
        self.tail().load(Ordering::Relaxed)
    }

    /// Client: entries the server has taken so far (the ring's `head`).
    pub fn taken(&self) -> u64 {
        self.head().load(Ordering::Acquire)
    }

    /// Client: entries written that the server has not taken yet.
    pub fn waiting(&self) -> usize {
        self.written().wrapping_sub(self.taken()) as usize
    }

    /// Client: appends holds of the blobs `ids` if there is room for all of them; false (and
    /// nothing written) otherwise. Not for concurrent use (the client's connection lock
    /// serialises it).
    pub fn push(&self, ids: &[ObjectID]) -> bool {
        self.push_entries(ids.iter().map(|id| id.0 | HOLD_BIT), ids.len())
    }

    /// Client: appends releases of the blobs `ids` (each held before, through the ring or a
    /// reply) if there is room for all of them; false (and nothing written) otherwise.
    pub fn push_releases(&self, ids: &[ObjectID]) -> bool {
        self.push_entries(ids.iter().map(|id| id.0 & !HOLD_BIT), ids.len())
    }

    fn push_entries(&self, entries: impl Iterator<Item = u64>, count: usize) -> bool {
        let tail = self.tail().load(Ordering::Relaxed);
        let head = self.head().load(Ordering::Acquire);
        if tail.wrapping_sub(head) as usize + count > RING_LEN {
            return false;
        }
        for (position, entry) in (tail..).zip(entries) {
            self.entry(position).store(entry, Ordering::Relaxed);
        }
        self.tail().store(tail + count as u64, Ordering::Release);
        true
    }

    /// Server: the entries appended since the last call (at most a ring's worth: a client
    /// that moved `tail` wildly gets only what the ring shows).
    pub fn take(&self) -> Taken {
        let head = self.head().load(Ordering::Relaxed);
        let tail = self.tail().load(Ordering::Acquire);
        let count = (tail.wrapping_sub(head) as usize).min(RING_LEN);
        let mut taken = Taken::default();
        for position in (head..).take(count) {
            let entry = self.entry(position).load(Ordering::Relaxed);
            if entry & HOLD_BIT != 0 {
                taken.holds.push(ObjectID(entry));
            } else {
                taken.releases.push(ObjectID(entry | HOLD_BIT));
            }
        }
        self.head().store(tail, Ordering::Release);
        taken
    }
}

/// What the server took from a ring. Every release matches a hold made before it (in the
/// ring, in this batch or an earlier one, or by a reply), so applying the holds first never
/// lets a count reach zero early, whatever their order in the ring.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Taken {
    /// Blobs held, once per entry.
    pub holds: Vec<ObjectID>,
    /// Blobs released, once per entry.
    pub releases: Vec<ObjectID>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_pushed_by_the_client_are_taken_once_by_the_server() {
        let server = HoldRing::create().unwrap();
        let client = HoldRing::open(server.file().try_clone().unwrap()).unwrap();
        assert!(client.push(&blobs(&[1, 2])));
        assert!(client.push(&blobs(&[3])));
        assert_eq!(server.take().holds, blobs(&[1, 2, 3]));
        assert_eq!(server.take(), Taken::default());
    }

    #[test]
    fn a_full_ring_refuses_until_the_server_takes() {
        let server = HoldRing::create().unwrap();
        let client = HoldRing::open(server.file().try_clone().unwrap()).unwrap();
        let ids = blobs(&(0..RING_LEN as u64).collect::<Vec<_>>());
        assert!(client.push(&ids));
        assert!(!client.push(&blobs(&[7])));
        assert!(!client.push_releases(&blobs(&[7])));
        assert_eq!(server.take().holds, ids);
        // Wraps around.
        assert!(client.push(&blobs(&[7, 8])));
        assert_eq!(server.take().holds, blobs(&[7, 8]));
    }

    #[test]
    fn releases_come_apart_from_holds() {
        let server = HoldRing::create().unwrap();
        let client = HoldRing::open(server.file().try_clone().unwrap()).unwrap();
        assert!(client.push(&blobs(&[1, 2])));
        assert!(client.push_releases(&blobs(&[1])));
        assert!(client.push(&blobs(&[1])));
        assert!(client.push_releases(&blobs(&[2])));
        assert_eq!(
            server.take(),
            Taken {
                holds: blobs(&[1, 2, 1]),
                releases: blobs(&[1, 2]),
            }
        );
    }

    /// Blob ids (the top bit set) with these low bits.
    fn blobs(low: &[u64]) -> Vec<ObjectID> {
        low.iter().map(|&bits| ObjectID(bits | HOLD_BIT)).collect()
    }
}
