"""Vineyard's `vineyard._C` import path: the same classes as `vineyard` and `vineyard._native`.

Code written for Vineyard imports `from vineyard._C import ObjectMeta, Blob, ...`.
"""

from vineyard._native import (
    Blob,
    BlobBuilder,
    ObjectID,
    RemoteBlob,
    RemoteBlobBuilder,
    VineyardException,
)
from vineyard.core.client import InstanceStatus, IPCClient, connect
from vineyard.core.exceptions import native_exceptions
from vineyard.core.meta import ObjectMeta, ObjectName
from vineyard.core.object import Object
from vineyard.core.rpc import RPCClient

globals().update(native_exceptions())

__all__ = [
    "Blob",
    "BlobBuilder",
    "IPCClient",
    "InstanceStatus",
    "Object",
    "ObjectID",
    "ObjectMeta",
    "ObjectName",
    "RPCClient",
    "RemoteBlob",
    "RemoteBlobBuilder",
    "VineyardException",
    "connect",
    *sorted(native_exceptions()),
]
