"""Helpers shared by the built-in builders: dtype names, JSON fields, and blobs from buffers."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from vineyard.core.blob_reuse import find_blob
from vineyard.core.builder import inside_put, seal_blob
from vineyard.core.meta import EMPTY_BLOB_ID, ObjectMeta
from vineyard.data.layout import CPP_ELEMENT_NAMES

__all__ = [
    "normalize_dtype",
    "normalize_cpptype",
    "normalize_arrow_dtype",
    "to_json",
    "from_json",
    "build_buffer",
    "build_numpy_buffer",
    "empty_blob_meta",
]

_CPP_TO_NUMPY = {
    "bool": "bool",
    "int8": "int8",
    "int8_t": "int8",
    "char": "int8",
    "uint8": "uint8",
    "uint8_t": "uint8",
    "int16": "int16",
    "int16_t": "int16",
    "short": "int16",
    "uint16": "uint16",
    "uint16_t": "uint16",
    "i32": "int32",
    "int": "int32",
    "int32": "int32",
    "int32_t": "int32",
    "u32": "uint32",
    "uint": "uint32",
    "uint_t": "uint32",
    "uint32": "uint32",
    "uint32_t": "uint32",
    "i64": "int64",
    "int64": "int64",
    "int64_t": "int64",
    "long": "int64",
    "long long": "int64",
    "u64": "uint64",
    "uint64": "uint64",
    "uint64_t": "uint64",
    "half": "float16",
    "halffloat": "float16",
    "float16": "float16",
    "float": "float32",
    "float32": "float32",
    "double": "float64",
    "float64": "float64",
}


def normalize_dtype(dtype: Any, dtype_meta: str | None = None) -> np.dtype:
    """A numpy dtype from a C++, Arrow or numpy type name (`'double'`, `'int64_t'`,
    `'float'`, ...); `dtype_meta` (numpy's `dtype.str`, e.g. `'<U5'`) wins when given."""
    if isinstance(dtype, np.dtype):
        return dtype
    if dtype is int:
        return np.dtype("int64")
    if dtype is float:
        return np.dtype("float64")
    if dtype_meta:
        try:
            return np.dtype(dtype_meta)
        except TypeError:
            pass
    name = str(dtype).strip()
    if name in _CPP_TO_NUMPY:
        return np.dtype(_CPP_TO_NUMPY[name])
    return np.dtype(name)


def normalize_cpptype(dtype: np.dtype) -> str:
    """The C++ spelling Vineyard uses in typenames (`vineyard::Tensor<double>`)."""
    dtype = np.dtype(dtype)
    return CPP_ELEMENT_NAMES.get(dtype.name, dtype.name)


def normalize_arrow_dtype(dtype: Any):
    """A pyarrow type from a C++, Arrow or numpy type name."""
    import pyarrow as pa

    if isinstance(dtype, pa.DataType):
        return dtype
    name = str(dtype).strip()
    if name in ("string", "std::string", "str", "large_string"):
        return pa.large_string()
    if name in ("null", "NULL", "None"):
        return pa.null()
    if name == "bool":
        return pa.bool_()
    return pa.from_numpy_dtype(normalize_dtype(name))


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def to_json(value: Any) -> str:
    """JSON text for Vineyard's JSON-string fields (`shape_`, `order_`, ...)."""
    return json.dumps(value, default=_json_default)


def from_json(text: str) -> Any:
    return json.loads(text)


def empty_blob_meta(client: Any) -> ObjectMeta:
    """The member tree of the empty blob."""
    return ObjectMeta.blob(EMPTY_BLOB_ID, 0, client.instance_id)


def _address_of(data: Any, view: memoryview) -> int:
    address = getattr(data, "address", None)  # pyarrow.Buffer, Blob
    if isinstance(address, int):
        return address
    interface = getattr(data, "__array_interface__", None)
    if interface is not None:
        return interface["data"][0]
    return np.frombuffer(view, dtype=np.uint8).__array_interface__["data"][0]


def build_buffer(
    client: Any, data: Any, size: int | None = None, *_args: Any, **_kw: Any
) -> ObjectMeta:
    """A blob holding the bytes of `data` (any buffer; None or empty: the empty blob).

    If the bytes are exactly a blob this process got from vineyard (a value from `get`), that
    blob is reused instead of copied. Inside a remote client's `put`, large buffers are sent
    as they are when the put ends (before it returns): do not change them meanwhile.
    """
    if data is None:
        return empty_blob_meta(client)
    view = data if isinstance(data, memoryview) else memoryview(data)
    if not view.contiguous:
        view = memoryview(view.tobytes())
    nbytes = view.nbytes if size is None else size
    if nbytes == 0:
        return empty_blob_meta(client)
    if not isinstance(data, (bytes, bytearray)):
        blob_id = find_blob(client, data, _address_of(data, view), nbytes)
        if blob_id is not None:
            return ObjectMeta.blob(blob_id, nbytes, client.instance_id)
    if view.ndim != 1 or view.format not in ("B", "b", "c") or view.nbytes != nbytes:
        view = view.cast("B")[:nbytes]
    return ObjectMeta.blob(_new_blob(client, view, nbytes), nbytes, client.instance_id)


def build_numpy_buffer(client: Any, array: np.ndarray) -> ObjectMeta:
    """A blob holding the elements of `array` in C order (reused if already in vineyard; inside
    a remote client's `put`, sent as it is when the put ends: do not change it meanwhile)."""
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    if array.nbytes == 0:
        return empty_blob_meta(client)
    blob_id = find_blob(client, array, array.__array_interface__["data"][0], array.nbytes)
    if blob_id is not None:
        return ObjectMeta.blob(blob_id, array.nbytes, client.instance_id)
    raw = array.reshape(-1).view(np.uint8)
    blob_id = _new_blob(client, raw, array.nbytes)
    return ObjectMeta.blob(blob_id, array.nbytes, client.instance_id)


# Inside `put`, blobs up to this size travel in one request the client does not wait for
# (`put_blob_request`); larger ones are allocated first (a round trip) and written in place.
_SMALL_BLOB_BYTES = 16 << 10


def _new_blob(client: Any, data: Any, nbytes: int) -> Any:
    """A new sealed blob holding the `nbytes` bytes of `data` (a flat byte buffer)."""
    if inside_put():
        if nbytes <= _SMALL_BLOB_BYTES:
            return client._native.put_blob_unawaited(data)
        # A remote client sends large buffers as they are when the put ends: no copy.
        shared = getattr(client._native, "put_blob_shared", None)
        if shared is not None:
            return shared(data)
    writer = client.create_blob(nbytes)
    try:
        writer.copy(0, data)
    except BaseException:
        writer.abort()
        raise
    return seal_blob(writer)
