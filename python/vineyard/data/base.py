"""Python's own types: None, bool, int, float, str, bytes, memoryview, tuple, list, dict.

Layouts:
- scalars: `vineyard::Scalar<T>` (T: `None`, `bool`, `int`, `double`, `std::string`) with
  `value_` and `type_`;
- bytes: a bare `vineyard::Blob` (so `put(b"...")` returns a blob id, as Vineyard);
- memoryview: `vineyard::MemoryView` with a `buffer_` blob, `format_` and `shape_`, resolved
  to a read-only memoryview over the shared memory;
- a 2-tuple: `vineyard::Pair` with members `first` and `second`; other tuples
  `vineyard::Tuple` and lists `vineyard::List`, both with `size_`, `__elements_-size` and
  members `__elements_-0`...; dicts `vineyard::Dict` with `__keys_-i` / `__values_-i`.

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
    "tuple_resolver",
    "list_resolver",
    "dict_resolver",
]


def _scalar(client: Any, typename: str, value: Any, type_name: str) -> ObjectMeta:
    meta = ObjectMeta()
    meta["typename"] = typename
    meta["value_"] = value
    meta["type_"] = type_name
    meta["nbytes"] = 0
    return client.create_metadata(meta)


def none_builder(client: Any, value: None, **_kw: Any) -> ObjectMeta:
    return _scalar(client, "vineyard::Scalar<None>", None, "NoneType")


def bool_builder(client: Any, value: bool, **_kw: Any) -> ObjectMeta:
    return _scalar(client, "vineyard::Scalar<bool>", bool(value), "bool")


def int_builder(client: Any, value: int, builder: Any = None, **kw: Any) -> ObjectMeta:
    if type(value) is not int:
        return pickle_builder(client, value, **kw)
    return _scalar(client, "vineyard::Scalar<int>", value, "int")


def float_builder(client: Any, value: float, builder: Any = None, **kw: Any) -> ObjectMeta:
    if type(value) is not float:
        return pickle_builder(client, value, **kw)
    meta = ObjectMeta()
    meta["typename"] = "vineyard::Scalar<double>"
    meta["value_"] = value
    # `value_` is a JSON number, as in Vineyard; JSON parsers may round long decimals by an
    # ulp, so the exact bits travel beside it.
    meta["value_hex_"] = value.hex()
    meta["type_"] = "float"
    meta["nbytes"] = 0
    return client.create_metadata(meta)


def str_builder(client: Any, value: str, builder: Any = None, **kw: Any) -> ObjectMeta:
    if type(value) is not str:
        return pickle_builder(client, value, **kw)
    return _scalar(client, "vineyard::Scalar<std::string>", value, "str")


def scalar_resolver(obj: Any) -> Any:
    meta = obj.meta
    typename = obj.typename
    value = meta.get("value_")
    if typename == "vineyard::Scalar<None>":
        return None
    if typename == "vineyard::Scalar<bool>":
        return bool(value)
    if typename in ("vineyard::Scalar<std::string>", "vineyard::Scalar<string>"):
        return str(value)
    if typename in ("vineyard::Scalar<double>", "vineyard::Scalar<float>"):
        exact = meta.get("value_hex_")
        return float.fromhex(exact) if exact is not None else float(value)
    if typename.startswith("vineyard::Scalar<"):  # int, int64_t, uint32, ...
        return int(value)
    return value


def bytes_builder(client: Any, value: bytes, builder: Any = None, **kw: Any) -> ObjectMeta:
    if type(value) is not bytes:
        return pickle_builder(client, value, **kw)
    return build_buffer(client, value)


def bytes_resolver(obj: Blob) -> bytes:
    """A blob reads back as bytes (`client.get_blob` / `get_object` give the zero-copy view)."""
    return bytes(memoryview(obj))


def memoryview_builder(client: Any, value: memoryview, **_kw: Any) -> ObjectMeta:
    meta = ObjectMeta()
    meta["typename"] = "vineyard::MemoryView"
    meta["format_"] = value.format
    meta["shape_"] = json.dumps(list(value.shape))
    meta["itemsize_"] = value.itemsize
    meta["readonly_"] = value.readonly
    meta["size_"] = value.nbytes
    meta["nbytes"] = value.nbytes
    meta.add_member("buffer_", build_buffer(client, value))
    return client.create_metadata(meta)


def memoryview_resolver(obj: Object) -> memoryview:
    meta = obj.meta
    blob = obj.member("buffer_")
    view = memoryview(blob)
    shape = json.loads(meta["shape_"])
    fmt = meta["format_"]
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


def _sequence(client: Any, typename: str, items: Any, builder: Any) -> ObjectMeta:
    meta = ObjectMeta()
    meta["typename"] = typename
    meta["size_"] = len(items)
    meta["__elements_-size"] = len(items)
    nbytes = 0
    for index, item in enumerate(items):
        member = _member(client, item, builder)
        meta.add_member(f"__elements_-{index}", member)
        nbytes += getattr(member, "nbytes", 0) or 0
    meta["nbytes"] = nbytes
    return client.create_metadata(meta)


def tuple_builder(client: Any, value: tuple, builder: Any, **kw: Any) -> ObjectMeta:
    if type(value) is not tuple:
        return pickle_builder(client, value, **kw)
    if len(value) == 2:
        meta = ObjectMeta()
        meta["typename"] = "vineyard::Pair"
        first = _member(client, value[0], builder)
        second = _member(client, value[1], builder)
        meta.add_member("first", first)
        meta.add_member("second", second)
        meta["nbytes"] = (getattr(first, "nbytes", 0) or 0) + (getattr(second, "nbytes", 0) or 0)
        return client.create_metadata(meta)
    return _sequence(client, "vineyard::Tuple", value, builder)


def list_builder(client: Any, value: list, builder: Any, **kw: Any) -> ObjectMeta:
    if type(value) is not list:
        return pickle_builder(client, value, **kw)
    return _sequence(client, "vineyard::List", value, builder)


def dict_builder(client: Any, value: dict, builder: Any, **kw: Any) -> ObjectMeta:
    if type(value) is not dict:
        return pickle_builder(client, value, **kw)
    meta = ObjectMeta()
    meta["typename"] = "vineyard::Dict"
    meta["size_"] = len(value)
    nbytes = 0
    for index, (key, item) in enumerate(value.items()):
        key_member = _member(client, key, builder)
        value_member = _member(client, item, builder)
        meta.add_member(f"__keys_-{index}", key_member)
        meta.add_member(f"__values_-{index}", value_member)
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


def _elements(obj: Any, resolver: Any, prefix: str = "__elements_-") -> list[Any]:
    meta = obj.meta
    size = meta.get("__elements_-size", meta.get("size_", 0))
    return [resolver.run(obj.member(f"{prefix}{index}")) for index in range(int(size))]


def pair_resolver(obj: Any, resolver: Any) -> tuple[Any, Any]:
    return (resolver.run(obj.member("first")), resolver.run(obj.member("second")))


def tuple_resolver(obj: Any, resolver: Any) -> tuple[Any, ...]:
    return tuple(_elements(obj, resolver))


def list_resolver(obj: Any, resolver: Any) -> list[Any]:
    return _elements(obj, resolver)


def dict_resolver(obj: Any, resolver: Any) -> dict[Any, Any]:
    size = int(obj.meta["size_"])
    return {
        resolver.run(obj.member(f"__keys_-{index}")): resolver.run(obj.member(f"__values_-{index}"))
        for index in range(size)
    }
