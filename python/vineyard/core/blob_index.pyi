import weakref
from typing import Any, NamedTuple

from vineyard._native import Blob

__all__ = ["BlobRef", "blob_view", "find_blob", "remember_instance", "instance_of"]

class BlobRef(NamedTuple):
    blob_id: int
    size: int
    instance_id: int | None

def remember_instance(blob_id: int, instance_id: int) -> None: ...
def instance_of(blob_id: int) -> int | None: ...

class _Forget:
    address: int
    key: int
    def __init__(self, address: int, key: int) -> None: ...
    def __call__(self, _ref: weakref.ref) -> None: ...

def blob_view(blob: Blob) -> memoryview: ...
def find_blob(value: Any, address: int, size: int) -> BlobRef | None: ...
