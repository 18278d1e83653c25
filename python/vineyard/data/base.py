"""Python's own types: None, bool, int, float, str, bytes, memoryview, tuple, list, dict.

Layouts:
- scalars: `vineyard::Scalar<T>` (T: `None`, `int`, `double`, `std::string`) with `value_`
  and `type_`; a bool is a `Scalar<int>` with `type_: bool`, as Vineyard writes it;
- bytes: a bare `vineyard::Blob` (so `put(b"...")` returns a blob id, as Vineyard), read
  back as a read-only memoryview over the shared memory (no copy);
- memoryview: of plain bytes, a bare `vineyard::Blob` (as Vineyard); typed or shaped,
  `vineyard::MemoryView` with a `buffer_` blob, `format_` and `shape_`; either resolved to a
  read-only memoryview over the shared memory;
- a 2-tuple: `vineyard::Pair` with members `first` and `second` (as the user guide shows);
  other tuples and lists `vineyard::Sequence` (Vineyard's typename for both) with `size_`,
  `__elements_-size` and members `__elements_-0`..., and `type_` (`tuple` or `list`, which
  Vineyard ignores: it reads every sequence as a tuple, we give a list back as a list); dicts
  `vineyard::Dict` with `__keys_-i` / `__values_-i`.

Values of subclasses (an IntEnum, a namedtuple, an OrderedDict) go through pickle instead, so
that they come back with their own type. Objects, ObjectMetas and ObjectIDs inside containers
are references to existing objects, as in Vineyard.
"""

from __future__ import annotations

import json
from typing import Any

from vineyard._native import Blob, ObjectID
from vineyard.core.meta import ObjectMeta
from vineyard.core.object import Object
from vineyard.data.default import pickle_builder
from vineyard.data.layout import (
    DICT,
    MEMORY_VIEW,
    PAIR,
    SCALAR,
    SCALAR_TYPES,
    SEQUENCE,
    template_argument,
)
from vineyard.data.utils import build_buffer

__all__ = [
    "none_builder",
    "bool_builder",
    "int_builder",
    "float_builder",
    "str_builder",
    "bytes_builder",
    "memoryview_builder",
    "tuple_builder",
    "list_builder",
    "dict_builder",
    "reference_builder",
    "scalar_resolver",
    "bytes_resolver",
    "memoryview_resolver",
    "pair_resolver",
    "sequence_resolver",
    "dict_resolver",
]


_PYTHON_TYPES = {
    python_type.__name__: python_type for python_type in (type(None), bool, int, float, str)
}
# How each scalar type is written, and the Python type of each typename read.
_SCALARS = {_PYTHON_TYPES[scalar.python_type]: scalar for scalar in SCALAR_TYPES}
_SCALAR_READS = {
    typename: _PYTHON_TYPES[scalar.python_type]
    for scalar in SCALAR_TYPES
    for typename in scalar.typenames_read
}


def _scalar(client: Any, value: Any) -> ObjectMeta:
    """A `vineyard::Scalar<T>` of a None, bool, int, float or str (exactly of that type)."""
    scalar = _SCALARS[type(value)]
    meta = ObjectMeta()
    meta["typename"] = scalar.typename
    meta[SCALAR.value] = value
    if type(value) is float:
        # `value_` is a JSON number, as in Vineyard; JSON parsers may round long decimals by an
        # ulp, so the exact bits travel beside it.
        meta[SCALAR.value_hex] = value.hex()
    meta[SCALAR.type_name] = scalar.python_type
    meta["nbytes"] = 0
    return client.create_metadata(meta)


def none_builder(client: Any, value: None, **_kw: Any) -> ObjectMeta:
    return _scalar(client, None)


def bool_builder(client: Any, value: bool, **_kw: Any) -> ObjectMeta:
    return _scalar(client, bool(value))


def int_builder(client: Any, value: int, builder: Any = None, **kw: Any) -> ObjectMeta:
    if type(value) is not int:
        return pickle_builder(client, value, **kw)
    return _scalar(client, value)


def float_builder(client: Any, value: float, builder: Any = None, **kw: Any) -> ObjectMeta:
    if type(value) is not float:
        return pickle_builder(client, value, **kw)
    return _scalar(client, value)


def str_builder(client: Any, value: str, builder: Any = None, **kw: Any) -> ObjectMeta:
    if type(value) is not str:
        return pickle_builder(client, value, **kw)
    return _scalar(client, value)


def scalar_resolver(obj: Any) -> Any:
    meta = obj.meta
    value = meta.get(SCALAR.value)
    # `type_` first: Vineyard writes bools as `Scalar<int>` with `type_: bool`.
    python_type = _PYTHON_TYPES.get(meta.get(SCALAR.type_name, "")) or _SCALAR_READS.get(
        obj.typename
    )
    if python_type is None:
        # Other `Scalar<T>`s (int64_t, uint32, ...) hold integers.
        return int(value) if template_argument(obj.typename) is not None else value
    if python_type is type(None):
        return None
    if python_type is float:
        exact = meta.get(SCALAR.value_hex)
        return float.fromhex(exact) if exact is not None else float(value)
    return python_type(value)


def bytes_builder(client: Any, value: bytes, builder: Any = None, **kw: Any) -> ObjectMeta:
    if type(value) is not bytes:
        return pickle_builder(client, value, **kw)
    return build_buffer(client, value)


def bytes_resolver(obj: Blob) -> memoryview:
    """A blob reads back as a read-only memoryview over the shared memory (no copy, whatever
    its size, as Vineyard's client returns); `bytes(value)` is the copy, when one is wanted."""
    return memoryview(obj)


def memoryview_builder(client: Any, value: memoryview, **_kw: Any) -> ObjectMeta:
    """A view of plain bytes (format `B`, one dimension) is a bare `vineyard::Blob`, as
    Vineyard stores every memoryview, and reads back as a read-only memoryview of the same
    bytes; a typed or shaped view is a `vineyard::MemoryView`, which keeps its format and
    shape (a blob cannot say them)."""
    if value.format == "B" and value.ndim == 1:
        return build_buffer(client, value)
    meta = ObjectMeta()
    meta["typename"] = MEMORY_VIEW.typename
    meta[MEMORY_VIEW.format] = value.format
    meta[MEMORY_VIEW.shape] = json.dumps(list(value.shape))
    meta[MEMORY_VIEW.itemsize] = value.itemsize
    meta[MEMORY_VIEW.readonly] = value.readonly
    meta[MEMORY_VIEW.size] = value.nbytes
    meta["nbytes"] = value.nbytes
    meta.add_member(MEMORY_VIEW.buffer, build_buffer(client, value))
    return client.create_metadata(meta)


def memoryview_resolver(obj: Object) -> memoryview:
    meta = obj.meta
    blob = obj.member(MEMORY_VIEW.buffer)
    view = memoryview(blob)
    shape = json.loads(meta[MEMORY_VIEW.shape])
    fmt = meta[MEMORY_VIEW.format]
    if view.nbytes == 0:
        view = memoryview(b"")
    try:
        view = view.cast("B")
        if fmt != "B" or len(shape) != 1:
            view = view.cast(fmt, shape)
    except (TypeError, ValueError):
        pass  # a format memoryview.cast cannot express: keep the bytes
    return view


def _member(client: Any, item: Any, builder: Any) -> Any:
    if isinstance(item, (ObjectID, ObjectMeta, Object)):
        return item
    return builder.run(client, item)


def _sequence(client: Any, items: Any, builder: Any) -> ObjectMeta:
    """A `vineyard::Sequence` of `items` (a tuple or a list, which `type_` records)."""
    meta = ObjectMeta()
    meta["typename"] = SEQUENCE.typename
    meta[SEQUENCE.size] = len(items)
    meta[SEQUENCE.elements.size] = len(items)
    meta[SEQUENCE.type_name] = type(items).__name__
    nbytes = 0
    for index, item in enumerate(items):
        member = _member(client, item, builder)
        meta.add_member(SEQUENCE.elements.at(index), member)
        nbytes += getattr(member, "nbytes", 0) or 0
    meta["nbytes"] = nbytes
    return client.create_metadata(meta)


def tuple_builder(client: Any, value: tuple, builder: Any, **kw: Any) -> ObjectMeta:
    if type(value) is not tuple:
        return pickle_builder(client, value, **kw)
    if len(value) == 2:
        meta = ObjectMeta()
        meta["typename"] = PAIR.typename
        first = _member(client, value[0], builder)
        second = _member(client, value[1], builder)
        meta.add_member(PAIR.first, first)
        meta.add_member(PAIR.second, second)
        meta["nbytes"] = (getattr(first, "nbytes", 0) or 0) + (getattr(second, "nbytes", 0) or 0)
        return client.create_metadata(meta)
    return _sequence(client, value, builder)


def list_builder(client: Any, value: list, builder: Any, **kw: Any) -> ObjectMeta:
    if type(value) is not list:
        return pickle_builder(client, value, **kw)
    return _sequence(client, value, builder)


def dict_builder(client: Any, value: dict, builder: Any, **kw: Any) -> ObjectMeta:
    if type(value) is not dict:
        return pickle_builder(client, value, **kw)
    meta = ObjectMeta()
    meta["typename"] = DICT.typename
    meta[DICT.size] = len(value)
    nbytes = 0
    for index, (key, item) in enumerate(value.items()):
        key_member = _member(client, key, builder)
        value_member = _member(client, item, builder)
        meta.add_member(DICT.keys.at(index), key_member)
        meta.add_member(DICT.values.at(index), value_member)
        nbytes += getattr(value_member, "nbytes", 0) or 0
    meta["nbytes"] = nbytes
    return client.create_metadata(meta)


def reference_builder(client: Any, value: Any, **_kw: Any) -> Any:
    """An existing object (Object, Blob or ObjectMeta with an id) is stored as itself."""
    if isinstance(value, ObjectMeta):
        if value.id is None:
            return client.create_metadata(value)
        return value
    return value.meta


def _elements(obj: Any, resolver: Any) -> list[Any]:
    """The items of a `vineyard::Sequence`, resolved."""
    meta = obj.meta
    size = meta.get(SEQUENCE.elements.size, meta.get(SEQUENCE.size, 0))
    return [resolver.run(obj.member(SEQUENCE.elements.at(index))) for index in range(int(size))]


def pair_resolver(obj: Any, resolver: Any) -> tuple[Any, Any]:
    return (resolver.run(obj.member(PAIR.first)), resolver.run(obj.member(PAIR.second)))


def sequence_resolver(obj: Any, resolver: Any) -> tuple[Any, ...] | list[Any]:
    """A `vineyard::Sequence` as a list if it was put as one (`type_`), else as a tuple (as
    Vineyard reads every sequence)."""
    items = _elements(obj, resolver)
    return items if obj.meta.get(SEQUENCE.type_name) == "list" else tuple(items)


def dict_resolver(obj: Any, resolver: Any) -> dict[Any, Any]:
    size = int(obj.meta[DICT.size])
    return {
        resolver.run(obj.member(DICT.keys.at(index))): resolver.run(
            obj.member(DICT.values.at(index))
        )
        for index in range(size)
    }
