"""Whether memory lies in the store's shared memory (the memfd mappings of this process): how
the tests check that values from `get` are views, not copies."""

from __future__ import annotations

import pyarrow as pa


def memfd_ranges() -> list[tuple[int, int]]:
    """Address ranges of this process's memfd mappings (the vineyard arenas)."""
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith("/memfd:"):
                start, end = (int(part, 16) for part in fields[0].split("-"))
                ranges.append((start, end))
    return ranges


def in_shared_memory(address: int, size: int) -> bool:
    """True if the `size` bytes at `address` lie in the store's shared memory."""
    return any(start <= address and address + size <= end for start, end in memfd_ranges())


def data_buffers_shared(array: pa.Array | pa.ChunkedArray) -> bool:
    """True if every non-empty buffer of the array (and its children) is in shared memory."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    buffers = [buffer for chunk in chunks for buffer in chunk.buffers() if buffer is not None]
    return all(in_shared_memory(b.address, b.size) for b in buffers if b.size > 0)
