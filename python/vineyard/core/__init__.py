"""The client, the object model, and the builder and resolver contexts.

Layout:
- `meta`: `ObjectMeta` (the metadata tree) and `ObjectName`;
- `object`: `Object` and typed wrappers (the native `Blob` is a virtual subclass of `Object`);
- `client`: `IPCClient` and `connect`; `rpc`: `RPCClient` (the whole API over Arrow Flight),
  with `remote_put` (puts recorded and sent all or nothing), `remote_blobs` (blob bytes over
  Flight) and `progress` (reporting long transfers); `fetch`: `fetch_remote` (an IPC client's
  `get(..., fetch=True)`);
- `ids` / `status`: object ids from what users pass, and `InstanceStatus` (both clients use
  them);
- `builder` / `resolver`: the contexts that turn Python values into objects and back;
- `blob_reuse`: finds the blob behind a buffer, so that `put` reuses it instead of copying;
- `calling`: calls registered functions with the arguments they accept;
- `exceptions`: the exception classes.
"""

from vineyard.core.builder import (
    BuilderContext,
    builder_context,
    default_builder_context,
    get_current_builders,
)
from vineyard.core.client import Client, InstanceStatus, IPCClient, connect
from vineyard.core.meta import ObjectMeta, ObjectName
from vineyard.core.object import Object
from vineyard.core.resolver import (
    ResolverContext,
    default_resolver_context,
    get_current_resolvers,
    resolver_context,
)
from vineyard.core.rpc import RPCClient

__all__ = [
    "BuilderContext",
    "Client",
    "IPCClient",
    "InstanceStatus",
    "Object",
    "ObjectMeta",
    "ObjectName",
    "RPCClient",
    "ResolverContext",
    "builder_context",
    "connect",
    "default_builder_context",
    "default_resolver_context",
    "get_current_builders",
    "get_current_resolvers",
    "resolver_context",
]
