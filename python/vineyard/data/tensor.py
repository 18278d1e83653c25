"""numpy arrays and scalars.

Layouts:
- a 1-D array: `vineyard::Array` with `size_` (elements), `value_type_` (`dtype.name`),
  `value_type_meta_` (`dtype.str`) and the `buffer_` blob;
- any other array: `vineyard::Tensor<T>` (T as C++ spells it: `double`, `int`, `int64`, ...)
  with `shape_` (JSON), `order_` (JSON, `"C"` or `"F"`), `partition_index_`, `value_type_`,
  `value_type_meta_` and the `buffer_` blob, which holds the elements in C order, as Vineyard;
- structured dtypes add `value_type_descr_` (JSON of `dtype.descr`);
- object arrays: `vineyard::Tensor<object>` whose `buffer_` is the pickled array;
- numpy scalars: a 0-d tensor with `numpy_scalar_` set.

Arrays from `get` are read-only views over the shared memory (Fortran-ordered ones excepted:
their C-ordered bytes are copied into Fortran order, as Vineyard does). 1-D arrays come back as
`vineyard.data.tensor.ndarray`, a numpy subclass that prints like a list (`[1, 1, 1, 1]`).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from vineyard.core.meta import ObjectMeta
from vineyard.core.resolver import NOT_FROM_TREE, register_tree_resolver
from vineyard.data.layout import ARRAY, TENSOR, Layout, template_argument
from vineyard.data.utils import (
    build_buffer,
    build_numpy_buffer,
    normalize_cpptype,
    normalize_dtype,
    to_json,
)

__all__ = [
    "ndarray",
    "numpy_ndarray_builder",
    "numpy_tensor_builder",
    "numpy_scalar_builder",
    "array_resolver",
    "tensor_resolver",
    "dtype_of",
]


class ndarray(np.ndarray):
    """A numpy array read from vineyard: it prints as a list, like `[1, 1, 1, 1]`, and is
    plain numpy otherwise. Whatever is computed from it is a plain `numpy.ndarray` or numpy
    scalar: ufuncs and reductions (`x.sum()` is a `numpy.float64`), numpy functions, slices
    and the methods that make new arrays (`reshape`, `copy`, `astype`, ...)."""

    def __repr__(self) -> str:
        return _list_like(self)

    def __str__(self) -> str:
        return _list_like(self)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        inputs = tuple(_plain(value) for value in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(value) for value in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return func(*_plain_all(args), **{k: _plain_all(v) for k, v in kwargs.items()})

    def __getitem__(self, key: Any) -> Any:
        return np.ndarray.view(self, np.ndarray)[key]


def _plain(value: Any) -> Any:
    return np.ndarray.view(value, np.ndarray) if isinstance(value, ndarray) else value


def _plain_all(value: Any) -> Any:
    """`value` with every vineyard `ndarray` in it (inside tuples and lists too) plain."""
    if isinstance(value, ndarray):
        return np.ndarray.view(value, np.ndarray)
    if type(value) in (tuple, list):
        return type(value)(_plain_all(item) for item in value)
    return value


def _returning_plain(name: str) -> Any:
    method = getattr(np.ndarray, name)

    def plain_method(self: ndarray, *args: Any, **kwargs: Any) -> Any:
        return method(np.ndarray.view(self, np.ndarray), *args, **kwargs)

    plain_method.__name__ = name
    plain_method.__doc__ = method.__doc__
    return plain_method


# The ndarray methods that make a new array (not through a ufunc or a numpy function).
for _name in (
    "reshape", "ravel", "flatten", "copy", "astype", "transpose", "squeeze", "swapaxes",
    "repeat", "take", "compress", "diagonal", "byteswap", "__copy__", "__deepcopy__",
):  # fmt: skip
    setattr(ndarray, _name, _returning_plain(_name))
ndarray.T = property(
    lambda self: np.ndarray.view(self, np.ndarray).T, doc="The transposed array (plain)."
)


def _list_like(array: np.ndarray) -> str:
    plain = array.view(np.ndarray)
    options: dict[str, Any] = {"separator": ", "}
    if plain.dtype.kind == "f" and plain.size:
        finite = plain[np.isfinite(plain)]
        if (
            finite.size == plain.size
            and np.all(finite == np.trunc(finite))
            and (np.all(np.abs(finite) < 2**53))
        ):
            options["formatter"] = {"float_kind": lambda x: str(int(x))}
    return np.array2string(plain, **options)


# numpy's name of the object dtype: such tensors hold a pickle.
_OBJECT_DTYPE_NAME = np.dtype(object).name

# dtype -> its `dtype.name`, `dtype.str` and, if structured, `dtype.descr` as JSON (computing
# `dtype.name` costs microseconds each time)
_value_types: dict[np.dtype, tuple[str, str, str | None]] = {}


def _set_value_type(meta: ObjectMeta, dtype: np.dtype, layout: Layout) -> None:
    """Records `dtype` in the fields of `layout` (TENSOR or ARRAY)."""
    fields = _value_types.get(dtype)
    if fields is None:
        descr = json.dumps(dtype.descr) if dtype.fields is not None else None
        fields = (dtype.name, dtype.str, descr)
        if len(_value_types) >= 1024:
            _value_types.clear()
        _value_types[dtype] = fields
    name, str_, descr = fields
    meta[layout.value_type] = name
    meta[layout.value_type_meta] = str_
    if descr is not None:
        meta[layout.value_type_descr] = descr


_dtypes: dict[tuple[Any, Any], np.dtype] = {}


def dtype_of(meta: ObjectMeta, typename: str = "", layout: Layout = TENSOR) -> np.dtype:
    """The dtype recorded in a Tensor (or, with `layout=ARRAY`, an Array) tree, or in its
    typename."""
    descr = meta.get(layout.value_type_descr)
    if descr:
        return np.dtype([tuple(field) for field in json.loads(descr)])
    name = meta.get(layout.value_type)
    if name is None:
        name = template_argument(typename)
    key = (name, meta.get(layout.value_type_meta))
    dtype = _dtypes.get(key)
    if dtype is None:
        dtype = _dtypes[key] = normalize_dtype(*key)
    return dtype


def _object_tensor(client: Any, value: np.ndarray, kw: dict[str, Any]) -> ObjectMeta:
    payload = pickle.dumps(value, protocol=5)
    meta = ObjectMeta()
    meta["typename"] = TENSOR.of(normalize_cpptype(value.dtype))
    meta[TENSOR.shape] = to_json(value.shape)
    meta[TENSOR.partition_index] = to_json(kw.get("partition_index", []))
    meta[TENSOR.order] = to_json("C")
    meta[TENSOR.value_type] = value.dtype.name
    meta[TENSOR.value_type_meta] = value.dtype.str
    meta[TENSOR.size] = len(payload)
    meta["nbytes"] = len(payload)
    meta.add_member(TENSOR.buffer, build_buffer(client, payload))
    return client.create_metadata(meta)


def numpy_tensor_builder(
    client: Any, value: np.ndarray, builder: Any = None, **kw: Any
) -> ObjectMeta:
    """Any array as `vineyard::Tensor<T>` (whatever its number of dimensions)."""
    if value.dtype.hasobject:
        return _object_tensor(client, value, kw)
    meta = ObjectMeta()
    meta["typename"] = TENSOR.of(normalize_cpptype(value.dtype))
    meta[TENSOR.shape] = to_json(value.shape)
    meta[TENSOR.partition_index] = to_json(kw.get("partition_index", []))
    order = "F" if value.flags.f_contiguous and not value.flags.c_contiguous else "C"
    meta[TENSOR.order] = to_json(order)
    _set_value_type(meta, value.dtype, TENSOR)
    meta["nbytes"] = value.nbytes
    meta.add_member(TENSOR.buffer, build_numpy_buffer(client, value))
    return client.create_metadata(meta)


def numpy_ndarray_builder(
    client: Any, value: np.ndarray, builder: Any = None, **kw: Any
) -> ObjectMeta:
    """1-D arrays as `vineyard::Array`, the others as `vineyard::Tensor<T>`."""
    if value.ndim != 1 or value.dtype.hasobject:
        return numpy_tensor_builder(client, value, builder, **kw)
    meta = ObjectMeta()
    meta["typename"] = ARRAY.typename
    meta[ARRAY.size] = int(value.shape[0])
    _set_value_type(meta, value.dtype, ARRAY)
    meta["nbytes"] = value.nbytes
    meta.add_member(ARRAY.buffer, build_numpy_buffer(client, value))
    return client.create_metadata(meta)


def numpy_scalar_builder(
    client: Any, value: np.generic, builder: Any = None, **kw: Any
) -> ObjectMeta:
    array = np.asarray(value)
    if array.dtype.hasobject:
        from vineyard.data.default import pickle_builder

        return pickle_builder(client, value)
    meta = ObjectMeta()
    meta["typename"] = TENSOR.of(normalize_cpptype(array.dtype))
    meta[TENSOR.shape] = to_json(array.shape)
    meta[TENSOR.partition_index] = to_json([])
    meta[TENSOR.order] = to_json("C")
    meta[TENSOR.numpy_scalar] = True
    _set_value_type(meta, array.dtype, TENSOR)
    meta["nbytes"] = array.nbytes
    meta.add_member(TENSOR.buffer, build_numpy_buffer(client, array))
    return client.create_metadata(meta)


def _elements(buffer: Callable[[], Any], dtype: np.dtype, count: int) -> np.ndarray:
    # np.frombuffer keeps the Blob as the array's base: the mapping stays alive, and a later
    # put finds the blob through the base chain.
    if count == 0 or dtype.itemsize == 0:
        return np.empty(count, dtype=dtype)
    return np.frombuffer(buffer(), dtype=dtype, count=count)


def array_resolver(obj: Any) -> np.ndarray:
    """A `vineyard::Array` (or C++ `vineyard::Array<T>`) as a 1-D read-only view."""
    return _array_of(obj.meta, obj.typename, lambda: obj.member(ARRAY.buffer))


def tensor_resolver(obj: Any) -> Any:
    """A `vineyard::Tensor<T>` as a read-only view (object tensors are unpickled)."""
    return _tensor_of(obj.meta, obj.typename, lambda: obj.member(TENSOR.buffer))


# The resolvers read their fields from `meta`: an ObjectMeta, or the plain tree (a dict) when
# `get` uses their tree forms; `buffer()` gives the blob of the `buffer_` member.


def _array_of(meta: Any, typename: str, buffer: Callable[[], Any]) -> np.ndarray:
    dtype = dtype_of(meta, typename, ARRAY)
    return _elements(buffer, dtype, int(meta[ARRAY.size])).view(ndarray)


def _tensor_of(meta: Any, typename: str, buffer: Callable[[], Any]) -> Any:
    if meta.get(TENSOR.value_type) == _OBJECT_DTYPE_NAME:
        size = int(meta.get(TENSOR.size) or 0)
        view = memoryview(buffer())
        return pickle.loads(view[:size] if size else view)
    dtype = dtype_of(meta, typename, TENSOR)
    shape = tuple(json.loads(meta[TENSOR.shape]))
    count = 1
    for extent in shape:
        count *= extent
    order = json.loads(meta[TENSOR.order]) if TENSOR.order in meta else "C"
    array = _elements(buffer, dtype, count).reshape(shape)
    if order == "F" and array.ndim > 1:
        array = np.asfortranarray(array)
    if meta.get(TENSOR.numpy_scalar):
        return array[()]
    return array


def _from_tree(
    build: Callable[[Any, str, Callable[[], Any]], Any], buffer_member: str
) -> Callable[..., Any]:
    """The tree form of a resolver built on `build`: needs its `buffer_member` blob mapped."""

    def from_tree(tree: dict[str, Any], blobs: dict[int, Any]) -> Any:
        member = tree.get(buffer_member)
        blob = blobs.get(int(member["id"][1:], 16)) if type(member) is dict else None
        if blob is None:
            return NOT_FROM_TREE
        return build(tree, tree.get("typename", ""), lambda: blob)

    return from_tree


register_tree_resolver(array_resolver, _from_tree(_array_of, ARRAY.buffer))
register_tree_resolver(tensor_resolver, _from_tree(_tensor_of, TENSOR.buffer))
