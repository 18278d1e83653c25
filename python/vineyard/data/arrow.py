"""pyarrow arrays, chunked arrays, schemas, record batches and tables, through Rust.

Both directions cross the Arrow C Data Interface (the PyCapsule protocol): `put` hands the
value to the native module, which checks it and writes it with `vineyard-builders` (every
buffer copied once, spread over threads; buffers that are blobs from `get` are reused), as one
put that leaves the store as it was if it fails. `get` of an object of these layouts is
resolved by `vineyard-resolvers` over the whole tree in one native call; pyarrow (or polars,
DuckDB, ...) imports the result without a copy, its buffers in the shared memory.

The layouts (typenames, member and field names) are `vineyard-layout`'s: see
`vineyard.data.layout` and `vineyard-builders`. Any value exporting `__arrow_c_array__` or
`__arrow_c_stream__` can be put with the builders here (`put_arrow`).
"""

from __future__ import annotations

from typing import Any

from vineyard._native import Blob
from vineyard.core.meta import ObjectMeta
from vineyard.core.resolver import resolve_natively
from vineyard.data.utils import build_buffer

__all__ = [
    "buffer_builder",
    "as_arrow_buffer",
    "put_arrow",
    "array_builder",
    "chunked_array_builder",
    "schema_proxy_builder",
    "record_batch_builder",
    "table_builder",
    "native_resolver",
    "to_pyarrow",
]


def buffer_builder(client: Any, buffer: Any, builder: Any = None, **_kw: Any) -> ObjectMeta:
    """A blob holding an Arrow buffer (None: the empty blob); reuses blobs already in vineyard."""
    return build_buffer(client, buffer)


def as_arrow_buffer(blob: Any) -> Any:
    """A zero-copy `pyarrow.Buffer` over a blob (an empty buffer for the empty blob)."""
    import pyarrow as pa

    if isinstance(blob, Blob) and (blob.is_empty or blob.size == 0):
        return pa.py_buffer(b"")
    return pa.py_buffer(memoryview(blob))


def put_arrow(client: Any, value: Any, kind: str, builder: Any = None) -> ObjectMeta:
    """Puts a value exporting the Arrow PyCapsule protocol as `kind` (`array`,
    `record_batch`, `table`, `chunked_array` or `schema`); returns the created tree. A remote
    client (no shared memory for Rust to write) writes it in Python (`arrow_remote`)."""
    native = client._native
    if not hasattr(native, "put_arrow"):
        from vineyard.data.arrow_remote import put_remote

        return put_remote(client, value, kind, builder)
    tree = native.put_arrow(value, kind)
    return ObjectMeta.from_tree(tree, client.instance_id)


def array_builder(client: Any, value: Any, builder: Any = None, **_kw: Any) -> ObjectMeta:
    """Any Arrow array (`__arrow_c_array__`)."""
    return put_arrow(client, value, "array", builder)


def chunked_array_builder(client: Any, value: Any, builder: Any = None, **_kw: Any) -> ObjectMeta:
    """A chunked array (`__arrow_c_stream__` of arrays) as `vineyard::ChunkedArray`."""
    return put_arrow(client, value, "chunked_array", builder)


def schema_proxy_builder(client: Any, value: Any, builder: Any = None, **_kw: Any) -> ObjectMeta:
    """A schema (`__arrow_c_schema__`) as `vineyard::SchemaProxy`."""
    return put_arrow(client, value, "schema", builder)


def record_batch_builder(client: Any, value: Any, builder: Any = None, **_kw: Any) -> ObjectMeta:
    """A record batch (`__arrow_c_array__` of a struct) as `vineyard::RecordBatch`."""
    return put_arrow(client, value, "record_batch", builder)


def table_builder(client: Any, value: Any, builder: Any = None, **_kw: Any) -> ObjectMeta:
    """A table, or any stream of record batches (`__arrow_c_stream__`), as `vineyard::Table`."""
    return put_arrow(client, value, "table", builder)


def to_pyarrow(kind: str, value: Any) -> Any:
    """The pyarrow value of a natively resolved one (`kind` as `get_value` says), no copy;
    without pyarrow, the native value itself (it exports the Arrow PyCapsule protocol)."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is not installed
        return value

    # Streams are imported as streams: `pa.table(value)` would first ask whether the value
    # is a pandas DataFrame, importing pandas (hundreds of ms) in a process that only reads.
    if kind == "array":
        return pa.array(value)
    if kind == "table":
        return pa.RecordBatchReader.from_stream(value).read_all()
    if kind == "record_batch":
        return pa.record_batch(value)
    if kind == "chunked_array":
        return pa.RecordBatchReader.from_stream(value).read_all().column(0)
    if kind == "schema":
        return pa.schema(value)
    raise ValueError(f"no pyarrow value for a native {kind!r}")


def native_resolver(obj: Any, resolver: Any = None) -> Any:
    """Resolves an object of an Arrow layout through `vineyard-resolvers` (when `get` reaches
    it as an `Object`: a member of a tuple or dict, or `get(..., resolver=...)`)."""
    client = getattr(obj, "_client", None)
    if client is not None and not hasattr(client, "_fetch_value"):
        from vineyard.data.arrow_remote import resolve_remote

        return resolve_remote(obj, resolver)
    return resolve_natively(obj, resolver)
