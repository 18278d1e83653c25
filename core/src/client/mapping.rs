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

/// Populations of at least this many bytes are split over several threads: mapping pages in
/// costs about as much as copying into them, and one core does it at a fraction of what the
/// machine can.
const PARALLEL_POPULATE: usize = 32 << 20;

/// Most threads one population uses.
const POPULATE_THREADS: usize = 4;

/// Faults in the ranges `(mapping, offset, size)` of writable mappings for writing, all
/// together: spread over threads when they add up to a large range.
pub fn populate_for_writes<'a>(ranges: impl IntoIterator<Item = (&'a Mapping, usize, usize)>) {
    let runs = ranges
        .into_iter()
        .flat_map(|(mapping, offset, size)| mapping.unpopulated_runs(offset, size))
        .collect();
    populate_runs(runs);
}

/// Faults in the `(address, length)` runs of a writable mapping, spread over threads when
/// they add up to a large range.
fn populate_runs(runs: Vec<(usize, usize)>) {
    let total: usize = runs.iter().map(|(_, length)| length).sum();
    let threads = if total < PARALLEL_POPULATE {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(POPULATE_THREADS)
    };
    if threads < 2 {
        for (address, length) in runs {
            crate::sys::populate_write(address as *mut u8, length);
        }
        return;
    }
    // Whole chunks per piece, about `total / threads` bytes per thread.
    let share = total.div_ceil(threads).next_multiple_of(POPULATE_CHUNK);
    let mut pieces = Vec::new();
    for (address, length) in runs {
        let mut done = 0;
        while done < length {
            let take = share.min(length - done);
            pieces.push((address + done, take));
            done += take;
        }
    }
    std::thread::scope(|scope| {
        let mut pieces = pieces.into_iter();
        let first = pieces.next();
        for (address, length) in pieces {
            scope.spawn(move || crate::sys::populate_write(address as *mut u8, length));
        }
        if let Some((address, length)) = first {
            crate::sys::populate_write(address as *mut u8, length);
        }
    });
}

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
        populate_runs(self.unpopulated_runs(offset, size));
    }

    /// The runs of `[offset, offset + size)` not populated yet, as `(address, length)`;
    /// marked populated (the caller populates them).
    fn unpopulated_runs(&self, offset: usize, size: usize) -> Vec<(usize, usize)> {
        let mut runs = Vec::new();
        if size == 0 {
            return runs;
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
            runs.push((self.address_mut(start) as usize, end - start));
        }
        for done in first..=last {
            self.populated[done / 64].fetch_or(1 << (done % 64), Ordering::Relaxed);
        }
        runs
    }

    fn is_populated(&self, chunk: usize) -> bool {
        self.populated[chunk / 64].load(Ordering::Relaxed) & (1 << (chunk % 64)) != 0
    }
}
