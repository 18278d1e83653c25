"""pyarrow arrays, chunked arrays, schemas, record batches and tables.

Layouts (Vineyard's typenames and member names; every array has `length_`, `null_count_`,
`offset_` and the `null_bitmap_` blob, empty when there are no nulls):
- `vineyard::NumericArray<T>` (T: pyarrow's name, `int64`, `double`, `halffloat`, ...) and
  `vineyard::BooleanArray`: the `buffer_` blob;
- `vineyard::BaseBinaryArray<arrow::StringArray>` (and `LargeStringArray`, `BinaryArray`,
  `LargeBinaryArray`): `buffer_offsets_` and `buffer_data_`, offsets kept at their width;
- `vineyard::FixedSizeBinaryArray`: `buffer_`, `byte_width_`;
- `vineyard::ListArray` / `vineyard::LargeListArray`: `buffer_offsets_` and `values_`;
- `vineyard::StructArray`: `__children_-size`, `__children_-i`;
- `vineyard::DictionaryArray`: `indices_`, `dictionary_`; `vineyard::NullArray`: `length_`;
- `vineyard::ChunkedArray`: `__chunks_-size`, `__chunks_-i`;
- `vineyard::SchemaProxy`: `schema_binary_`; `vineyard::RecordBatch`: `schema_`, `row_num_`,
  `column_num_`, `__columns_-i`; `vineyard::Table`: `schema_`, `num_rows_`, `num_columns_`,
  `batch_num_`, `partitions_-i` (record batches).

Where the typename does not say the exact Arrow type (timestamps, list item fields, structs,
dictionaries, decimals), `arrow_type_` holds it (base64 of a one-field Arrow IPC schema).
Buffers from `get` are zero-copy views over the shared memory, and putting them again reuses
their blobs.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pyarrow as pa

from vineyard._native import Blob
from vineyard.core.meta import ObjectMeta
from vineyard.data.utils import build_buffer, normalize_arrow_dtype

__all__ = [
    "buffer_builder",
    "as_arrow_buffer",
    "numeric_array_builder",
    "boolean_array_builder",
    "binary_array_builder",
    "fixed_size_binary_array_builder",
    "list_array_builder",
    "struct_array_builder",
    "dictionary_array_builder",
    "null_array_builder",
    "chunked_array_builder",
    "schema_proxy_builder",
    "record_batch_builder",
    "table_builder",
    "numeric_array_resolver",
    "boolean_array_resolver",
    "binary_array_resolver",
    "fixed_size_binary_array_resolver",
    "list_array_resolver",
    "struct_array_resolver",
    "dictionary_array_resolver",
    "null_array_resolver",
    "chunked_array_resolver",
    "schema_proxy_resolver",
    "record_batch_resolver",
    "table_resolver",
]


def buffer_builder(
    client: Any, buffer: pa.Buffer | None, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    """A blob holding an Arrow buffer (None: the empty blob); reuses blobs already in vineyard."""
    return build_buffer(client, buffer)


def as_arrow_buffer(blob: Any) -> pa.Buffer:
    """A zero-copy `pyarrow.Buffer` over a blob (an empty buffer for the empty blob)."""
    if isinstance(blob, Blob) and (blob.is_empty or blob.size == 0):
        return pa.py_buffer(b"")
    return pa.py_buffer(memoryview(blob))


def _optional_buffer(blob: Any) -> pa.Buffer | None:
    if isinstance(blob, Blob) and (blob.is_empty or blob.size == 0):
        return None
    return as_arrow_buffer(blob)


def _type_to_text(arrow_type: pa.DataType) -> str:
    schema = pa.schema([pa.field("item", arrow_type)])
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def _type_from_text(text: str) -> pa.DataType:
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))
    return schema.field(0).type


def _array_meta(typename: str, array: pa.Array) -> ObjectMeta:
    meta = ObjectMeta()
    meta["typename"] = typename
    meta["length_"] = len(array)
    meta["null_count_"] = array.null_count
    meta["offset_"] = array.offset
    meta["nbytes"] = array.nbytes
    return meta


_PLAIN_NUMERIC = {
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "halffloat", "float", "double",
}  # fmt: skip


def numeric_array_builder(
    client: Any, array: pa.Array, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    meta = _array_meta(f"vineyard::NumericArray<{array.type}>", array)
    if str(array.type) not in _PLAIN_NUMERIC:
        meta["arrow_type_"] = _type_to_text(array.type)
    buffers = array.buffers()
    meta.add_member("buffer_", buffer_builder(client, buffers[1]))
    meta.add_member("null_bitmap_", buffer_builder(client, buffers[0]))
    return client.create_metadata(meta)


def boolean_array_builder(
    client: Any, array: pa.BooleanArray, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    meta = _array_meta("vineyard::BooleanArray", array)
    buffers = array.buffers()
    meta.add_member("buffer_", buffer_builder(client, buffers[1]))
    meta.add_member("null_bitmap_", buffer_builder(client, buffers[0]))
    return client.create_metadata(meta)


_BINARY_TYPENAMES = {
    "string": "vineyard::BaseBinaryArray<arrow::StringArray>",
    "large_string": "vineyard::BaseBinaryArray<arrow::LargeStringArray>",
    "binary": "vineyard::BaseBinaryArray<arrow::BinaryArray>",
    "large_binary": "vineyard::BaseBinaryArray<arrow::LargeBinaryArray>",
}
_BINARY_TYPES = {
    "vineyard::BaseBinaryArray<arrow::StringArray>": pa.string(),
    "vineyard::BaseBinaryArray<arrow::LargeStringArray>": pa.large_string(),
    "vineyard::BaseBinaryArray<arrow::BinaryArray>": pa.binary(),
    "vineyard::BaseBinaryArray<arrow::LargeBinaryArray>": pa.large_binary(),
    "vineyard::LargeStringArray": pa.large_string(),
    "vineyard::LargeBinaryArray": pa.large_binary(),
    "vineyard::StringArray": pa.string(),
    "vineyard::BinaryArray": pa.binary(),
}


def binary_array_builder(
    client: Any, array: pa.Array, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    """string, large_string, binary and large_binary arrays, offsets kept at their width."""
    meta = _array_meta(_BINARY_TYPENAMES[str(array.type)], array)
    buffers = array.buffers()
    meta.add_member("buffer_offsets_", buffer_builder(client, buffers[1]))
    meta.add_member("buffer_data_", buffer_builder(client, buffers[2]))
    meta.add_member("null_bitmap_", buffer_builder(client, buffers[0]))
    return client.create_metadata(meta)


string_array_builder = binary_array_builder


def fixed_size_binary_array_builder(
    client: Any, array: pa.FixedSizeBinaryArray, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    meta = _array_meta("vineyard::FixedSizeBinaryArray", array)
    meta["byte_width_"] = array.type.byte_width
    if array.type != pa.binary(array.type.byte_width):
        meta["arrow_type_"] = _type_to_text(array.type)
    buffers = array.buffers()
    meta.add_member("buffer_", buffer_builder(client, buffers[1]))
    meta.add_member("null_bitmap_", buffer_builder(client, buffers[0]))
    return client.create_metadata(meta)


def list_array_builder(client: Any, array: pa.Array, builder: Any, **_kw: Any) -> ObjectMeta:
    large = pa.types.is_large_list(array.type)
    meta = _array_meta("vineyard::LargeListArray" if large else "vineyard::ListArray", array)
    meta["arrow_type_"] = _type_to_text(array.type)
    buffers = array.buffers()
    meta.add_member("null_bitmap_", buffer_builder(client, buffers[0]))
    meta.add_member("buffer_offsets_", buffer_builder(client, buffers[1]))
    meta.add_member("values_", builder.run(client, array.values))
    return client.create_metadata(meta)


def struct_array_builder(
    client: Any, array: pa.StructArray, builder: Any, **_kw: Any
) -> ObjectMeta:
    if array.offset != 0:
        array = pa.concat_arrays([array])  # children are sliced by field(): start at 0
    meta = _array_meta("vineyard::StructArray", array)
    meta["arrow_type_"] = _type_to_text(array.type)
    meta["__children_-size"] = array.type.num_fields
    meta.add_member("null_bitmap_", buffer_builder(client, array.buffers()[0]))
    for index in range(array.type.num_fields):
        meta.add_member(f"__children_-{index}", builder.run(client, array.field(index)))
    return client.create_metadata(meta)


def dictionary_array_builder(
    client: Any, array: pa.DictionaryArray, builder: Any, **_kw: Any
) -> ObjectMeta:
    meta = _array_meta("vineyard::DictionaryArray", array)
    meta["arrow_type_"] = _type_to_text(array.type)
    meta["ordered_"] = bool(array.type.ordered)
    meta.add_member("indices_", builder.run(client, array.indices))
    meta.add_member("dictionary_", builder.run(client, array.dictionary))
    return client.create_metadata(meta)


def null_array_builder(
    client: Any, array: pa.NullArray, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    meta = ObjectMeta()
    meta["typename"] = "vineyard::NullArray"
    meta["length_"] = len(array)
    meta["nbytes"] = 0
    return client.create_metadata(meta)


def chunked_array_builder(
    client: Any, array: pa.ChunkedArray, builder: Any, **_kw: Any
) -> ObjectMeta:
    meta = ObjectMeta()
    meta["typename"] = "vineyard::ChunkedArray"
    meta["arrow_type_"] = _type_to_text(array.type)
    meta["length_"] = len(array)
    meta["null_count_"] = array.null_count
    meta["__chunks_-size"] = array.num_chunks
    for index, chunk in enumerate(array.chunks):
        meta.add_member(f"__chunks_-{index}", builder.run(client, chunk))
    meta["nbytes"] = array.nbytes
    return client.create_metadata(meta)


def schema_proxy_builder(
    client: Any, schema: pa.Schema, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    serialized = schema.serialize()
    meta = ObjectMeta()
    meta["typename"] = "vineyard::SchemaProxy"
    meta["schema_binary_"] = json.dumps({"bytes": list(serialized.to_pybytes())})
    meta["nbytes"] = serialized.size
    return client.create_metadata(meta)


def _record_batch_meta(client: Any, batch: pa.RecordBatch, builder: Any) -> ObjectMeta:
    meta = ObjectMeta()
    meta["typename"] = "vineyard::RecordBatch"
    meta["row_num_"] = batch.num_rows
    meta["column_num_"] = batch.num_columns
    meta["__columns_-size"] = batch.num_columns
    meta.add_member("schema_", schema_proxy_builder(client, batch.schema))
    for index in range(batch.num_columns):
        meta.add_member(f"__columns_-{index}", builder.run(client, batch.column(index)))
    meta["nbytes"] = batch.nbytes
    return client.create_metadata(meta)


def record_batch_builder(
    client: Any, batch: pa.RecordBatch, builder: Any, **_kw: Any
) -> ObjectMeta:
    return _record_batch_meta(client, batch, builder)


def table_builder(client: Any, table: pa.Table, builder: Any, **kw: Any) -> ObjectMeta:
    batches = table.to_batches()
    meta = ObjectMeta()
    meta["typename"] = "vineyard::Table"
    meta["num_rows_"] = table.num_rows
    meta["num_columns_"] = table.num_columns
    meta["batch_num_"] = len(batches)
    meta["partitions_-size"] = len(batches)
    meta.add_member("schema_", schema_proxy_builder(client, table.schema))
    for index, batch in enumerate(batches):
        meta.add_member(f"partitions_-{index}", _record_batch_meta(client, batch, builder))
    meta["nbytes"] = table.nbytes
    return client.create_metadata(meta)


# -- resolvers ---------------------------------------------------------------------------------


def _counts(meta: ObjectMeta) -> tuple[int, int, int]:
    return int(meta["length_"]), int(meta.get("null_count_", 0)), int(meta.get("offset_", 0))


def _numeric_type(obj: Any) -> pa.DataType:
    meta = obj.meta
    if "arrow_type_" in meta:
        return _type_from_text(meta["arrow_type_"])
    typename = obj.typename
    name = typename[typename.index("<") + 1 : typename.rindex(">")]
    return normalize_arrow_dtype(name)


def numeric_array_resolver(obj: Any) -> pa.Array:
    length, null_count, offset = _counts(obj.meta)
    buffers = [_optional_buffer(obj.member("null_bitmap_")), as_arrow_buffer(obj.member("buffer_"))]
    return pa.Array.from_buffers(_numeric_type(obj), length, buffers, null_count, offset)


def boolean_array_resolver(obj: Any) -> pa.Array:
    length, null_count, offset = _counts(obj.meta)
    buffers = [_optional_buffer(obj.member("null_bitmap_")), as_arrow_buffer(obj.member("buffer_"))]
    return pa.Array.from_buffers(pa.bool_(), length, buffers, null_count, offset)


def binary_array_resolver(obj: Any) -> pa.Array:
    length, null_count, offset = _counts(obj.meta)
    arrow_type = _BINARY_TYPES[obj.typename]
    buffers = [
        _optional_buffer(obj.member("null_bitmap_")),
        as_arrow_buffer(obj.member("buffer_offsets_")),
        as_arrow_buffer(obj.member("buffer_data_")),
    ]
    if length == 0 and offset == 0 and len(buffers[1]) == 0:
        return pa.array([], type=arrow_type)
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count, offset)


string_array_resolver = binary_array_resolver


def fixed_size_binary_array_resolver(obj: Any) -> pa.Array:
    meta = obj.meta
    length, null_count, offset = _counts(meta)
    if "arrow_type_" in meta:
        arrow_type = _type_from_text(meta["arrow_type_"])
    else:
        arrow_type = pa.binary(int(meta["byte_width_"]))
    buffers = [_optional_buffer(obj.member("null_bitmap_")), as_arrow_buffer(obj.member("buffer_"))]
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count, offset)


def list_array_resolver(obj: Any, resolver: Any) -> pa.Array:
    meta = obj.meta
    length, null_count, offset = _counts(meta)
    values = resolver.run(obj.member("values_"))
    if "arrow_type_" in meta:
        arrow_type = _type_from_text(meta["arrow_type_"])
    elif obj.typename == "vineyard::LargeListArray":
        arrow_type = pa.large_list(values.type)
    else:
        arrow_type = pa.list_(values.type)
    offsets = as_arrow_buffer(obj.member("buffer_offsets_"))
    if length == 0 and offset == 0 and len(offsets) == 0:
        return pa.array([], type=arrow_type)
    buffers = [_optional_buffer(obj.member("null_bitmap_")), offsets]
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count, offset, [values])


def struct_array_resolver(obj: Any, resolver: Any) -> pa.Array:
    meta = obj.meta
    length, null_count, offset = _counts(meta)
    arrow_type = _type_from_text(meta["arrow_type_"])
    children = [
        resolver.run(obj.member(f"__children_-{index}"))
        for index in range(int(meta["__children_-size"]))
    ]
    buffers = [_optional_buffer(obj.member("null_bitmap_"))]
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count, offset, children)


def dictionary_array_resolver(obj: Any, resolver: Any) -> pa.Array:
    meta = obj.meta
    indices = resolver.run(obj.member("indices_"))
    dictionary = resolver.run(obj.member("dictionary_"))
    return pa.DictionaryArray.from_arrays(indices, dictionary, ordered=bool(meta.get("ordered_")))


def null_array_resolver(obj: Any) -> pa.Array:
    return pa.nulls(int(obj.meta["length_"]))


def chunked_array_resolver(obj: Any, resolver: Any) -> pa.ChunkedArray:
    meta = obj.meta
    chunks = [
        resolver.run(obj.member(f"__chunks_-{index}"))
        for index in range(int(meta["__chunks_-size"]))
    ]
    return pa.chunked_array(chunks, type=_type_from_text(meta["arrow_type_"]))


def schema_proxy_resolver(obj: Any) -> pa.Schema:
    meta = obj.meta
    if "schema_binary_" in meta:
        data = bytes(json.loads(meta["schema_binary_"])["bytes"])
        return pa.ipc.read_schema(pa.py_buffer(data))
    return pa.ipc.read_schema(as_arrow_buffer(obj.member("buffer_")))


def record_batch_resolver(obj: Any, resolver: Any) -> pa.RecordBatch:
    meta = obj.meta
    schema = resolver.run(obj.member("schema_"))
    columns = [
        resolver.run(obj.member(f"__columns_-{index}"))
        for index in range(int(meta["__columns_-size"]))
    ]
    if not columns:
        return pa.RecordBatch.from_pylist([{}] * int(meta.get("row_num_", 0)), schema=schema)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def table_resolver(obj: Any, resolver: Any) -> pa.Table:
    meta = obj.meta
    schema = resolver.run(obj.member("schema_"))
    batches = [
        resolver.run(obj.member(f"partitions_-{index}")) for index in range(int(meta["batch_num_"]))
    ]
    return pa.Table.from_batches(batches, schema=schema)
