//! A client's mapping of one shared-memory file (read-only for readers, writable for writers).

use std::fs::File;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{Error, Result};

/// One mapping of a server's memory file, shared by every blob in it.
pub struct Mapping {
    raw: MmapRaw,
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
        Ok(Mapping { raw })
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
    pub fn populate_for_write(&self, offset: usize, size: usize) {
        crate::sys::populate_write(self.address_mut(offset), size);
    }
}
