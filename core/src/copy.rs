//! Copying into the store: large copies are split across threads.
//!
//! One core cannot saturate the memory bandwidth of a machine; a put of hundreds of MiB copies
//! faster with several (measured on a 2-core VM: 256 MiB in ~23 ms with one thread).

/// Copies of at least this many bytes use several threads.
const PARALLEL_COPY: usize = 8 << 20;

/// Most threads one copy uses.
const COPY_THREADS: usize = 4;

/// Copies `from` into `to` (equal lengths), in parallel when large.
pub fn copy_bytes(to: &mut [u8], from: &[u8]) {
    assert_eq!(to.len(), from.len(), "copy_bytes needs equal lengths");
    let threads = if to.len() < PARALLEL_COPY {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(COPY_THREADS)
    };
    if threads < 2 {
        to.copy_from_slice(from);
        return;
    }
    // Parts start on 4 KiB boundaries of the destination, so no two threads share a page.
    let part = to.len().div_ceil(threads).next_multiple_of(4096);
    std::thread::scope(|scope| {
        let mut parts = to.chunks_mut(part).zip(from.chunks(part));
        let first = parts.next();
        for (to, from) in parts {
            scope.spawn(move || to.copy_from_slice(from));
        }
        if let Some((to, from)) = first {
            to.copy_from_slice(from);
        }
    });
}

/// Copies each `(to, from)` pair (equal lengths), spreading the bytes of all of them over
/// several threads when they add up to a large copy: many buffers of a few MiB (the columns of
/// a table) copy as fast as one large one.
pub fn copy_all(pairs: Vec<(&mut [u8], &[u8])>) {
    let total: usize = pairs.iter().map(|(to, _)| to.len()).sum();
    let threads = if total < PARALLEL_COPY {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(COPY_THREADS)
    };
    if threads < 2 {
        for (to, from) in pairs {
            to.copy_from_slice(from);
        }
        return;
    }
    // Each thread gets pieces adding up to `share` bytes (the last one the rest): a buffer is
    // cut only where a thread's share ends, so threads meet on at most one page each.
    let share = total.div_ceil(threads).next_multiple_of(4096);
    let mut work: Vec<Vec<(&mut [u8], &[u8])>> = (0..threads).map(|_| Vec::new()).collect();
    let (mut thread, mut filled) = (0, 0);
    for (mut to, mut from) in pairs {
        assert_eq!(to.len(), from.len(), "copy_all needs equal lengths");
        while !to.is_empty() {
            let take = if thread + 1 == threads {
                to.len()
            } else {
                (share - filled).min(to.len())
            };
            let (head, tail) = to.split_at_mut(take);
            let (head_from, tail_from) = from.split_at(take);
            work[thread].push((head, head_from));
            (to, from) = (tail, tail_from);
            filled += take;
            if filled >= share && thread + 1 < threads {
                (thread, filled) = (thread + 1, 0);
            }
        }
    }
    let mut work = work.into_iter();
    let first = work.next().unwrap_or_default();
    std::thread::scope(|scope| {
        for pieces in work {
            scope.spawn(move || {
                for (to, from) in pieces {
                    to.copy_from_slice(from);
                }
            });
        }
        for (to, from) in first {
            to.copy_from_slice(from);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_byte_at_every_size() {
        for size in [
            0,
            1,
            4095,
            PARALLEL_COPY - 1,
            PARALLEL_COPY,
            PARALLEL_COPY * 3 + 17,
        ] {
            let from: Vec<u8> = (0..size).map(|index| (index * 7 + 3) as u8).collect();
            let mut to = vec![0u8; size];
            copy_bytes(&mut to, &from);
            assert!(to == from, "size {size}");
        }
    }

    #[test]
    fn copy_all_copies_every_byte_of_every_pair() {
        for sizes in [
            vec![],
            vec![0, 5, 4096],
            vec![PARALLEL_COPY / 3; 7],
            vec![1, PARALLEL_COPY * 2 + 3, 4095, 17],
        ] {
            let froms: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(n, &size)| (0..size).map(|i| (i * 7 + n) as u8).collect())
                .collect();
            let mut tos: Vec<Vec<u8>> = sizes.iter().map(|&size| vec![0u8; size]).collect();
            let pairs = tos
                .iter_mut()
                .zip(&froms)
                .map(|(to, from)| (to.as_mut_slice(), from.as_slice()))
                .collect();
            copy_all(pairs);
            assert!(tos == froms, "sizes {sizes:?}");
        }
    }
}
