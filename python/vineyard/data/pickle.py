"""Values as a stream of bytes and back (Vineyard's `vineyard.data.pickle` names): pickle
protocol 5 with the large buffers (numpy arrays, ...) kept out of band, read in blocks of any
size without joining them first.

    >>> reader = PickledReader(value)
    >>> blocks = iter(lambda: reader.read(1 << 20), b"")       # reader.store_size bytes in all
    >>> writer = PickledWriter(reader.store_size)
    >>> for block in blocks: writer.write(block)
    >>> writer.close(); writer.value                            # equal to value

The bytes: a header of two little-endian u64s (the number of out-of-band buffers, the length
of the pickle), the pickle, then each buffer as a u64 length and its bytes. Bytes-like values
(bytes, bytearray, memoryview, which pickle cannot always take) are not pickled: the header's
first u64 is `RAW`, and the bytes follow; they come back as bytes.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

__all__ = ["PickledReader", "PickledWriter"]

_U64 = struct.Struct("<Q")
# The header's first u64 when the value is raw bytes, not a pickle.
RAW = 2**64 - 1


class PickledReader:
    """The bytes of `value`, read in blocks."""

    def __init__(self, value: Any) -> None:
        self._value = value
        if isinstance(value, (bytes, bytearray, memoryview)):
            raw = memoryview(value).cast("B")
            parts = [memoryview(_U64.pack(RAW) + _U64.pack(raw.nbytes)), raw]
        else:
            buffers: list[pickle.PickleBuffer] = []
            main = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
            parts = [
                memoryview(_U64.pack(len(buffers)) + _U64.pack(len(main))),
                memoryview(main),
            ]
            for buffer in buffers:
                raw = buffer.raw()
                parts.append(memoryview(_U64.pack(raw.nbytes)))
                parts.append(raw)
        self._parts = [part for part in parts if part.nbytes]
        self._store_size = sum(part.nbytes for part in self._parts)
        self._part = 0
        self._offset = 0

    @property
    def value(self) -> Any:
        return self._value

    @property
    def store_size(self) -> int:
        """Bytes in all."""
        return self._store_size

    def read(self, block_size: int) -> bytes:
        """The next `block_size` bytes (fewer at the end; `b""` once all were read)."""
        if block_size <= 0:
            raise ValueError(f"block_size must be positive, got {block_size}")
        pieces = []
        wanted = block_size
        while wanted and self._part < len(self._parts):
            part = self._parts[self._part]
            piece = part[self._offset : self._offset + wanted]
            pieces.append(piece)
            wanted -= piece.nbytes
            self._offset += piece.nbytes
            if self._offset == part.nbytes:
                self._part += 1
                self._offset = 0
        return b"".join(pieces)


class PickledWriter:
    """Takes the bytes a `PickledReader` produced, block after block; `value` is the value
    once `close()` has been called (None before)."""

    def __init__(self, store_size: int = -1) -> None:
        self._buffer = bytearray(store_size) if store_size > 0 else bytearray()
        self._fixed = store_size > 0
        self._written = 0
        self._value: Any = None

    @property
    def value(self) -> Any:
        return self._value

    def write(self, block: bytes | bytearray | memoryview) -> None:
        view = memoryview(block).cast("B")
        end = self._written + view.nbytes
        if self._fixed:
            if end > len(self._buffer):
                raise ValueError(
                    f"{end} bytes written, more than the {len(self._buffer)} announced"
                )
            self._buffer[self._written : end] = view
        else:
            self._buffer += view
        self._written = end

    def close(self) -> None:
        """Rebuilds the value from the bytes written."""
        data = memoryview(self._buffer)[: self._written]
        if data.nbytes < 2 * _U64.size:
            raise ValueError(f"only {data.nbytes} bytes were written: not a pickled value")
        (count,) = _U64.unpack_from(data, 0)
        (length,) = _U64.unpack_from(data, _U64.size)
        offset = 2 * _U64.size
        if count == RAW:
            if offset + length != data.nbytes:
                raise ValueError(
                    f"{data.nbytes} bytes were written, the value takes {offset + length}"
                )
            self._value = bytes(data[offset:])
            return
        main = data[offset : offset + length]
        offset += length
        buffers = []
        for _ in range(count):
            (size,) = _U64.unpack_from(data, offset)
            offset += _U64.size
            buffers.append(data[offset : offset + size])
            offset += size
        if offset != data.nbytes:
            raise ValueError(f"{data.nbytes} bytes were written, the value takes {offset}")
        self._value = pickle.loads(main, buffers=buffers)
