"""Which blob a buffer lives in: lets `put` reuse a blob instead of copying it.

Values that `get` returns (numpy arrays, pyarrow buffers, memoryviews) are views over blobs
mapped from shared memory. When such a value is put again, its bytes are already in vineyard:
the builder finds the blob and adds it as a member instead of allocating and copying.

Two ways to find it:
- the `.base` / `.obj` chain of numpy arrays and memoryviews, which ends at the native `Blob`;
- an index of the views handed out by `blob_view`, keyed by start address, for values whose
  chain is hidden (pyarrow buffers). An entry lives as long as the view it was made for.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, NamedTuple

from vineyard._native import Blob

__all__ = ["BlobRef", "blob_view", "find_blob", "remember_instance", "instance_of"]


class BlobRef(NamedTuple):
    """A sealed blob: id, size and the instance holding it."""

    blob_id: int
    size: int
    instance_id: int | None


_lock = threading.Lock()
# start address -> {id(view): BlobRef}: several live views may share one blob.
_by_address: dict[int, dict[int, BlobRef]] = {}
# id(view) -> the weak reference whose callback forgets the view
_watchers: dict[int, weakref.ref] = {}
# blob id -> instance id, for blobs handed out by clients (the native Blob does not say).
_instances: dict[int, int] = {}
_INSTANCES_LIMIT = 1 << 16


def remember_instance(blob_id: int, instance_id: int) -> None:
    """Records the instance a blob was read from."""
    if len(_instances) >= _INSTANCES_LIMIT:
        _instances.clear()
    _instances[blob_id] = instance_id


def instance_of(blob_id: int) -> int | None:
    """The instance a blob was read from, if known."""
    return _instances.get(blob_id)


class _Forget:
    """Drops a view's entry when the view dies."""

    __slots__ = ("address", "key")

    def __init__(self, address: int, key: int) -> None:
        self.address = address
        self.key = key

    def __call__(self, _ref: weakref.ref) -> None:
        with _lock:
            _watchers.pop(self.key, None)
            views = _by_address.get(self.address)
            if views is not None:
                views.pop(self.key, None)
                if not views:
                    del _by_address[self.address]


def blob_view(blob: Blob) -> memoryview:
    """A read-only memoryview of a blob, indexed so that a later `put` can find the blob."""
    view = memoryview(blob)
    size = blob.size
    if size:
        address = blob.address
        blob_id = int(blob.id)
        ref = BlobRef(blob_id, size, _instances.get(blob_id))
        key = id(view)
        with _lock:
            _by_address.setdefault(address, {})[key] = ref
            _watchers[key] = weakref.ref(view, _Forget(address, key))
    return view


def _from_base_chain(value: Any, address: int, size: int) -> BlobRef | None:
    seen = 0
    while value is not None and seen < 64:
        if isinstance(value, Blob):
            if value.size == size and value.address == address:
                blob_id = int(value.id)
                return BlobRef(blob_id, size, instance_of(blob_id))
            return None
        if isinstance(value, memoryview):
            value = value.obj
        else:
            value = getattr(value, "base", None)
        seen += 1
    return None


def find_blob(value: Any, address: int, size: int) -> BlobRef | None:
    """The blob whose whole extent is the `size` bytes at `address`, if one was handed out.

    `value` is the object owning the bytes (numpy array, memoryview, pyarrow buffer); its base
    chain is tried first.
    """
    if size == 0:
        return None
    found = _from_base_chain(value, address, size)
    if found is not None:
        return found
    with _lock:
        views = _by_address.get(address)
        if views:
            for ref in views.values():
                if ref.size == size:
                    return ref
    return None
