"""Blob bytes over Arrow Flight for remote clients.

- `send_objects`: the blobs and metadata trees of one put in one `do_put` (a JSON command
  `{"kind": "objects", ...}` for the descriptor, then the bytes as chunks: rows of
  `blob: uint32, offset: uint64, data: binary`), stored all or nothing by the instance; the
  ids it gave, by provisional id.
- `fetch_blobs`: blobs' bytes with `do_get` (`blob:<id>?chunk=N` tickets), several blobs at
  once (by `PARALLEL` threads started once per process, anew in a forked child): a blob that
  arrives in one message is held as received (`RemoteBlob.from_buffer`), a larger one is
  copied chunk by chunk into the `RemoteBlob` that holds it.

The instance's side is `put_objects` and `objects::read_blob` of vineyard-flight-server.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from vineyard._native import ObjectID, RemoteBlob, RemoteBlobBuilder
from vineyard.core.progress import Progress

__all__ = ["send_objects", "fetch_blobs", "CHUNK", "PARALLEL", "WHOLE"]

# Bytes of a blob per row sent (well under the instance's --rpc_max_message_size).
CHUNK = 4 << 20
# Pieces smaller than this travel several per record batch (copied together).
PACK = 1 << 20
# Blobs fetched at once.
PARALLEL = 4
# A blob up to this size is asked for in one row (`blob:<id>?chunk=N`): it arrives in one
# message and is held as received, with no copy.
WHOLE = 16 << 20


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _fetch_pool() -> ThreadPoolExecutor:
    """The threads that fetch blobs side by side, started once per process (starting
    `PARALLEL` threads for every get cost more than a small table's transfer)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="vineyard-fetch")
        return _pool


def _forget_pool() -> None:
    """A forked child has none of its parent's threads: it starts a pool of its own."""
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _id_text(value: int) -> str:
    return f"o{value:016x}"


def _schema():
    import pyarrow as pa

    return pa.schema(
        [("blob", pa.uint32(), False), ("offset", pa.uint64(), False), ("data", pa.binary(), False)]
    )


def _batch(schema, rows: list[tuple[int, int, Any]]):
    """One record batch of chunks; a single large piece is not copied."""
    import pyarrow as pa

    if len(rows) == 1:
        data = pa.py_buffer(rows[0][2])
        lengths = [len(rows[0][2])]
    else:
        data = pa.py_buffer(b"".join(bytes(piece) for _, _, piece in rows))
        lengths = [len(piece) for _, _, piece in rows]
    ends = [0]
    for length in lengths:
        ends.append(ends[-1] + length)
    offsets = pa.py_buffer(struct.pack(f"<{len(ends)}i", *ends))
    column = pa.Array.from_buffers(pa.binary(), len(rows), [None, offsets, data])
    blobs = pa.array([index for index, _, _ in rows], pa.uint32())
    starts = pa.array([start for _, start, _ in rows], pa.uint64())
    return pa.RecordBatch.from_arrays([blobs, starts, column], schema=schema)


def _batches(schema, blobs: list[memoryview], progress: Progress) -> Iterator[Any]:
    pending: list[tuple[int, int, Any]] = []
    pending_bytes = 0
    for index, view in enumerate(blobs):
        for start in range(0, len(view), CHUNK):
            piece = view[start : start + CHUNK]
            if len(piece) >= PACK:
                yield _batch(schema, [(index, start, piece)])
                progress.add(len(piece))
                continue
            pending.append((index, start, piece))
            pending_bytes += len(piece)
            if pending_bytes >= CHUNK:
                yield _batch(schema, pending)
                progress.add(pending_bytes)
                pending, pending_bytes = [], 0
    if pending:
        yield _batch(schema, pending)
        progress.add(pending_bytes)


def send_objects(
    flight_client: Any,
    options: Any,
    blobs: list[tuple[int, memoryview]],
    objects: list[tuple[int, dict[str, Any]]],
    report: bool | Callable[[int, int], Any],
    where: str,
) -> dict[int, ObjectID]:
    """Stores `blobs` (provisional id, bytes) and `objects` (provisional id, tree; members
    first) in one all-or-nothing `do_put`; the instance's ids by provisional id."""
    import pyarrow.flight as flight

    command = {
        "kind": "objects",
        "blobs": [{"id": _id_text(pid), "size": len(view)} for pid, view in blobs],
        "objects": [{"id": _id_text(pid), "tree": tree} for pid, tree in objects],
    }
    descriptor = flight.FlightDescriptor.for_command(json.dumps(command))
    schema = _schema()
    total = sum(len(view) for _, view in blobs)
    progress = Progress(f"sending to {where}:", total, report)
    writer, reader = flight_client.do_put(descriptor, schema, options)
    try:
        for batch in _batches(schema, [view for _, view in blobs], progress):
            writer.write_batch(batch)
        writer.done_writing()
        reply = reader.read()
    finally:
        writer.close()
        progress.finish()
    if reply is None:
        raise ConnectionError("the instance stored the put but sent no ids back")
    ids = json.loads(reply.to_pybytes())["ids"]
    return {int(ObjectID(provisional)): ObjectID(real) for provisional, real in ids.items()}


def _fetch_one(
    flight_client: Any, options: Any, blob_id: ObjectID, size: int, instance_id: int, progress
) -> RemoteBlob:
    """Blob `blob_id` of `size` bytes: held as received when it comes in one row (asked for
    up to `WHOLE` bytes), else copied chunk by chunk into a builder."""
    import pyarrow.flight as flight

    if not size:
        return RemoteBlob.from_builder(RemoteBlobBuilder(0), blob_id, instance_id)
    # Larger blobs stream in the instance's small chunks: they pipeline, one large message
    # does not.
    whole = f"?chunk={WHOLE}" if size <= WHOLE else ""
    ticket = flight.Ticket(f"blob:{blob_id}{whole}".encode())
    rows = _rows(flight_client.do_get(ticket, options))
    first = next(rows, None)
    if first is not None and len(first) == size:
        progress.add(size)
        if next(rows, None) is not None:
            raise _too_long(blob_id, size)
        return RemoteBlob.from_buffer(first, blob_id, instance_id)
    builder = RemoteBlobBuilder(size)
    received = 0
    for piece in itertools.chain([first] if first is not None else [], rows):
        length = len(piece)
        if received + length > size:
            raise _too_long(blob_id, size)
        builder.copy(received, piece)
        received += length
        progress.add(length)
    if received != size:
        raise ValueError(f"blob {blob_id} sent {received} of its {size} bytes")
    return RemoteBlob.from_builder(builder, blob_id, instance_id)


def _too_long(blob_id: ObjectID, size: int) -> ValueError:
    return ValueError(f"blob {blob_id} sent more than its {size} bytes: it changed meanwhile?")


def _rows(reader: Any) -> Iterator[Any]:
    """The rows of a blob stream (one binary column), as buffers over the received messages."""
    for chunk in reader:
        column = chunk.data.column(0)
        _, offsets, data = column.buffers()
        rows = len(column)
        ends = struct.unpack_from(f"<{rows + 1}i", offsets, 4 * column.offset)
        for row in range(rows):
            yield data.slice(ends[row], ends[row + 1] - ends[row])


def fetch_blobs(
    flight_client: Any,
    options: Any,
    wanted: list[tuple[ObjectID, int]],
    instance_id: int,
    report: bool | Callable[[int, int], Any],
    where: str,
) -> list[RemoteBlob]:
    """The blobs `wanted` (id, size) of the instance behind `flight_client`, in order."""
    progress = Progress(f"receiving from {where}:", sum(size for _, size in wanted), report)
    try:
        if len(wanted) <= 1:
            return [
                _fetch_one(flight_client, options, blob_id, size, instance_id, progress)
                for blob_id, size in wanted
            ]
        pool = _fetch_pool()
        futures = [
            pool.submit(_fetch_one, flight_client, options, blob_id, size, instance_id, progress)
            for blob_id, size in wanted
        ]
        try:
            return [future.result() for future in futures]
        finally:
            # On an error, the fetches not yet started are dropped and the running ones end
            # before the call returns, as when each call had a pool of its own.
            for future in futures:
                future.cancel()
            wait(futures)
    finally:
        progress.finish()
