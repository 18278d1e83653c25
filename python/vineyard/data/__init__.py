"""The built-in builders and resolvers, registered into the default contexts on import.

Layout:
- `base`: None, bool, int, float, str, bytes, memoryview, tuple, list, dict;
- `tensor`: numpy arrays (`vineyard::Array`, `vineyard::Tensor<T>`) and scalars;
- `arrow`: pyarrow arrays, chunked arrays, record batches, tables;
- `index`, `series`, `dataframe` (with `columns`): pandas;
- `default`: the pickle fallback (`vineyard::PickleBuffer`);
- `utils`: dtype names, JSON fields, blobs from buffers.

The functions are registered lazily (`LazyFunction`) and types by name (`'numpy:ndarray'`),
so importing vineyard imports none of numpy, pandas or pyarrow.
"""

from __future__ import annotations

from typing import Any

from vineyard._native import Blob
from vineyard.core.builder import BuilderContext, default_builder_context
from vineyard.core.calling import LazyFunction
from vineyard.core.meta import ObjectMeta
from vineyard.core.object import Object
from vineyard.core.resolver import ResolverContext, default_resolver_context

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
    ("pyarrow:NumericArray", _lazy("arrow", "numeric_array_builder")),
    ("pyarrow:BooleanArray", _lazy("arrow", "boolean_array_builder")),
    ("pyarrow:StringArray", _lazy("arrow", "binary_array_builder")),
    ("pyarrow:LargeStringArray", _lazy("arrow", "binary_array_builder")),
    ("pyarrow:BinaryArray", _lazy("arrow", "binary_array_builder")),
    ("pyarrow:LargeBinaryArray", _lazy("arrow", "binary_array_builder")),
    ("pyarrow:FixedSizeBinaryArray", _lazy("arrow", "fixed_size_binary_array_builder")),
    ("pyarrow:ListArray", _lazy("arrow", "list_array_builder")),
    ("pyarrow:LargeListArray", _lazy("arrow", "list_array_builder")),
    ("pyarrow:StructArray", _lazy("arrow", "struct_array_builder")),
    ("pyarrow:DictionaryArray", _lazy("arrow", "dictionary_array_builder")),
    ("pyarrow:NullArray", _lazy("arrow", "null_array_builder")),
    ("pyarrow:ChunkedArray", _lazy("arrow", "chunked_array_builder")),
    ("pyarrow:Schema", _lazy("arrow", "schema_proxy_builder")),
    ("pyarrow:RecordBatch", _lazy("arrow", "record_batch_builder")),
    ("pyarrow:Table", _lazy("arrow", "table_builder")),
]

BUILTIN_RESOLVERS: list[tuple[str, Any]] = [
    ("vineyard::Scalar", _lazy("base", "scalar_resolver")),
    ("vineyard::Blob", _lazy("base", "bytes_resolver")),
    ("vineyard::MemoryView", _lazy("base", "memoryview_resolver")),
    ("vineyard::Pair", _lazy("base", "pair_resolver")),
    ("vineyard::Tuple", _lazy("base", "tuple_resolver")),
    ("vineyard::Sequence", _lazy("base", "tuple_resolver")),
    ("vineyard::List", _lazy("base", "list_resolver")),
    ("vineyard::Dict", _lazy("base", "dict_resolver")),
    ("vineyard::PickleBuffer", _lazy("default", "pickle_resolver")),
    ("vineyard::Array", _lazy("tensor", "array_resolver")),
    ("vineyard::Tensor", _lazy("tensor", "tensor_resolver")),
    ("vineyard::NumericArray", _lazy("arrow", "numeric_array_resolver")),
    ("vineyard::BooleanArray", _lazy("arrow", "boolean_array_resolver")),
    ("vineyard::BaseBinaryArray", _lazy("arrow", "binary_array_resolver")),
    ("vineyard::LargeStringArray", _lazy("arrow", "binary_array_resolver")),
    ("vineyard::LargeBinaryArray", _lazy("arrow", "binary_array_resolver")),
    ("vineyard::StringArray", _lazy("arrow", "binary_array_resolver")),
    ("vineyard::BinaryArray", _lazy("arrow", "binary_array_resolver")),
    ("vineyard::FixedSizeBinaryArray", _lazy("arrow", "fixed_size_binary_array_resolver")),
    ("vineyard::ListArray", _lazy("arrow", "list_array_resolver")),
    ("vineyard::LargeListArray", _lazy("arrow", "list_array_resolver")),
    ("vineyard::StructArray", _lazy("arrow", "struct_array_resolver")),
    ("vineyard::DictionaryArray", _lazy("arrow", "dictionary_array_resolver")),
    ("vineyard::NullArray", _lazy("arrow", "null_array_resolver")),
    ("vineyard::ChunkedArray", _lazy("arrow", "chunked_array_resolver")),
    ("vineyard::SchemaProxy", _lazy("arrow", "schema_proxy_resolver")),
    ("vineyard::RecordBatch", _lazy("arrow", "record_batch_resolver")),
    ("vineyard::Table", _lazy("arrow", "table_resolver")),
    ("vineyard::DataFrame", _lazy("dataframe", "pandas_dataframe_resolver")),
    ("vineyard::Series", _lazy("series", "pandas_series_resolver")),
    ("vineyard::Index", _lazy("index", "pandas_index_resolver")),
    ("vineyard::RangeIndex", _lazy("index", "range_index_resolver")),
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


register_builtin_types(default_builder_context, default_resolver_context)
