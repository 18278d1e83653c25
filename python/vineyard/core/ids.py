"""Object ids from what users pass: ids, ints, `o...` strings, objects, blobs, trees.

Shared by the IPC client (`client`) and the RPC client (`rpc`).
"""

from __future__ import annotations

from typing import Any

from vineyard._native import ObjectID
from vineyard.core.meta import ObjectMeta

__all__ = ["as_object_id", "as_object_ids"]


def as_object_id(value: Any) -> ObjectID:
    """An ObjectID from an ObjectID, an int, an `o...` string, an Object, a Blob or a meta."""
    if isinstance(value, ObjectID):
        return value
    if isinstance(value, (int, str)):
        return ObjectID(value)
    object_id = getattr(value, "id", None)
    if isinstance(object_id, ObjectID):
        return object_id
    if isinstance(value, ObjectMeta):
        raise ValueError(f"the metadata of {value.typename or 'this object'} has no id yet")
    raise TypeError(f"expected an object id, an Object or an ObjectMeta, got {type(value)}")


def as_object_ids(values: Any) -> list[ObjectID]:
    """ObjectIDs from one value `as_object_id` takes, or a list, tuple or set of them."""
    if isinstance(values, (list, tuple, set, frozenset)):
        return [as_object_id(value) for value in values]
    return [as_object_id(values)]
