//! A client's mapping of one shared-memory file (read-only for readers, writable for writers).

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Error, Result};

/// One mapping of a server's memory file, shared by every blob in it.
pub struct Mapping {
    raw: MmapRaw,
    /// One bit per `POPULATE_CHUNK` of a writable mapping: set once its pages are mapped in.
    populated: Vec<AtomicU64>,
}

/// Granularity of page population for writers.
const POPULATE_CHUNK: usize = 2 << 20;

impl Mapping {
    /// Maps `length` bytes of `file`, writable or not.
    pub fn new(file: &File, length: usize, writable: bool) -> Result<Mapping> {
        let mut options = MmapOptions::new();
        options.len(length);
        let raw = if writable {
            options.map_raw(file)
        } else {
            options.map_raw_read_only(file)
        };
        let raw = raw.map_err(|error| Error::Protocol {
            message: format!("cannot map {length} bytes of the server's memory: {error}"),
        })?;
        crate::sys::advise_huge_pages(raw.as_mut_ptr(), raw.len());
        let chunks = length.div_ceil(POPULATE_CHUNK);
        let populated = (0..chunks.div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        Ok(Mapping { raw, populated })
    }

    /// Bytes mapped.
    pub fn length(&self) -> usize {
        self.raw.len()
    }

    /// Checks that `[offset, offset + size)` lies inside the mapping.
    pub fn check(&self, offset: usize, size: usize) -> Result<()> {
        if offset
            .checked_add(size)
            .is_none_or(|end| end > self.length())
        {
            return Err(Error::Protocol {
                message: format!(
                    "blob range {offset}+{size} lies outside the {} mapped bytes",
                    self.length()
                ),
            });
        }
        Ok(())
    }

    /// The bytes at `[offset, offset + size)` (checked when the blob was made).
    pub fn slice(&self, offset: usize, size: usize) -> &[u8] {
        assert!(offset + size <= self.length());
        // SAFETY: the range is inside the live mapping; sealed data is never written again.
        unsafe { std::slice::from_raw_parts(self.raw.as_ptr().add(offset), size) }
    }

    /// The address of `offset` in this process, for writers (mappings are shared, so writes
    /// go through raw pointers handed to exactly one writer per range).
    pub fn address_mut(&self, offset: usize) -> *mut u8 {
        assert!(offset <= self.length());
        // SAFETY: `offset` is within the mapping (checked above).
        unsafe { self.raw.as_mut_ptr().add(offset) }
    }

    /// Faults in `[offset, offset + size)` for writing in one call (see [`crate::sys`]).
    ///
    /// Each chunk is populated once per mapping: the store never returns pages to the kernel,
    /// so memory reused after a delete is still mapped in.
    pub fn populate_for_write(&self, offset: usize, size: usize) {
        if size == 0 {
            return;
        }
        let first = offset / POPULATE_CHUNK;
        let last = (offset + size - 1) / POPULATE_CHUNK;
        let mut chunk = first;
        while chunk <= last {
            if self.is_populated(chunk) {
                chunk += 1;
                continue;
            }
            let run_start = chunk;
            while chunk <= last && !self.is_populated(chunk) {
                chunk += 1;
            }
            let start = run_start * POPULATE_CHUNK;
            let end = (chunk * POPULATE_CHUNK).min(self.length());
            crate::sys::populate_write(self.address_mut(start), end - start);
            for done in run_start..chunk {
                self.populated[done / 64].fetch_or(1 << (done % 64), Ordering::Relaxed);
            }
        }
    }

    fn is_populated(&self, chunk: usize) -> bool {
        self.populated[chunk / 64].load(Ordering::Relaxed) & (1 << (chunk % 64)) != 0
    }
}
