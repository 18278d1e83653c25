"""vineyard: an in-memory immutable data manager (vineyard-rs, compatible with Vineyard/v6d).

    >>> import vineyard
    >>> client = vineyard.connect('/var/run/vineyard.sock')
    >>> object_id = client.put(np.arange(8))
    >>> client.get(object_id)

Layout:
- `vineyard._native`: the Rust core (client, blobs, ids, exceptions, the server);
- `vineyard.core`: the Python client, `ObjectMeta`, `Object`, builder and resolver contexts;
- `vineyard.data`: the built-in builders and resolvers (Python scalars and containers, numpy,
  pandas, pyarrow, and a pickle fallback);
- `vineyard.io`: Vineyard's `serialize` / `deserialize` (saving and loading objects);
- `python -m vineyard --socket PATH [--size 4Gi]` runs an instance.

`import vineyard` stays light: numpy, pandas and pyarrow are imported only when a value of
theirs is put or an object of theirs resolved.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from vineyard import _native, io
from vineyard._native import Blob, BlobBuilder, ObjectID, RemoteBlob, RemoteBlobBuilder
from vineyard.core import (
    BuilderContext,
    Client,
    InstanceStatus,
    IPCClient,
    Object,
    ObjectMeta,
    ObjectName,
    ResolverContext,
    RPCClient,
    builder_context,
    connect,
    default_builder_context,
    default_resolver_context,
    resolver_context,
)
from vineyard.core.exceptions import native_exceptions
from vineyard.data import register_builtin_types

__version__: str = _native.__version__

globals().update(native_exceptions())
VineyardException = _native.VineyardException

_default_lock = threading.Lock()
_default_client: IPCClient | None = None
_default_pid = 0


def get_current_client() -> IPCClient:
    """The default client, connected on first use to `VINEYARD_IPC_SOCKET` (again after
    a fork)."""
    global _default_client, _default_pid
    with _default_lock:
        if _default_client is None or _default_pid != os.getpid():
            _default_client = connect()
            _default_pid = os.getpid()
        return _default_client


def put(value: Any, builder: Any = None, persist: bool = False, name: str | None = None, **kw: Any):
    """`put` on the default client (see `get_current_client`)."""
    return get_current_client().put(value, builder, persist, name, **kw)


def get(
    object_id: Any = None, name: str | None = None, resolver: Any = None, fetch: bool = False, **kw
):
    """`get` on the default client (see `get_current_client`)."""
    return get_current_client().get(object_id, name, resolver, fetch, **kw)


__all__ = [
    "Blob",
    "BlobBuilder",
    "BuilderContext",
    "Client",
    "IPCClient",
    "InstanceStatus",
    "Object",
    "ObjectID",
    "ObjectMeta",
    "ObjectName",
    "RPCClient",
    "RemoteBlob",
    "RemoteBlobBuilder",
    "ResolverContext",
    "VineyardException",
    "__version__",
    "builder_context",
    "connect",
    "default_builder_context",
    "default_resolver_context",
    "get",
    "get_current_client",
    "io",
    "put",
    "register_builtin_types",
    "resolver_context",
    *sorted(native_exceptions()),
]
