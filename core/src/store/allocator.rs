//! An offset allocator over one arena: 64-byte aligned ranges (large ones on page boundaries),
//! best fit, free ranges coalesce.

use std::collections::{BTreeMap, BTreeSet};

/// Every allocation starts on this boundary (a cache line, and enough for any SIMD type).
pub const ALIGNMENT: u64 = 64;

/// Allocations of at least this many bytes start on a [`PAGE`] boundary when a free range has
/// room for that.
///
/// A large copy into the store is one `memcpy` per copy thread, and glibc copies that large
/// with non-temporal stores, which crawl when the destination lies a little ahead of the
/// source within a page (measured on this project's 2-core VM, 512 MiB from a numpy array:
/// 30 ms at most offsets, 100-140 ms when the destination is 16-256 bytes past the source
/// modulo 4 KiB). Sources of large values start just past a page boundary (numpy's and
/// Python's large buffers: 16 and 48 bytes), so a destination on a page boundary lies just
/// *behind* them: the fast case. A 64-byte aligned one after any small blob was the slow case,
/// and made 1 GiB numpy puts 3x slower.
pub const PAGE_ALIGNED_FROM: u64 = 1 << 20;

/// The boundary of large allocations.
pub const PAGE: u64 = 4096;

/// How many best-fit candidates a large allocation tries for a page-aligned start before it
/// takes the best fit as it is.
const ALIGNED_CANDIDATES: usize = 16;

/// Hands out byte ranges of a fixed-size arena.
#[derive(Debug)]
pub struct OffsetAllocator {
    capacity: u64,
    /// Free ranges by start offset → length.
    free_by_offset: BTreeMap<u64, u64>,
    /// Free ranges by (length, start offset), for best-fit lookup.
    free_by_size: BTreeSet<(u64, u64)>,
    free_bytes: u64,
}

impl OffsetAllocator {
    /// An allocator for `capacity` bytes (rounded down to the alignment), all free.
    pub fn new(capacity: u64) -> OffsetAllocator {
        let capacity = capacity / ALIGNMENT * ALIGNMENT;
        let mut allocator = OffsetAllocator {
            capacity,
            free_by_offset: BTreeMap::new(),
            free_by_size: BTreeSet::new(),
            free_bytes: 0,
        };
        if capacity > 0 {
            allocator.insert_free(0, capacity);
        }
        allocator
    }

    /// Total bytes managed.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Bytes not allocated (possibly fragmented).
    pub fn free_bytes(&self) -> u64 {
        self.free_bytes
    }

    /// The longest free range: the most one allocation could get now.
    pub fn largest_free_range(&self) -> u64 {
        self.free_by_size.last().map_or(0, |&(length, _)| length)
    }

    /// The length actually reserved for a request of `size` bytes.
    pub fn reserved_size(size: u64) -> u64 {
        size.max(1).div_ceil(ALIGNMENT) * ALIGNMENT
    }

    /// Reserves `size` bytes; returns the offset, or `None` if no free range is large enough.
    ///
    /// Best fit, lowest offset among equals: small holes get reused and recently freed (already
    /// faulted-in) memory is preferred over untouched pages.
    pub fn allocate(&mut self, size: u64) -> Option<u64> {
        // Also keeps `reserved_size` from overflowing (to 0) for sizes near u64::MAX.
        if size > self.capacity {
            return None;
        }
        let needed = Self::reserved_size(size);
        if needed >= PAGE_ALIGNED_FROM {
            if let Some(offset) = self.allocate_page_aligned(needed) {
                return Some(offset);
            }
        }
        let &(length, offset) = self.free_by_size.range((needed, 0)..).next()?;
        self.take(offset, length, offset, needed);
        Some(offset)
    }

    /// The best fit among the first [`ALIGNED_CANDIDATES`] free ranges that hold `needed`
    /// bytes from a page boundary; the bytes before that boundary stay free.
    fn allocate_page_aligned(&mut self, needed: u64) -> Option<u64> {
        let (length, offset, start) = self
            .free_by_size
            .range((needed, 0)..)
            .take(ALIGNED_CANDIDATES)
            .map(|&(length, offset)| (length, offset, offset.next_multiple_of(PAGE)))
            .find(|&(length, offset, start)| start + needed <= offset + length)?;
        self.take(offset, length, start, needed);
        Some(start)
    }

    /// Allocates `[start, start + needed)` out of the free range `[offset, offset + length)`,
    /// which holds it; what is left on either side stays free.
    fn take(&mut self, offset: u64, length: u64, start: u64, needed: u64) {
        self.remove_free(offset, length);
        if start > offset {
            self.insert_free(offset, start - offset);
        }
        let end = offset + length;
        if end > start + needed {
            self.insert_free(start + needed, end - start - needed);
        }
    }

    /// Returns the range `[offset, offset + reserved_size(size))`, merging it with free
    /// neighbours.
    pub fn free(&mut self, offset: u64, size: u64) {
        let mut start = offset;
        let mut length = Self::reserved_size(size);
        debug_assert!(start + length <= self.capacity);
        if let Some((&before, &before_length)) = self.free_by_offset.range(..start).next_back() {
            debug_assert!(before + before_length <= start, "double free at {start}");
            if before + before_length == start {
                self.remove_free(before, before_length);
                start = before;
                length += before_length;
            }
        }
        let end = start + length;
        if let Some(&after_length) = self.free_by_offset.get(&end) {
            self.remove_free(end, after_length);
            length += after_length;
        }
        self.insert_free(start, length);
    }

    fn insert_free(&mut self, offset: u64, length: u64) {
        self.free_by_offset.insert(offset, length);
        self.free_by_size.insert((length, offset));
        self.free_bytes += length;
    }

    fn remove_free(&mut self, offset: u64, length: u64) {
        self.free_by_offset.remove(&offset);
        self.free_by_size.remove(&(length, offset));
        self.free_bytes -= length;
    }

    /// The free ranges, as (offset, length), lowest offset first.
    pub fn free_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.free_by_offset
            .iter()
            .map(|(&offset, &length)| (offset, length))
    }

    /// The number of separate free ranges (1 when nothing is fragmented).
    pub fn free_range_count(&self) -> usize {
        self.free_by_offset.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn aligns_and_coalesces() {
        let mut allocator = OffsetAllocator::new(1024);
        let a = allocator.allocate(1).unwrap();
        let b = allocator.allocate(100).unwrap();
        let c = allocator.allocate(64).unwrap();
        assert_eq!((a, b, c), (0, 64, 192));
        assert_eq!(allocator.free_bytes(), 1024 - 256);
        allocator.free(b, 100);
        assert_eq!(allocator.free_range_count(), 2);
        allocator.free(a, 1);
        allocator.free(c, 64);
        assert_eq!(allocator.free_range_count(), 1);
        assert_eq!(allocator.free_bytes(), 1024);
        assert_eq!(allocator.allocate(1024), Some(0));
        assert_eq!(allocator.allocate(1), None);
    }

    #[test]
    fn best_fit_reuses_the_smallest_hole() {
        let mut allocator = OffsetAllocator::new(4096);
        let small = allocator.allocate(64).unwrap();
        let _keep = allocator.allocate(64).unwrap();
        let big = allocator.allocate(1024).unwrap();
        let _keep2 = allocator.allocate(64).unwrap();
        allocator.free(big, 1024);
        allocator.free(small, 64);
        assert_eq!(allocator.allocate(60), Some(small));
        assert_eq!(allocator.allocate(1000), Some(big));
    }

    #[test]
    fn a_fragmented_arena_reports_its_largest_free_range() {
        let mut allocator = OffsetAllocator::new(1024);
        let blocks: Vec<u64> = (0..8).map(|_| allocator.allocate(128).unwrap()).collect();
        for &offset in blocks.iter().step_by(2) {
            allocator.free(offset, 128);
        }
        assert_eq!(allocator.free_bytes(), 512);
        assert_eq!(allocator.largest_free_range(), 128);
        assert_eq!(
            allocator.allocate(256),
            None,
            "half is free, but in pieces of 128"
        );
        allocator.free(blocks[1], 128);
        assert_eq!(allocator.largest_free_range(), 384);
    }

    #[test]
    fn large_allocations_start_on_a_page_after_small_ones() {
        let mut allocator = OffsetAllocator::new(8 * PAGE_ALIGNED_FROM);
        let small = allocator.allocate(8).unwrap();
        let large = allocator.allocate(PAGE_ALIGNED_FROM).unwrap();
        assert_eq!(
            large % PAGE,
            0,
            "a 1 MiB blob after a small one starts at {large}"
        );
        assert_eq!(large, PAGE);
        // The bytes skipped before the page stay free for small blobs.
        assert_eq!(allocator.allocate(64), Some(small + ALIGNMENT));
        let second = allocator.allocate(PAGE_ALIGNED_FROM + 100).unwrap();
        assert_eq!(second % PAGE, 0);
        allocator.free(large, PAGE_ALIGNED_FROM);
        allocator.free(second, PAGE_ALIGNED_FROM + 100);
        allocator.free(small, 8);
        allocator.free(small + ALIGNMENT, 64);
        assert_eq!(allocator.free_range_count(), 1);
        assert_eq!(allocator.free_bytes(), 8 * PAGE_ALIGNED_FROM);
    }

    #[test]
    fn a_large_allocation_that_fits_only_unaligned_still_succeeds() {
        let mut allocator = OffsetAllocator::new(PAGE_ALIGNED_FROM + ALIGNMENT);
        let small = allocator.allocate(1).unwrap();
        assert_eq!(
            allocator.allocate(PAGE_ALIGNED_FROM),
            Some(small + ALIGNMENT)
        );
    }

    proptest! {
        #[test]
        fn never_overlaps_and_frees_everything(
            ops in proptest::collection::vec(
                (prop_oneof![1u64..5000, PAGE_ALIGNED_FROM..3 * PAGE_ALIGNED_FROM], any::<bool>()),
                1..200,
            )
        ) {
            let mut allocator = OffsetAllocator::new(16 * PAGE_ALIGNED_FROM);
            let mut live: Vec<(u64, u64)> = Vec::new();
            for (size, release) in ops {
                if release && !live.is_empty() {
                    let (offset, size) = live.swap_remove(size as usize % live.len());
                    allocator.free(offset, size);
                } else if let Some(offset) = allocator.allocate(size) {
                    prop_assert_eq!(offset % ALIGNMENT, 0);
                    for &(other, other_size) in &live {
                        let end = offset + OffsetAllocator::reserved_size(size);
                        let other_end = other + OffsetAllocator::reserved_size(other_size);
                        prop_assert!(end <= other || other_end <= offset);
                    }
                    live.push((offset, size));
                }
            }
            for (offset, size) in live {
                allocator.free(offset, size);
            }
            prop_assert_eq!(allocator.free_bytes(), 16 * PAGE_ALIGNED_FROM);
            prop_assert_eq!(allocator.free_range_count(), 1);
        }
    }
}
