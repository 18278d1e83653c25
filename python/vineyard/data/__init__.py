"""The built-in builders and resolvers, registered into the default contexts on import.

Layout:
- `base`: None, bool, int, float, str, bytes, memoryview, tuple, list, dict;
- `tensor`: numpy arrays (`vineyard::Array`, `vineyard::Tensor<T>`) and scalars;
- `arrow`: pyarrow arrays, chunked arrays, schemas, record batches, tables (any value
  exporting the Arrow PyCapsule protocol can be put with its builders), built and resolved
  in Rust: their resolver is `NATIVE_ARROW`, registered for `ARROW_PREFIXES`;
- `index`, `series`, `dataframe` (with `columns`): pandas;
- `default`: the pickle fallback (`vineyard::PickleBuffer`);
- `utils`: dtype names, JSON fields, blobs from buffers;
- `layout`: the typenames and names of every layout above, from the Rust table
  (`vineyard-layout`), which `BUILTIN_RESOLVERS` registers by.

The functions are registered lazily (`LazyFunction`) and types by name (`'numpy:ndarray'`),
so importing vineyard imports none of numpy, pandas or pyarrow.
"""

from __future__ import annotations

from typing import Any

from vineyard._native import ARROW_PREFIXES, Blob
from vineyard.core.builder import BuilderContext, default_builder_context
from vineyard.core.calling import LazyFunction
from vineyard.core.meta import ObjectMeta
from vineyard.core.object import (
    ArrowArrayObject,
    ArrowChunkedArrayObject,
    ArrowObject,
    ArrowRecordBatchObject,
    ArrowTableObject,
    Object,
    register_object_type,
)
from vineyard.core.resolver import NATIVE_ARROW, ResolverContext, default_resolver_context
from vineyard.data.layout import (
    ARRAY,
    BLOB,
    CHUNKED_ARRAY,
    DATA_FRAME,
    DICT,
    INDEX,
    MEMORY_VIEW,
    PAIR,
    PICKLE_BUFFER,
    RANGE_INDEX,
    RECORD_BATCH,
    SCALAR,
    SCHEMA_PROXY,
    SEQUENCE,
    SERIES,
    TABLE,
    TENSOR,
)

__all__ = ["register_builtin_types", "BUILTIN_BUILDERS", "BUILTIN_RESOLVERS"]


def _lazy(module: str, name: str) -> LazyFunction:
    return LazyFunction(f"vineyard.data.{module}", name)


BUILTIN_BUILDERS: list[tuple[Any, Any]] = [
    (object, _lazy("default", "pickle_builder")),
    (type(None), _lazy("base", "none_builder")),
    (bool, _lazy("base", "bool_builder")),
    (int, _lazy("base", "int_builder")),
    (float, _lazy("base", "float_builder")),
    (str, _lazy("base", "str_builder")),
    (bytes, _lazy("base", "bytes_builder")),
    (memoryview, _lazy("base", "memoryview_builder")),
    (tuple, _lazy("base", "tuple_builder")),
    (list, _lazy("base", "list_builder")),
    (dict, _lazy("base", "dict_builder")),
    (Object, _lazy("base", "reference_builder")),
    (Blob, _lazy("base", "reference_builder")),
    (ObjectMeta, _lazy("base", "reference_builder")),
    ("numpy:ndarray", _lazy("tensor", "numpy_ndarray_builder")),
    ("numpy:generic", _lazy("tensor", "numpy_scalar_builder")),
    ("pandas:DataFrame", _lazy("dataframe", "pandas_dataframe_builder")),
    ("pandas:Series", _lazy("series", "pandas_series_builder")),
    ("pandas:Index", _lazy("index", "pandas_index_builder")),
    ("pyarrow:Buffer", _lazy("arrow", "buffer_builder")),
    ("pyarrow:Array", _lazy("arrow", "array_builder")),
    ("pyarrow:ChunkedArray", _lazy("arrow", "chunked_array_builder")),
    ("pyarrow:Schema", _lazy("arrow", "schema_proxy_builder")),
    ("pyarrow:RecordBatch", _lazy("arrow", "record_batch_builder")),
    ("pyarrow:Table", _lazy("arrow", "table_builder")),
    # polars exports Arrow streams: a DataFrame of record batches, a Series of arrays
    ("polars:DataFrame", _lazy("arrow", "table_builder")),
    ("polars:Series", _lazy("arrow", "chunked_array_builder")),
]

BUILTIN_RESOLVERS: list[tuple[str, Any]] = [
    (SCALAR.typename, _lazy("base", "scalar_resolver")),
    (BLOB.typename, _lazy("base", "bytes_resolver")),
    (MEMORY_VIEW.typename, _lazy("base", "memoryview_resolver")),
    (PAIR.typename, _lazy("base", "pair_resolver")),
    (SEQUENCE.typename, _lazy("base", "sequence_resolver")),
    (DICT.typename, _lazy("base", "dict_resolver")),
    (PICKLE_BUFFER.typename, _lazy("default", "pickle_resolver")),
    (ARRAY.typename, _lazy("tensor", "array_resolver")),
    (TENSOR.typename, _lazy("tensor", "tensor_resolver")),
    *((prefix, NATIVE_ARROW) for prefix in ARROW_PREFIXES),
    (DATA_FRAME.typename, _lazy("dataframe", "pandas_dataframe_resolver")),
    (SERIES.typename, _lazy("series", "pandas_series_resolver")),
    (INDEX.typename, _lazy("index", "pandas_index_resolver")),
    (RANGE_INDEX.typename, _lazy("index", "range_index_resolver")),
]


def register_builtin_types(
    builder_ctx: BuilderContext | None = None, resolver_ctx: ResolverContext | None = None
) -> None:
    """Registers the built-in builders and resolvers into the given contexts."""
    if builder_ctx is not None:
        for type_id, builder in BUILTIN_BUILDERS:
            builder_ctx.register(type_id, builder)
    if resolver_ctx is not None:
        for prefix, resolver in BUILTIN_RESOLVERS:
            resolver_ctx.register(prefix, resolver)


# The `Object` classes of the Arrow layouts (they export the Arrow PyCapsule protocol).
_ARROW_OBJECT_TYPES = {
    CHUNKED_ARRAY.typename: ArrowChunkedArrayObject,
    RECORD_BATCH.typename: ArrowRecordBatchObject,
    TABLE.typename: ArrowTableObject,
    SCHEMA_PROXY.typename: ArrowObject,
}
for _prefix in ARROW_PREFIXES:
    register_object_type(_prefix, _ARROW_OBJECT_TYPES.get(_prefix, ArrowArrayObject))

register_builtin_types(default_builder_context, default_resolver_context)
