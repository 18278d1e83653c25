"""Which blob a buffer lives in: lets `put` reuse a blob instead of copying it.

Values that `get` returns (numpy arrays, pyarrow buffers, memoryviews) are views over blobs
mapped from shared memory. When such a value is put again, its bytes are already in vineyard:
the builder finds the blob and adds it as a member instead of allocating and copying.

Two ways to find it, neither of which keeps a table here:
- the `.base` / `.obj` chain of numpy arrays and memoryviews, which ends at the native `Blob`
  (which knows its id, size, address and instance);
- the native client, which knows the blobs it handed out that are still alive, by address
  (`find_blob`): for values whose chain is hidden, such as pyarrow buffers.
"""

from __future__ import annotations

from typing import Any

from vineyard._native import Blob, ObjectID

__all__ = ["find_blob"]

# How many `.base` / `.obj` links to follow before giving up.
_CHAIN_LIMIT = 64


def _blob_in_base_chain(value: Any) -> Blob | None:
    """The `Blob` at the end of the `.base` / `.obj` chain of `value`, if any."""
    for _ in range(_CHAIN_LIMIT):
        if value is None or isinstance(value, Blob):
            return value
        value = value.obj if isinstance(value, memoryview) else getattr(value, "base", None)
    return None


def find_blob(client: Any, value: Any, address: int, size: int) -> ObjectID | None:
    """The id of a blob on `client`'s instance whose whole extent is the `size` bytes at
    `address`, if `value` (the object owning those bytes: numpy array, memoryview, pyarrow
    buffer) is a view of one; else None.
    """
    if size == 0:
        return None
    blob = _blob_in_base_chain(value)
    if blob is not None:
        whole = blob.size == size and blob.address == address
        if whole and blob.instance_id == client.instance_id:
            return blob.id
        return None
    native = getattr(client, "_native", None)
    return native.find_blob(address, size) if native is not None else None
