//! One shared-memory arena: a memfd the server maps and passes to clients.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use memmap2::MmapRaw;

use crate::error::Result;
use crate::protocol::MAP_SIZE_SLACK;
use crate::sys;

/// A memfd of `capacity + 8` bytes, mapped read-write in the server. Clients get two fds of
/// it: a read-write one with the buffers they create, and a read-only one with every blob
/// they read. A process that only reads cannot write to the store, even by mistake: its fd is
/// read-only, and the file's mode (0400) stops it from reopening it for writing through
/// `/proc` (unless it runs as the superuser). Writers can write anywhere in the store: it is
/// one file, and a file's access is all or nothing.
#[derive(Debug)]
pub struct Arena {
    file: File,
    read_only: File,
    mapping: MmapRaw,
    capacity: u64,
}

impl Arena {
    /// Creates an arena of `capacity` usable bytes. Pages are committed when first touched.
    pub fn create(capacity: u64) -> Result<Arena> {
        let file = sys::create_memfd("vineyard-bulk", capacity + MAP_SIZE_SLACK)?;
        let read_only = sys::reopen_read_only(&file)?;
        sys::forbid_reopening_for_writing(&file)?;
        let mapping = MmapRaw::map_raw(&file)?;
        sys::advise_huge_pages(mapping.as_mut_ptr(), mapping.len());
        Ok(Arena {
            file,
            read_only,
            mapping,
            capacity,
        })
    }

    /// Usable bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The read-write fd writers receive with the buffers they create; its number is their
    /// `store_fd` key on the wire.
    pub fn write_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// The read-only fd readers receive with the blobs they read (and the metadata index
    /// names); its number is their `store_fd` key on the wire.
    pub fn read_fd(&self) -> RawFd {
        self.read_only.as_raw_fd()
    }

    /// The `map_size` reported in payloads (the file size).
    pub fn map_size(&self) -> u64 {
        self.capacity + MAP_SIZE_SLACK
    }

    /// The server-side address of `offset`, reported as a payload's `pointer`.
    pub fn address_of(&self, offset: u64) -> u64 {
        self.mapping.as_ptr() as u64 + offset
    }

    /// Copies `data` to `offset`: for a range just allocated that no one else can see yet.
    pub fn write_fresh(&self, offset: u64, data: &[u8]) {
        assert!(offset + data.len() as u64 <= self.capacity);
        // SAFETY: the range lies within the live mapping (checked above); the caller owns it
        // alone, so nothing reads or writes it meanwhile.
        unsafe {
            let to = self.mapping.as_mut_ptr().add(offset as usize);
            std::ptr::copy_nonoverlapping(data.as_ptr(), to, data.len());
        }
    }

    /// The bytes at `offset .. offset + length`, for writing a sealed blob out.
    ///
    /// # Safety
    /// The range must belong to a sealed blob that stays allocated (held) while the slice
    /// lives: nothing writes to it meanwhile.
    pub unsafe fn bytes(&self, offset: u64, length: u64) -> &[u8] {
        assert!(offset + length <= self.capacity);
        // SAFETY: within the live mapping (checked above); immutable while the caller's
        // contract holds.
        unsafe {
            std::slice::from_raw_parts(self.mapping.as_ptr().add(offset as usize), length as usize)
        }
    }

    /// The bytes at `offset .. offset + length`, for filling a range just allocated (a
    /// spilled blob read back from its file).
    ///
    /// # Safety
    /// The range must be the caller's alone while the slice lives: allocated to it, not yet
    /// visible to any reader, and not handed out again meanwhile.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn bytes_mut(&self, offset: u64, length: u64) -> &mut [u8] {
        assert!(offset + length <= self.capacity);
        // SAFETY: within the live mapping (checked above), which is writable; no other
        // reference to the range exists while the caller's contract holds.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.mapping.as_mut_ptr().add(offset as usize),
                length as usize,
            )
        }
    }

    /// Gives the whole pages inside `[offset, offset + length)` back to the system (they read
    /// as zeros and are faulted in afresh when next written); returns the bytes released. For
    /// free ranges only: no blob may live there.
    pub fn release(&self, offset: u64, length: u64) -> u64 {
        const PAGE: u64 = 4096;
        let start = offset.div_ceil(PAGE) * PAGE;
        let end = (offset + length).min(self.capacity) / PAGE * PAGE;
        if end <= start {
            return 0;
        }
        // SAFETY: fallocate only changes the file's contents in the given range, which lies
        // within the file (checked above); no memory of this process is touched through a
        // Rust reference.
        let punched = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                start as libc::off_t,
                (end - start) as libc::off_t,
            )
        };
        if punched == 0 {
            end - start
        } else {
            0
        }
    }

    /// Faults in every page of the arena from a background thread, so that first writes into
    /// fresh memory run at memcpy speed instead of paying a page fault per 4 KiB. The thread
    /// runs at the lowest priority, in 8 MiB steps: on a busy machine, zeroing the store
    /// never takes a core from the requests served meanwhile.
    pub fn prefault_in_background(self: &Arc<Arena>) {
        const CHUNK: u64 = 8 << 20;
        let arena = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("vineyard-prefault".into())
            .spawn(move || {
                sys::lower_this_threads_priority();
                let started = std::time::Instant::now();
                let mut offset = 0;
                while offset < arena.capacity {
                    let length = CHUNK.min(arena.capacity - offset);
                    // SAFETY: the range lies within the server's own live mapping.
                    let address = unsafe { arena.mapping.as_mut_ptr().add(offset as usize) };
                    sys::populate_write(address, length as usize);
                    offset += length;
                }
                tracing::debug!(
                    bytes = arena.capacity,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "bulk store memory reserved"
                );
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the memory reservation thread; pages will fault on first touch");
        }
    }
}
