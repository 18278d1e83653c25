"""`fetch_remote`: what `IPCClient.get(..., fetch=True)` and `IPCClient.migrate` use. It pulls
the payloads of members held by other instances over their Flight endpoints into the local
instance, and rebuilds the metadata over the local copies.
"""

from __future__ import annotations

from typing import Any

from vineyard import _native
from vineyard._native import ObjectID
from vineyard.core.meta import BLOB_TYPENAME, EMPTY_BLOB_ID, ObjectMeta
from vineyard.core.rpc import RPCClient, is_tls_endpoint, parse_endpoint

__all__ = ["fetch_remote"]

# Fields of a tree that the instance assigns when it creates an object.
_ASSIGNED = ("id", "signature", "instance_id", "__timestamp", "transient")


def fetch_remote(client: Any, metas: list[ObjectMeta], token: str | None = None):
    """The trees of `metas`, with every blob held by another instance copied here over that
    instance's Flight endpoint and every object above such a blob created anew over the
    copies. Trees without remote blobs come back as they were."""
    local_instance = client.instance_id
    remote: dict[int, int] = {}
    for meta in metas:
        _remote_blobs(meta.to_tree(), local_instance, remote)
    if not remote:
        return metas
    copies = _copy_blobs(client, remote, token)
    rebuilt = []
    for meta in metas:
        tree = _rebuild(client, meta.to_tree(), copies)
        if tree is None:
            rebuilt.append(meta)
        else:
            rebuilt.append(client.get_meta(ObjectID(tree["id"])))
    return rebuilt


def _is_blob_tree(tree: dict[str, Any]) -> bool:
    if tree.get("typename") == BLOB_TYPENAME:
        return True
    value = tree.get("id")
    return isinstance(value, str) and len(value) == 17 and value[1] in "89abcdef"


def _remote_blobs(tree: dict[str, Any], local_instance: int, remote: dict[int, int]) -> None:
    if _is_blob_tree(tree):
        blob_id = int(ObjectID(tree["id"]))
        instance = tree.get("instance_id")
        if instance is not None and instance != local_instance and blob_id != EMPTY_BLOB_ID:
            remote[blob_id] = instance
        return
    for value in tree.values():
        if isinstance(value, dict):
            _remote_blobs(value, local_instance, remote)


def _endpoints(client: Any, instances: set[int]) -> dict[int, str]:
    cluster = client.meta
    endpoints = {}
    for instance in sorted(instances):
        info = cluster.get(instance)
        if info is None:
            raise _native.ObjectNotExistsException(
                f"instance {instance} holds part of the payload but is not in the cluster "
                "(it may have stopped); its payload cannot be fetched"
            )
        endpoint = info.get("rpc_endpoint") or ""
        if not endpoint or endpoint.startswith("0.0.0.0:0"):
            raise _native.ConnectionFailedException(
                f"instance {instance} serves no RPC (Flight) endpoint, so its payload cannot "
                "be fetched; start it with RPC enabled (the default)"
            )
        endpoints[instance] = endpoint
    return endpoints


def _copy_blobs(client: Any, remote: dict[int, int], token: str | None) -> dict[int, ObjectMeta]:
    """Copies each remote blob into a new local blob; returns the new blobs' trees by the
    remote blob ids."""
    endpoints = _endpoints(client, set(remote.values()))
    copies: dict[int, ObjectMeta] = {}
    rpc_clients: dict[int, RPCClient] = {}
    try:
        for blob_id, instance in remote.items():
            rpc = rpc_clients.get(instance)
            if rpc is None:
                endpoint = endpoints[instance]
                rpc = RPCClient(
                    *parse_endpoint(endpoint), token=token, tls=is_tls_endpoint(endpoint)
                )
                rpc_clients[instance] = rpc
            fetched = rpc.get_blob(ObjectID(blob_id))
            builder = client.create_blob(fetched.size)
            builder.copy(0, fetched)
            copies[blob_id] = ObjectMeta.blob(builder.seal(), fetched.size, client.instance_id)
    finally:
        for rpc in rpc_clients.values():
            rpc.close()
    return copies


def _rebuild(
    client: Any, tree: dict[str, Any], copies: dict[int, ObjectMeta]
) -> dict[str, Any] | None:
    """The tree recreated over the local copies, or None if nothing below it was copied."""
    if _is_blob_tree(tree):
        copy = copies.get(int(ObjectID(tree["id"])))
        return copy.to_tree() if copy is not None else None
    changed = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            member = _rebuild(client, value, copies)
            if member is not None:
                changed[key] = member
    if not changed:
        return None
    fresh = {key: value for key, value in tree.items() if key not in _ASSIGNED}
    fresh.update(changed)
    fresh["global"] = False
    fresh["transient"] = True
    meta = ObjectMeta.from_tree(fresh, client.instance_id)
    for key, value in list(meta._tree.items()):
        # Unchanged members stay links to the objects they were.
        if type(value) is ObjectMeta and key not in changed and not _is_blob_tree(value._tree):
            meta._tree[key] = ObjectMeta.placeholder(value.id)
    client.create_metadata(meta)
    return meta.to_tree()
