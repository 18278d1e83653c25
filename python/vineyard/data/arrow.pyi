from typing import Any

import pyarrow as pa

from vineyard.core.meta import ObjectMeta

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
) -> ObjectMeta: ...
def as_arrow_buffer(blob: Any) -> pa.Buffer: ...
def numeric_array_builder(
    client: Any, array: pa.Array, builder: Any = None, **_kw: Any
) -> ObjectMeta: ...
def boolean_array_builder(
    client: Any, array: pa.BooleanArray, builder: Any = None, **_kw: Any
) -> ObjectMeta: ...
def binary_array_builder(
    client: Any, array: pa.Array, builder: Any = None, **_kw: Any
) -> ObjectMeta: ...

string_array_builder = binary_array_builder

def fixed_size_binary_array_builder(
    client: Any, array: pa.FixedSizeBinaryArray, builder: Any = None, **_kw: Any
) -> ObjectMeta: ...
def list_array_builder(client: Any, array: pa.Array, builder: Any, **_kw: Any) -> ObjectMeta: ...
def struct_array_builder(
    client: Any, array: pa.StructArray, builder: Any, **_kw: Any
) -> ObjectMeta: ...
def dictionary_array_builder(
    client: Any, array: pa.DictionaryArray, builder: Any, **_kw: Any
) -> ObjectMeta: ...
def null_array_builder(
    client: Any, array: pa.NullArray, builder: Any = None, **_kw: Any
) -> ObjectMeta: ...
def chunked_array_builder(
    client: Any, array: pa.ChunkedArray, builder: Any, **_kw: Any
) -> ObjectMeta: ...
def schema_proxy_builder(
    client: Any, schema: pa.Schema, builder: Any = None, **_kw: Any
) -> ObjectMeta: ...
def record_batch_builder(
    client: Any, batch: pa.RecordBatch, builder: Any, **_kw: Any
) -> ObjectMeta: ...
def table_builder(client: Any, table: pa.Table, builder: Any, **kw: Any) -> ObjectMeta: ...
def numeric_array_resolver(obj: Any) -> pa.Array: ...
def boolean_array_resolver(obj: Any) -> pa.Array: ...
def binary_array_resolver(obj: Any) -> pa.Array: ...

string_array_resolver = binary_array_resolver

def fixed_size_binary_array_resolver(obj: Any) -> pa.Array: ...
def list_array_resolver(obj: Any, resolver: Any) -> pa.Array: ...
def struct_array_resolver(obj: Any, resolver: Any) -> pa.Array: ...
def dictionary_array_resolver(obj: Any, resolver: Any) -> pa.Array: ...
def null_array_resolver(obj: Any) -> pa.Array: ...
def chunked_array_resolver(obj: Any, resolver: Any) -> pa.ChunkedArray: ...
def schema_proxy_resolver(obj: Any) -> pa.Schema: ...
def record_batch_resolver(obj: Any, resolver: Any) -> pa.RecordBatch: ...
def table_resolver(obj: Any, resolver: Any) -> pa.Table: ...
