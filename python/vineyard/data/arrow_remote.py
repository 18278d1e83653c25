"""Arrow values of a remote client, in Python: a remote client has no shared memory to hand
Rust's builders and resolvers (`vineyard.data.arrow`), so its Arrow values are written here
as trees whose blobs travel through the remote put (`RemoteBlobBuilder`s), and read back from
the blobs it fetched. The layouts are the same `vineyard-layout` ones, so an object put
through either path reads back alike through both.

Where the typename does not say the exact Arrow type (timestamps, list item fields, structs,
dictionaries, decimals), `arrow_type_` holds it (base64 of a one-field Arrow IPC schema).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pyarrow as pa

from vineyard._native import Blob
from vineyard.core.meta import ObjectMeta
from vineyard.data.arrow import as_arrow_buffer, buffer_builder
from vineyard.data.layout import (
    ARROW_ARRAY,
    BASE_BINARY_ARRAY,
    BINARY_ARRAY_TYPES,
    BOOLEAN_ARRAY,
    CHUNKED_ARRAY,
    DICTIONARY_ARRAY,
    FIXED_SIZE_BINARY_ARRAY,
    LARGE_LIST_ARRAY,
    LIST_ARRAY,
    NULL_ARRAY,
    NUMERIC_ARRAY,
    RECORD_BATCH,
    SCHEMA_PROXY,
    STRUCT_ARRAY,
    TABLE,
    template_argument,
)
from vineyard.data.utils import normalize_arrow_dtype

__all__ = [
    "put_remote",
    "resolve_remote",
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
    meta[ARROW_ARRAY.length] = len(array)
    meta[ARROW_ARRAY.null_count] = array.null_count
    meta[ARROW_ARRAY.offset] = array.offset
    meta["nbytes"] = array.nbytes
    return meta


def _is_plain_numeric(arrow_type: pa.DataType) -> bool:
    """True if `NumericArray<T>` says all of the type (no `arrow_type_` needed)."""
    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)


def numeric_array_builder(
    client: Any, array: pa.Array, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    meta = _array_meta(NUMERIC_ARRAY.of(str(array.type)), array)
    if not _is_plain_numeric(array.type):
        meta[ARROW_ARRAY.arrow_type] = _type_to_text(array.type)
    buffers = array.buffers()
    meta.add_member(NUMERIC_ARRAY.buffer, buffer_builder(client, buffers[1]))
    meta.add_member(ARROW_ARRAY.null_bitmap, buffer_builder(client, buffers[0]))
    return client.create_metadata(meta)


def boolean_array_builder(
    client: Any, array: pa.BooleanArray, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    meta = _array_meta(BOOLEAN_ARRAY.typename, array)
    buffers = array.buffers()
    meta.add_member(BOOLEAN_ARRAY.buffer, buffer_builder(client, buffers[1]))
    meta.add_member(ARROW_ARRAY.null_bitmap, buffer_builder(client, buffers[0]))
    return client.create_metadata(meta)


# pyarrow's type name -> the typename written; every typename read -> its pyarrow type.
_BINARY_TYPENAMES = {binary.arrow_name: binary.typename for binary in BINARY_ARRAY_TYPES}
_BINARY_TYPES = {
    typename: pa.type_for_alias(binary.arrow_name)
    for binary in BINARY_ARRAY_TYPES
    for typename in (binary.typename, binary.alias)
}


def binary_array_builder(
    client: Any, array: pa.Array, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    """string, large_string, binary and large_binary arrays, offsets kept at their width."""
    meta = _array_meta(_BINARY_TYPENAMES[str(array.type)], array)
    buffers = array.buffers()
    meta.add_member(BASE_BINARY_ARRAY.buffer_offsets, buffer_builder(client, buffers[1]))
    meta.add_member(BASE_BINARY_ARRAY.buffer_data, buffer_builder(client, buffers[2]))
    meta.add_member(ARROW_ARRAY.null_bitmap, buffer_builder(client, buffers[0]))
    return client.create_metadata(meta)


string_array_builder = binary_array_builder


def fixed_size_binary_array_builder(
    client: Any, array: pa.FixedSizeBinaryArray, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    meta = _array_meta(FIXED_SIZE_BINARY_ARRAY.typename, array)
    meta[FIXED_SIZE_BINARY_ARRAY.byte_width] = array.type.byte_width
    if array.type != pa.binary(array.type.byte_width):
        meta[ARROW_ARRAY.arrow_type] = _type_to_text(array.type)
    buffers = array.buffers()
    meta.add_member(FIXED_SIZE_BINARY_ARRAY.buffer, buffer_builder(client, buffers[1]))
    meta.add_member(ARROW_ARRAY.null_bitmap, buffer_builder(client, buffers[0]))
    return client.create_metadata(meta)


def list_array_builder(client: Any, array: pa.Array, builder: Any, **_kw: Any) -> ObjectMeta:
    layout = LARGE_LIST_ARRAY if pa.types.is_large_list(array.type) else LIST_ARRAY
    meta = _array_meta(layout.typename, array)
    meta[ARROW_ARRAY.arrow_type] = _type_to_text(array.type)
    buffers = array.buffers()
    meta.add_member(ARROW_ARRAY.null_bitmap, buffer_builder(client, buffers[0]))
    meta.add_member(layout.buffer_offsets, buffer_builder(client, buffers[1]))
    meta.add_member(layout.values, builder.run(client, array.values))
    return client.create_metadata(meta)


def struct_array_builder(
    client: Any, array: pa.StructArray, builder: Any, **_kw: Any
) -> ObjectMeta:
    if array.offset != 0:
        array = pa.concat_arrays([array])  # children are sliced by field(): start at 0
    children = STRUCT_ARRAY.children
    meta = _array_meta(STRUCT_ARRAY.typename, array)
    meta[ARROW_ARRAY.arrow_type] = _type_to_text(array.type)
    meta[children.size] = array.type.num_fields
    meta.add_member(ARROW_ARRAY.null_bitmap, buffer_builder(client, array.buffers()[0]))
    for index in range(array.type.num_fields):
        meta.add_member(children.at(index), builder.run(client, array.field(index)))
    return client.create_metadata(meta)


def dictionary_array_builder(
    client: Any, array: pa.DictionaryArray, builder: Any, **_kw: Any
) -> ObjectMeta:
    meta = _array_meta(DICTIONARY_ARRAY.typename, array)
    meta[ARROW_ARRAY.arrow_type] = _type_to_text(array.type)
    meta[DICTIONARY_ARRAY.ordered] = bool(array.type.ordered)
    meta.add_member(DICTIONARY_ARRAY.indices, builder.run(client, array.indices))
    meta.add_member(DICTIONARY_ARRAY.dictionary, builder.run(client, array.dictionary))
    return client.create_metadata(meta)


def null_array_builder(
    client: Any, array: pa.NullArray, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    meta = ObjectMeta()
    meta["typename"] = NULL_ARRAY.typename
    meta[ARROW_ARRAY.length] = len(array)
    meta["nbytes"] = 0
    return client.create_metadata(meta)


def chunked_array_builder(
    client: Any, array: pa.ChunkedArray, builder: Any, **_kw: Any
) -> ObjectMeta:
    chunks = CHUNKED_ARRAY.chunks
    meta = ObjectMeta()
    meta["typename"] = CHUNKED_ARRAY.typename
    meta[ARROW_ARRAY.arrow_type] = _type_to_text(array.type)
    meta[ARROW_ARRAY.length] = len(array)
    meta[ARROW_ARRAY.null_count] = array.null_count
    meta[chunks.size] = array.num_chunks
    for index, chunk in enumerate(array.chunks):
        meta.add_member(chunks.at(index), builder.run(client, chunk))
    meta["nbytes"] = array.nbytes
    return client.create_metadata(meta)


def schema_proxy_builder(
    client: Any, schema: pa.Schema, builder: Any = None, **_kw: Any
) -> ObjectMeta:
    serialized = schema.serialize()
    meta = ObjectMeta()
    meta["typename"] = SCHEMA_PROXY.typename
    meta[SCHEMA_PROXY.schema_binary] = json.dumps({"bytes": list(serialized.to_pybytes())})
    meta["nbytes"] = serialized.size
    return client.create_metadata(meta)


def _record_batch_meta(client: Any, batch: pa.RecordBatch, builder: Any) -> ObjectMeta:
    columns = RECORD_BATCH.columns
    meta = ObjectMeta()
    meta["typename"] = RECORD_BATCH.typename
    meta[RECORD_BATCH.row_num] = batch.num_rows
    meta[RECORD_BATCH.column_num] = batch.num_columns
    meta[columns.size] = batch.num_columns
    meta.add_member(RECORD_BATCH.schema, schema_proxy_builder(client, batch.schema))
    for index in range(batch.num_columns):
        meta.add_member(columns.at(index), builder.run(client, batch.column(index)))
    meta["nbytes"] = batch.nbytes
    return client.create_metadata(meta)


def record_batch_builder(
    client: Any, batch: pa.RecordBatch, builder: Any, **_kw: Any
) -> ObjectMeta:
    return _record_batch_meta(client, batch, builder)


def table_builder(client: Any, table: pa.Table, builder: Any, **kw: Any) -> ObjectMeta:
    batches = table.to_batches()
    partitions = TABLE.partitions
    meta = ObjectMeta()
    meta["typename"] = TABLE.typename
    meta[TABLE.num_rows] = table.num_rows
    meta[TABLE.num_columns] = table.num_columns
    meta[TABLE.batch_num] = len(batches)
    meta[partitions.size] = len(batches)
    meta.add_member(TABLE.schema, schema_proxy_builder(client, table.schema))
    for index, batch in enumerate(batches):
        meta.add_member(partitions.at(index), _record_batch_meta(client, batch, builder))
    meta["nbytes"] = table.nbytes
    return client.create_metadata(meta)


# -- resolvers ---------------------------------------------------------------------------------


def _counts(meta: ObjectMeta) -> tuple[int, int, int]:
    return (
        int(meta[ARROW_ARRAY.length]),
        int(meta.get(ARROW_ARRAY.null_count, 0)),
        int(meta.get(ARROW_ARRAY.offset, 0)),
    )


def _arrow_type(meta: ObjectMeta) -> pa.DataType | None:
    """The exact type `arrow_type_` holds, if the tree has one."""
    text = meta.get(ARROW_ARRAY.arrow_type)
    return None if text is None else _type_from_text(text)


def _null_bitmap(obj: Any) -> pa.Buffer | None:
    return _optional_buffer(obj.member(ARROW_ARRAY.null_bitmap))


def _numeric_type(obj: Any) -> pa.DataType:
    exact = _arrow_type(obj.meta)
    if exact is not None:
        return exact
    name = template_argument(obj.typename)
    if name is None:
        raise ValueError(
            f"{obj.typename} names no element type and has no {ARROW_ARRAY.arrow_type}; "
            f"numeric arrays are typed {NUMERIC_ARRAY.of('T')}"
        )
    return normalize_arrow_dtype(name)


def numeric_array_resolver(obj: Any) -> pa.Array:
    length, null_count, offset = _counts(obj.meta)
    buffers = [_null_bitmap(obj), as_arrow_buffer(obj.member(NUMERIC_ARRAY.buffer))]
    return pa.Array.from_buffers(_numeric_type(obj), length, buffers, null_count, offset)


def boolean_array_resolver(obj: Any) -> pa.Array:
    length, null_count, offset = _counts(obj.meta)
    buffers = [_null_bitmap(obj), as_arrow_buffer(obj.member(BOOLEAN_ARRAY.buffer))]
    return pa.Array.from_buffers(pa.bool_(), length, buffers, null_count, offset)


def binary_array_resolver(obj: Any) -> pa.Array:
    length, null_count, offset = _counts(obj.meta)
    arrow_type = _BINARY_TYPES[obj.typename]
    buffers = [
        _null_bitmap(obj),
        as_arrow_buffer(obj.member(BASE_BINARY_ARRAY.buffer_offsets)),
        as_arrow_buffer(obj.member(BASE_BINARY_ARRAY.buffer_data)),
    ]
    if length == 0 and offset == 0 and len(buffers[1]) == 0:
        return pa.array([], type=arrow_type)
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count, offset)


string_array_resolver = binary_array_resolver


def fixed_size_binary_array_resolver(obj: Any) -> pa.Array:
    meta = obj.meta
    length, null_count, offset = _counts(meta)
    arrow_type = _arrow_type(meta)
    if arrow_type is None:
        arrow_type = pa.binary(int(meta[FIXED_SIZE_BINARY_ARRAY.byte_width]))
    buffers = [_null_bitmap(obj), as_arrow_buffer(obj.member(FIXED_SIZE_BINARY_ARRAY.buffer))]
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count, offset)


def list_array_resolver(obj: Any, resolver: Any) -> pa.Array:
    meta = obj.meta
    large = obj.typename == LARGE_LIST_ARRAY.typename
    layout = LARGE_LIST_ARRAY if large else LIST_ARRAY
    length, null_count, offset = _counts(meta)
    values = resolver.run(obj.member(layout.values))
    arrow_type = _arrow_type(meta)
    if arrow_type is None:
        arrow_type = pa.large_list(values.type) if large else pa.list_(values.type)
    offsets = as_arrow_buffer(obj.member(layout.buffer_offsets))
    if length == 0 and offset == 0 and len(offsets) == 0:
        return pa.array([], type=arrow_type)
    buffers = [_null_bitmap(obj), offsets]
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count, offset, [values])


def _list_members(obj: Any, resolver: Any, members: Any, count: int) -> list[Any]:
    """The first `count` members of `members` (a `MemberList`), resolved."""
    return [resolver.run(obj.member(members.at(index))) for index in range(count)]


def struct_array_resolver(obj: Any, resolver: Any) -> pa.Array:
    meta = obj.meta
    length, null_count, offset = _counts(meta)
    arrow_type = _type_from_text(meta[ARROW_ARRAY.arrow_type])
    members = STRUCT_ARRAY.children
    children = _list_members(obj, resolver, members, int(meta[members.size]))
    buffers = [_null_bitmap(obj)]
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count, offset, children)


def dictionary_array_resolver(obj: Any, resolver: Any) -> pa.Array:
    meta = obj.meta
    indices = resolver.run(obj.member(DICTIONARY_ARRAY.indices))
    dictionary = resolver.run(obj.member(DICTIONARY_ARRAY.dictionary))
    ordered = bool(meta.get(DICTIONARY_ARRAY.ordered))
    return pa.DictionaryArray.from_arrays(indices, dictionary, ordered=ordered)


def null_array_resolver(obj: Any) -> pa.Array:
    return pa.nulls(int(obj.meta[ARROW_ARRAY.length]))


def chunked_array_resolver(obj: Any, resolver: Any) -> pa.ChunkedArray:
    meta = obj.meta
    members = CHUNKED_ARRAY.chunks
    chunks = _list_members(obj, resolver, members, int(meta[members.size]))
    return pa.chunked_array(chunks, type=_type_from_text(meta[ARROW_ARRAY.arrow_type]))


def schema_proxy_resolver(obj: Any) -> pa.Schema:
    meta = obj.meta
    if SCHEMA_PROXY.schema_binary in meta:
        data = bytes(json.loads(meta[SCHEMA_PROXY.schema_binary])["bytes"])
        return pa.ipc.read_schema(pa.py_buffer(data))
    return pa.ipc.read_schema(as_arrow_buffer(obj.member(SCHEMA_PROXY.buffer)))


def record_batch_resolver(obj: Any, resolver: Any) -> pa.RecordBatch:
    meta = obj.meta
    schema = resolver.run(obj.member(RECORD_BATCH.schema))
    members = RECORD_BATCH.columns
    columns = _list_members(obj, resolver, members, int(meta[members.size]))
    if not columns:
        rows = int(meta.get(RECORD_BATCH.row_num, 0))
        return pa.RecordBatch.from_pylist([{}] * rows, schema=schema)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def table_resolver(obj: Any, resolver: Any) -> pa.Table:
    meta = obj.meta
    schema = resolver.run(obj.member(TABLE.schema))
    batches = _list_members(obj, resolver, TABLE.partitions, int(meta[TABLE.batch_num]))
    return pa.Table.from_batches(batches, schema=schema)


# Builders by pyarrow array class, most specific first.
_ARRAY_BUILDERS: list[tuple[Any, Any]] = [
    (pa.DictionaryArray, dictionary_array_builder),
    (pa.StructArray, struct_array_builder),
    (pa.ListArray, list_array_builder),
    (pa.LargeListArray, list_array_builder),
    (pa.FixedSizeBinaryArray, fixed_size_binary_array_builder),
    (pa.StringArray, binary_array_builder),
    (pa.LargeStringArray, binary_array_builder),
    (pa.BinaryArray, binary_array_builder),
    (pa.LargeBinaryArray, binary_array_builder),
    (pa.BooleanArray, boolean_array_builder),
    (pa.NullArray, null_array_builder),
    (pa.NumericArray, numeric_array_builder),
]


def _stored_type(arrow_type: pa.DataType) -> pa.DataType:
    """The type a value is stored as: views (polars' strings) become the strings and binaries
    the layouts have, inside lists and structs too (as the native put does)."""
    if arrow_type == pa.string_view():
        return pa.string()
    if arrow_type == pa.binary_view():
        return pa.binary()
    if pa.types.is_list(arrow_type):
        return pa.list_(arrow_type.value_field.with_type(_stored_type(arrow_type.value_type)))
    if pa.types.is_large_list(arrow_type):
        item = arrow_type.value_field
        return pa.large_list(item.with_type(_stored_type(arrow_type.value_type)))
    if pa.types.is_struct(arrow_type):
        return pa.struct([field.with_type(_stored_type(field.type)) for field in arrow_type])
    return arrow_type


def _stored_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [field.with_type(_stored_type(field.type)) for field in schema], metadata=schema.metadata
    )


def put_remote(client: Any, value: Any, kind: str, builder: Any) -> ObjectMeta:
    """Writes an Arrow value of `kind` (as `vineyard.data.arrow.put_arrow` names it)."""
    if kind == "table":
        table = pa.table(value)
        return table_builder(client, table.cast(_stored_schema(table.schema)), builder)
    if kind == "record_batch":
        batch = pa.record_batch(value)
        return record_batch_builder(client, batch.cast(_stored_schema(batch.schema)), builder)
    if kind == "chunked_array":
        chunked = pa.chunked_array(value)
        return chunked_array_builder(client, chunked.cast(_stored_type(chunked.type)), builder)
    if kind == "schema":
        return schema_proxy_builder(client, _stored_schema(pa.schema(value)), builder)
    array = value if isinstance(value, pa.Array) else pa.array(value)
    array = array.cast(_stored_type(array.type))
    for cls, build in _ARRAY_BUILDERS:
        if isinstance(array, cls):
            return build(client, array, builder)
    raise TypeError(
        f"a remote client cannot put Arrow arrays of type {array.type}: put them through an "
        "IPC client on the instance's machine"
    )


# Resolvers by typename prefix.
_RESOLVERS: list[tuple[str, Any, bool]] = [
    (NUMERIC_ARRAY.typename, numeric_array_resolver, False),
    (BOOLEAN_ARRAY.typename, boolean_array_resolver, False),
    (BASE_BINARY_ARRAY.typename, binary_array_resolver, False),
    *((binary.alias, binary_array_resolver, False) for binary in BINARY_ARRAY_TYPES),
    (FIXED_SIZE_BINARY_ARRAY.typename, fixed_size_binary_array_resolver, False),
    (LARGE_LIST_ARRAY.typename, list_array_resolver, True),
    (LIST_ARRAY.typename, list_array_resolver, True),
    (STRUCT_ARRAY.typename, struct_array_resolver, True),
    (DICTIONARY_ARRAY.typename, dictionary_array_resolver, True),
    (NULL_ARRAY.typename, null_array_resolver, False),
    (CHUNKED_ARRAY.typename, chunked_array_resolver, True),
    (SCHEMA_PROXY.typename, schema_proxy_resolver, False),
    (RECORD_BATCH.typename, record_batch_resolver, True),
    (TABLE.typename, table_resolver, True),
]


def resolve_remote(obj: Any, resolver: Any) -> Any:
    """Reads an object of an Arrow layout from the blobs a remote client fetched."""
    typename = obj.typename
    for prefix, resolve, nested in _RESOLVERS:
        if typename == prefix or typename.startswith(prefix.split("<")[0] + "<"):
            return resolve(obj, resolver) if nested else resolve(obj)
    raise TypeError(f"{typename} {obj.id} has no Arrow form a remote client can read")
