//! A connection's hold ring: blob ids its client holds, written to shared memory instead of
//! the socket, so that a `get` from the index makes no system call.
//!
//! The client appends ids and then moves `tail`; the server takes them (and moves `head`)
//! before it handles the connection's next release and whenever it withdraws objects from
//! the index, before it frees any of their blobs.
//!
//! # Layout (little-endian)
//! `head` (8 bytes, written by the server) at 0, `tail` (8, written by the client) at 64, then
//! [`RING_LEN`] ids of 8 bytes from 128; entry `n` lives at `n % RING_LEN`.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Error, Result};
use crate::id::ObjectID;

/// Ids a ring holds before its client must wait for the server to take them.
pub const RING_LEN: usize = 1024;

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

    /// Client: appends `ids` if there is room for all of them; false (and nothing written)
    /// otherwise. Not for concurrent use (the client's connection lock serialises it).
    pub fn push(&self, ids: &[ObjectID]) -> bool {
        let tail = self.tail().load(Ordering::Relaxed);
        let head = self.head().load(Ordering::Acquire);
        if tail.wrapping_sub(head) as usize + ids.len() > RING_LEN {
            return false;
        }
        for (position, id) in (tail..).zip(ids) {
            self.entry(position).store(id.0, Ordering::Relaxed);
        }
        self.tail()
            .store(tail + ids.len() as u64, Ordering::Release);
        true
    }

    /// Server: the ids appended since the last call (at most a ring's worth: a client that
    /// moved `tail` wildly holds only what the ring shows).
    pub fn take(&self) -> Vec<ObjectID> {
        let head = self.head().load(Ordering::Relaxed);
        let tail = self.tail().load(Ordering::Acquire);
        let count = (tail.wrapping_sub(head) as usize).min(RING_LEN);
        let ids = (head..)
            .take(count)
            .map(|position| ObjectID(self.entry(position).load(Ordering::Relaxed)))
            .collect();
        self.head().store(tail, Ordering::Release);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_pushed_by_the_client_are_taken_once_by_the_server() {
        let server = HoldRing::create().unwrap();
        let client = HoldRing::open(server.file().try_clone().unwrap()).unwrap();
        assert!(client.push(&[ObjectID(1), ObjectID(2)]));
        assert!(client.push(&[ObjectID(3)]));
        assert_eq!(server.take(), vec![ObjectID(1), ObjectID(2), ObjectID(3)]);
        assert!(server.take().is_empty());
    }

    #[test]
    fn a_full_ring_refuses_until_the_server_takes() {
        let server = HoldRing::create().unwrap();
        let client = HoldRing::open(server.file().try_clone().unwrap()).unwrap();
        let ids: Vec<ObjectID> = (0..RING_LEN as u64).map(ObjectID).collect();
        assert!(client.push(&ids));
        assert!(!client.push(&[ObjectID(7)]));
        assert_eq!(server.take(), ids);
        // Wraps around.
        assert!(client.push(&[ObjectID(7), ObjectID(8)]));
        assert_eq!(server.take(), vec![ObjectID(7), ObjectID(8)]);
    }
}
