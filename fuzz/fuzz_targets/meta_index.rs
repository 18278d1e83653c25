//! The client's metadata-index reader over arbitrary index memory: every byte of the index is
//! untrusted (a damaged or hostile file, a read torn by the server's writes). Opening and
//! reading must return (`None` or an error is fine), never panic, read out of bounds or
//! allocate without bound; what it returns must be self-consistent.
//!
//! The input: one byte of options (bit 0: keep the input's own header, else write a valid
//! one; bits 1-3: log2 of the slot count; bit 4: file each slot's id so that it hashes to
//! that slot, which real indexes do and random bytes almost never), two bytes of heap length,
//! then the bytes of the header (if kept), slots and heap.

#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use vineyard_core::meta_index::{slot_of, IndexView, HEADER_LEN, MAGIC, MAX_ENTRY_LEN, SLOT_LEN};

/// An id that hashes to `slot` among `slot_count` slots, found from `seed` (one in
/// `slot_count` ids does).
fn id_in_slot(seed: u64, slot: usize, slot_count: usize) -> u64 {
    (0..64 * slot_count as u64)
        .map(|step| seed.wrapping_add(step.wrapping_mul(0x9E37_79B9)))
        .find(|&id| slot_of(id, slot_count) == slot)
        .unwrap_or(seed)
}

/// An anonymous file in memory (no disk: a full disk must not look like a finding).
fn memory_file() -> std::fs::File {
    use std::os::fd::FromRawFd;
    // SAFETY: a NUL-terminated name; the fd returned is checked and then owned by the File.
    unsafe {
        let fd = libc::memfd_create(c"fuzz-index".as_ptr(), libc::MFD_CLOEXEC);
        assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
        std::fs::File::from_raw_fd(fd)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&[options, heap_low, heap_high], rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let slot_count = 1usize << (1 + (options >> 1) % 8);
    let heap_len = u16::from_le_bytes([heap_low, heap_high]) as usize;
    let mut bytes = Vec::new();
    let body = if options & 1 == 1 {
        rest
    } else {
        let mut header = [0u8; HEADER_LEN];
        header[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        header[8..12].copy_from_slice(&(slot_count as u32).to_le_bytes());
        header[12..16].copy_from_slice(&(heap_len as u32).to_le_bytes());
        header[24..32].copy_from_slice(&(1u64 << 20).to_le_bytes());
        bytes.extend_from_slice(&header);
        rest
    };
    bytes.extend_from_slice(body);
    let slots_end = HEADER_LEN + slot_count * SLOT_LEN;
    if options & 0x10 != 0 && bytes.len() >= slots_end {
        for slot in 0..slot_count {
            let at = HEADER_LEN + slot * SLOT_LEN + 8;
            let seed = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
            let id = id_in_slot(seed, slot, slot_count);
            bytes[at..at + 8].copy_from_slice(&id.to_le_bytes());
        }
    }
    let mut file = memory_file();
    file.write_all(&bytes).expect("written to memory");
    let Ok(view) = IndexView::open(&file) else {
        return;
    };
    let (_, map_size) = view.store();
    let _ = map_size;
    // Every id the slots name, and the ids at the start of the input.
    let mut ids: Vec<u64> = (0..slot_count)
        .filter_map(|slot| {
            let at = HEADER_LEN + slot * SLOT_LEN + 8;
            bytes
                .get(at..at + 8)
                .map(|word| u64::from_le_bytes(word.try_into().unwrap()))
        })
        .collect();
    ids.extend(
        rest.chunks_exact(8)
            .take(8)
            .map(|word| u64::from_le_bytes(word.try_into().unwrap())),
    );
    for id in ids {
        let Some(snapshot) = view.read(id) else {
            continue;
        };
        assert!(snapshot.tree.len() + snapshot.blobs.len() * 24 <= MAX_ENTRY_LEN);
        let _ = serde_json::from_slice::<serde_json::Value>(&snapshot.tree);
        assert!(view.unchanged(snapshot.version));
    }
});
