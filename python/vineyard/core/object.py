"""The object model: `Object`, typed wrappers chosen by typename, and the `Blob` extras.

`client.get_object(id)` reads an object's tree and maps the blobs of its payload that live on
the client's instance; `Object` wraps the two. Members are reached with `obj.member(name)`,
`obj[name]` or as attributes (`pair.first`); a blob member is the native `Blob` (buffer
protocol, zero copy), or a `BlobElsewhere` (metadata only) when its payload is on another
instance. A remote client's blobs are the native `RemoteBlob`s it fetched.

The native `Blob` is used as is: it has the `Object` surface (`typename`, `meta`,
`instance_id`, `nbytes`, ...) itself, and `memoryview(blob)` works on it. This module
registers it as a virtual subclass of `Object`.
"""

from __future__ import annotations

import abc
import json
from typing import Any

from vineyard._native import Blob, BlobBuilder, ObjectID
from vineyard.core.meta import BLOB_TYPENAME, EMPTY_BLOB_ID, ObjectMeta

__all__ = [
    "Object",
    "BlobElsewhere",
    "ArrayObject",
    "TensorObject",
    "ArrowObject",
    "ArrowArrayObject",
    "ArrowRecordBatchObject",
    "ArrowTableObject",
    "ArrowChunkedArrayObject",
    "Blob",
    "BlobBuilder",
    "register_object_type",
    "wrap_object",
    "typename_of",
    "meta_of",
    "is_blob_meta",
]


class Object(metaclass=abc.ABCMeta):  # noqa: B024 (an ABC for Blob.register only)
    """A sealed object: its metadata tree plus the local blobs of its payload."""

    def __init__(
        self,
        meta: ObjectMeta,
        blobs: dict[int, Blob] | None = None,
        client: Any = None,
    ) -> None:
        self._meta = meta
        self._blobs = blobs if blobs is not None else {}
        self._client = client

    @property
    def id(self) -> ObjectID:
        return self._meta.id

    @property
    def typename(self) -> str:
        return self._meta.typename

    @property
    def meta(self) -> ObjectMeta:
        return self._meta

    @property
    def nbytes(self) -> int:
        return self._meta.nbytes

    @property
    def signature(self) -> int | None:
        return self._meta.signature

    @property
    def instance_id(self) -> int | None:
        return self._meta.instance_id

    @property
    def islocal(self) -> bool:
        return self._meta.islocal

    @property
    def isglobal(self) -> bool:
        return self._meta.isglobal

    @property
    def ispersist(self) -> bool:
        """True once persisted (asks the server when the object came from a client)."""
        client = self._client
        if client is not None:
            return client._native.is_persisted(self.id)
        return not self._meta.transient

    def member(self, name: str) -> Any:
        """The member called `name`, as an `Object` (or a `Blob`)."""
        return wrap_object(self._meta.member(name), self._blobs, self._client)

    def __getitem__(self, name: str) -> Any:
        return self.member(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        meta = self.__dict__.get("_meta")
        if meta is not None and meta.has_member(name):
            return self.member(name)
        raise AttributeError(
            f"{type(self).__name__} of {meta.typename if meta else '?'} has no attribute "
            f"or member {name!r}"
        )

    def has_remote_payload(self, direct: bool = True) -> bool:
        """True if a blob of this object lives on another instance (only own blob members
        when `direct`, else the whole tree)."""
        return _has_remote_blobs(self._meta, direct)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Object) and not isinstance(other, Blob):
            return self.id == other.id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f'Object <"{self._meta.get("id", "o?")}": {self.typename}>'

    __str__ = __repr__


class BlobElsewhere(Object):
    """A blob whose payload lives on another instance: metadata only (resolves to None)."""

    @property
    def size(self) -> int:
        return int(self._meta.get("length") or self._meta.get("nbytes") or 0)

    @property
    def is_empty(self) -> bool:
        return int(self.id) == EMPTY_BLOB_ID

    @property
    def address(self) -> int:
        raise ValueError(
            f"blob {self._meta.get('id')} lives on instance {self.instance_id}; its payload is "
            "not mapped here"
        )

    def __len__(self) -> int:
        return self.size


class ArrayObject(Object):
    """A `vineyard::Array` (a 1-D numpy array): `size()` is the number of elements."""

    def size(self) -> int:
        return int(self._meta["size_"])

    def __len__(self) -> int:
        return self.size()

    @property
    def value_type(self) -> str:
        return self._meta.get("value_type_", "")


class TensorObject(Object):
    """A `vineyard::Tensor<T>`: `shape` and `size()` come from the metadata."""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(json.loads(self._meta["shape_"]))

    def size(self) -> int:
        count = 1
        for extent in self.shape:
            count *= extent
        return count

    @property
    def value_type(self) -> str:
        return self._meta.get("value_type_", "")


_object_types: dict[str, type[Object]] = {}


def register_object_type(typename_prefix: str, cls: type[Object]) -> None:
    """Makes `get_object` wrap objects whose typename starts with the prefix in `cls`."""
    _object_types[typename_prefix] = cls


class ArrowObject(Object):
    """An object of an Arrow layout: it exports its data through the Arrow PyCapsule
    protocol, resolved in Rust, its buffers in the shared memory (no pyarrow needed)."""

    def _arrow(self) -> Any:
        client = self._client
        if client is None or not hasattr(client._native, "get_value"):
            raise TypeError(
                f"{self!r} did not come from an IPC client, so its Arrow data cannot be mapped "
                "here; read it with client.get_object(id) of a connected client"
            )
        fetched = client._native.get_value(self.id, ())
        if fetched is None or fetched[0] != "arrow":
            raise TypeError(
                f"{self.typename} {self.id} has members on other instances; migrate it "
                "(client.get(id, fetch=True)) before reading its Arrow data"
            )
        return fetched[2]

    def __arrow_c_schema__(self) -> Any:
        return self._arrow().__arrow_c_schema__()


class ArrowArrayObject(ArrowObject):
    """An Arrow array (`__arrow_c_array__`)."""

    def __arrow_c_array__(self, requested_schema: Any = None) -> Any:
        return self._arrow().__arrow_c_array__(requested_schema)


class ArrowRecordBatchObject(ArrowObject):
    """An Arrow record batch (`__arrow_c_array__` as a struct, `__arrow_c_stream__`)."""

    def __arrow_c_array__(self, requested_schema: Any = None) -> Any:
        return self._arrow().__arrow_c_array__(requested_schema)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._arrow().__arrow_c_stream__(requested_schema)


class ArrowTableObject(ArrowObject):
    """An Arrow table (`__arrow_c_stream__` of its record batches)."""

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._arrow().__arrow_c_stream__(requested_schema)


class ArrowChunkedArrayObject(ArrowObject):
    """An Arrow chunked array (`__arrow_c_stream__` of its chunks)."""

    def __arrow_c_schema__(self) -> Any:
        import pyarrow as pa

        return pa.table(self._arrow()).schema.field(0).__arrow_c_schema__()

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        import pyarrow as pa

        return pa.table(self._arrow()).column(0).__arrow_c_stream__(requested_schema)


register_object_type("vineyard::Array", ArrayObject)
register_object_type("vineyard::Tensor", TensorObject)
# The Arrow layouts' classes are registered with the built-in types (`vineyard.data`).


def _object_type(typename: str) -> type[Object]:
    best, best_len = Object, -1
    for prefix, cls in _object_types.items():
        if len(prefix) > best_len and typename.startswith(prefix):
            best, best_len = cls, len(prefix)
    return best


def is_blob_meta(meta: ObjectMeta) -> bool:
    """True for the tree of a blob."""
    if meta.typename == BLOB_TYPENAME:
        return True
    value = meta._tree.get("id")
    return isinstance(value, str) and len(value) == 17 and value[1] in "89abcdef"


def _has_remote_blobs(meta: ObjectMeta, direct: bool) -> bool:
    local = meta._local_instance
    if local is None:
        return False
    for member in meta._tree.values():
        if type(member) is not ObjectMeta:
            continue
        if is_blob_meta(member):
            instance = member._tree.get("instance_id")
            if instance is not None and instance != local and not _is_empty_blob(member):
                return True
        elif not direct and _has_remote_blobs(member, False):
            return True
    return False


def _is_empty_blob(meta: ObjectMeta) -> bool:
    return meta._tree.get("id") == "o8000000000000000"


def wrap_object(meta: ObjectMeta, blobs: dict[int, Blob], client: Any = None) -> Any:
    """The `Object` (or `Blob`) for a tree, given the blobs mapped for it."""
    if is_blob_meta(meta):
        blob = blobs.get(meta.id_value())
        if blob is not None:
            return blob
        return BlobElsewhere(meta, blobs, client)
    return _object_type(meta.typename)(meta, blobs, client)


def typename_of(value: Any) -> str:
    """The typename of an Object, a Blob or an ObjectMeta."""
    return value.typename


def meta_of(value: Any) -> ObjectMeta:
    """The metadata tree of an Object, a Blob or an ObjectMeta."""
    if isinstance(value, ObjectMeta):
        return value
    return value.meta


Object.register(Blob)
