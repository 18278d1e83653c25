"""`IPCClient`: a connection to one vineyard instance over its UNIX socket.

It wraps the native client (which owns the socket and the shared-memory mappings and releases
the GIL around every blocking call) and speaks in Python objects: `ObjectMeta`, `Object`,
`Blob`. `put` and `get` run the builder and resolver contexts.

A client belongs to the process that created it: after `os.fork()` the native layer refuses
to use the parent's connection (`ConnectionErrorException`); call `client.fork()` in the child
for a fresh connection.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from typing import Any

from vineyard import _native
from vineyard._native import Blob, BlobBuilder, ObjectID
from vineyard.core.builder import inside_put, put
from vineyard.core.fetch import fetch_remote
from vineyard.core.ids import as_object_id, as_object_ids
from vineyard.core.meta import BLOB_TYPENAME, EMPTY_BLOB_ID, ObjectMeta, ObjectName
from vineyard.core.object import is_blob_meta, wrap_object
from vineyard.core.resolver import get
from vineyard.core.rpc import RPCClient, is_tls_endpoint, parse_endpoint
from vineyard.core.sql import SqlSession, sql
from vineyard.core.status import InstanceStatus

__all__ = ["IPCClient", "Client", "InstanceStatus", "as_object_id", "connect"]


class IPCClient:
    """A client of one instance, connected through its UNIX socket."""

    def __init__(self, socket: str | os.PathLike[str] | None = None, *, _native_client=None):
        if _native_client is None:
            if socket is None:
                raise ValueError("IPCClient needs the path of the instance's UNIX socket")
            _native_client = _native.IPCClient(os.fspath(socket))
        self._native = _native_client
        self._instance_id: int = _native_client.instance_id
        # Flight clients of the instance's endpoint for `sql`, by (token, TLS roots).
        self._sql_sessions: dict[Any, SqlSession] = {}

    # -- connection ------------------------------------------------------------------------

    @property
    def instance_id(self) -> int:
        """The id of the instance this client is connected to."""
        return self._instance_id

    @property
    def ipc_socket(self) -> str:
        return self._native.socket

    @property
    def rpc_endpoint(self) -> str:
        return self._native.rpc_endpoint

    @property
    def connected(self) -> bool:
        return self._native.connected

    @property
    def is_ipc(self) -> bool:
        return True

    @property
    def is_rpc(self) -> bool:
        return False

    @property
    def version(self) -> str:
        return _native.__version__

    @property
    def status(self) -> InstanceStatus:
        """Memory use and connection counts of the instance."""
        return self._native.status()

    @property
    def meta(self) -> dict[int, dict[str, Any]]:
        """The instances of the cluster, keyed by instance id."""
        cluster = self._native.cluster_meta()
        return {
            int(key[1:]) if key[:1] == "i" else int(key): value for key, value in cluster.items()
        }

    def fork(self) -> IPCClient:
        """A new connection to the same instance (use it in a child process after fork)."""
        return IPCClient(_native_client=self._native.reconnect())

    def close(self) -> None:
        """Closes the client. An error in a request `put` did not wait for, which no later
        request reported, is raised here (a connection already lost is no error)."""
        try:
            self._native.flush()
        except _native.ConnectionErrorException:
            pass
        finally:
            for session in self._sql_sessions.values():
                session.close()
            self._sql_sessions.clear()
            self._native.close()

    def __enter__(self) -> IPCClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'IPCClient <socket="{self._native.socket}", instance_id={self._instance_id}>'

    # -- SQL -------------------------------------------------------------------------------

    def sql(
        self,
        query: str,
        parameters: Any = None,
        *,
        name: str | ObjectName | None = None,
        reader: bool = False,
        token: str | None = None,
        tls_root_certs: Any = None,
    ) -> Any:
        """Runs SQL over the instance's objects (named tables, record batches, dataframes and
        arrays are tables; any object is a table under its id, `o...`), in the instance,
        through its Flight SQL endpoint (`rpc_endpoint`; `token` defaults to
        `$VINEYARD_RPC_TOKEN`). Returns a pyarrow Table, a RecordBatchReader with `reader`,
        or with `name` the ObjectID of the table the rows are stored as. `parameters` fill
        the query's `?` in order. See `vineyard.core.sql`."""
        key = (token, tls_root_certs)
        session = self._sql_sessions.get(key)
        if session is None:
            session = self._sql_sessions[key] = SqlSession(self.rpc_endpoint, token, tls_root_certs)
        return sql(self, session.client, session.options, query, parameters, name, reader)

    # -- values ----------------------------------------------------------------------------

    def put(
        self,
        value: Any,
        builder: Any = None,
        persist: bool = False,
        name: str | None = None,
        **kwargs: Any,
    ) -> ObjectID:
        """Stores a Python value; returns the new object's id."""
        return put(self, value, builder, persist, name, **kwargs)

    def get(
        self,
        object_id: Any = None,
        name: str | None = None,
        resolver: Any = None,
        fetch: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Reads an object (by id or by name) back as a Python value."""
        return get(self, object_id, name, resolver, fetch, **kwargs)

    # -- metadata --------------------------------------------------------------------------

    def get_meta(
        self, object_id: Any, sync_remote: bool = False, fetch: bool = False
    ) -> ObjectMeta:
        """The metadata tree of an object."""
        (text,) = self._native.get_metadatas([as_object_id(object_id)])
        return ObjectMeta.from_json(text, self._instance_id)

    def get_metas(self, object_ids: Iterable[Any], sync_remote: bool = False) -> list[ObjectMeta]:
        ids = [as_object_id(object_id) for object_id in object_ids]
        if not ids:
            return []
        return [
            ObjectMeta.from_json(text, self._instance_id)
            for text in self._native.get_metadatas(ids)
        ]

    def create_metadata(self, metadata: Any, instance_id: int | None = None) -> Any:
        """Creates an object from its tree; returns the tree, now with `id` and `signature`.

        Members must exist already, except members without an id, which are created first.
        Inside `put` (a builder's call), it does not wait for the server (see `put`).
        """
        if isinstance(metadata, (list, tuple)):
            return [self.create_metadata(meta, instance_id) for meta in metadata]
        if not isinstance(metadata, ObjectMeta):
            raise TypeError(f"create_metadata takes an ObjectMeta, got {type(metadata).__name__}")
        tree = self._wire_tree(metadata, instance_id)
        own = metadata._tree
        create = (
            self._native.create_metadata_unawaited if inside_put() else self._native.create_metadata
        )
        own["id"], own["signature"], own["instance_id"] = create(json.dumps(tree))
        metadata._local_instance = self._instance_id
        return metadata

    def _wire_tree(self, meta: ObjectMeta, instance_id: int | None) -> dict[str, Any]:
        """The tree to send: members reduced to links (blob members in full, as the server
        needs their sizes); members without ids are created first."""
        tree: dict[str, Any] = {}
        blob_links: list[tuple[str, ObjectID]] = []
        for key, value in meta._tree.items():
            if type(value) is not ObjectMeta:
                tree[key] = value
                continue
            member_tree = value._tree
            if "id" not in member_tree:
                self.create_metadata(value, instance_id)
            if is_blob_meta(value):
                if value.is_placeholder or "instance_id" not in member_tree:
                    blob_links.append((key, value.id))
                    continue
                tree[key] = value.to_tree()
            else:
                tree[key] = {"id": member_tree["id"]}
        if blob_links:
            ids = [blob_id for _, blob_id in blob_links]
            for (key, _), blob_meta in zip(blob_links, self._blob_metas(ids), strict=True):
                tree[key] = blob_meta.to_tree()
                meta._tree[key] = blob_meta
        if "instance_id" not in tree:
            tree["instance_id"] = self._instance_id if instance_id is None else instance_id
        if "typename" not in tree:
            raise _native.InvalidException(
                "the metadata has no typename: set meta['typename'] "
                "(e.g. 'vineyard::Tensor<double>')"
            )
        return tree

    def _blob_metas(self, blob_ids: list[ObjectID]) -> list[ObjectMeta]:
        wanted = [blob_id for blob_id in blob_ids if int(blob_id) != EMPTY_BLOB_ID]
        known = {}
        if wanted:
            for meta in self.get_metas(wanted):
                known[int(meta.id)] = meta
        result = []
        for blob_id in blob_ids:
            if int(blob_id) == EMPTY_BLOB_ID:
                result.append(ObjectMeta.blob(EMPTY_BLOB_ID, 0, self._instance_id))
            else:
                found = known[int(blob_id)]
                size = int(found.get("length") or found.get("nbytes") or 0)
                result.append(ObjectMeta.blob(blob_id, size, found.instance_id))
        return result

    def persist(self, object_id: Any) -> None:
        """Publishes the object's metadata to the cluster (and makes it nameable)."""
        object_id = as_object_id(object_id)
        self._native.persist(object_id)

    def exists(self, object_id: Any) -> bool:
        return self._native.exists(as_object_id(object_id))

    def delete(
        self,
        object_ids: Any,
        force: bool = False,
        deep: bool = True,
        memory_trim: bool = False,
    ) -> None:
        """Deletes objects (one id, an Object, or a list of them); unknown ids are ignored."""
        ids = as_object_ids(object_ids)
        if ids:
            self._native.delete(ids, force, deep)
        if memory_trim:
            self.memory_trim()

    def memory_trim(self) -> bool:
        """Gives the instance's free shared memory back to the system (`Shmem` in
        /proc/meminfo drops by it); true if any was released."""
        return self._native.memory_trim()

    def list_metadatas(
        self, pattern: str = "*", regex: bool = False, limit: int = 5, nobuffer: bool = False
    ) -> list[ObjectMeta]:
        """The trees of objects whose typename matches the glob (or regex) pattern."""
        texts = self._native.list_metadatas(pattern, regex, limit)
        return [ObjectMeta.from_json(text, self._instance_id) for text in texts]

    def list_objects(self, pattern: str = "*", regex: bool = False, limit: int = 5) -> list[Any]:
        """The objects whose typename matches the glob (or regex) pattern."""
        return self._objects(self.list_metadatas(pattern, regex, limit), fetch=False)

    # -- names -----------------------------------------------------------------------------

    def put_name(self, object_id: Any, name: str | ObjectName) -> None:
        """Names a persisted object."""
        self._native.put_name(as_object_id(object_id), str(name))

    def get_name(self, name: str | ObjectName, wait: bool = False) -> ObjectID:
        """The id of the object with that name (waits for it to appear when `wait`)."""
        return self._native.get_name(str(name), wait)

    def drop_name(self, name: str | ObjectName) -> None:
        self._native.drop_name(str(name))

    def list_names(
        self, pattern: str = "*", regex: bool = False, limit: int = 5
    ) -> dict[str, ObjectID]:
        return dict(self._native.list_names(pattern, regex, limit))

    # -- blobs -----------------------------------------------------------------------------

    def create_blob(self, size: int | list[int]) -> BlobBuilder | list[BlobBuilder]:
        """A writable blob of `size` bytes in shared memory (several, given a list)."""
        if isinstance(size, (list, tuple)):
            return [self._native.create_blob(int(one)) for one in size]
        return self._native.create_blob(int(size))

    def create_empty_blob(self) -> BlobBuilder:
        return self._native.create_blob(0)

    def get_blob(self, object_id: Any, unsafe: bool = False) -> Blob:
        """A sealed blob, mapped read-only (zero copy)."""
        (blob,) = self.get_blobs([object_id], unsafe)
        return blob

    def get_blobs(self, object_ids: Iterable[Any], unsafe: bool = False) -> list[Blob]:
        ids = [as_object_id(object_id) for object_id in object_ids]
        if not ids:
            return []
        return self._native.get_blobs(ids)

    def find_shared_memory(self, pointer: int, size: int = 0) -> ObjectID | None:
        """The blob that starts at `pointer` (and is `size` bytes long, unless `size` is 0)
        among the live blobs this client handed out (by `get`, `get_blob`, ...), if any."""
        return self._native.find_blob(int(pointer), int(size) or None)

    def is_shared_memory(self, pointer: int) -> bool:
        return self.find_shared_memory(pointer) is not None

    # -- objects ---------------------------------------------------------------------------

    def get_object(self, object_id: Any, sync_remote: bool = True, fetch: bool = False) -> Any:
        """The object (metadata plus mapped local blobs); a blob id gives the `Blob`."""
        object_id = as_object_id(object_id)
        if object_id.is_blob:
            try:
                return self.get_blobs([object_id])[0]
            except _native.ObjectNotExistsException:
                meta = self.get_meta(object_id)  # raises if it does not exist at all
                if meta.islocal:
                    raise
                return self._objects([meta], fetch)[0]
        return self.get_objects([object_id], fetch=fetch)[0]

    def get_objects(
        self, object_ids: Iterable[Any], sync_remote: bool = True, fetch: bool = False
    ) -> list[Any]:
        """The objects, their local blobs mapped in the same round trip."""
        ids = [as_object_id(object_id) for object_id in object_ids]
        if not ids:
            return []
        trees, blobs = self._native.get_objects(ids)
        return self._wrap_fetched(trees, blobs, fetch)

    def _fetch_value(self, object_id: Any, context: Any) -> tuple[Any, ...] | None:
        """`get` in one native call: `("arrow", kind, value)` for an Arrow layout resolved in
        Rust (unless a Python resolver of `context` claims it), else `("tree", trees,
        blobs)`, the tree (a dict) and its blobs on this instance, mapped; None for a
        blob id (`get_object` handles those)."""
        claimed = context.python_prefixes()
        resolve_member = context.member_resolver(self) if claimed else None
        return self._native.get_value(as_object_id(object_id), claimed, resolve_member)

    def _wrap_fetched(
        self, trees: list[dict[str, Any]], blobs: list[Blob], fetch: bool
    ) -> list[Any]:
        """Objects over fetched trees and their mapped blobs."""
        instance = self._instance_id
        metas = [ObjectMeta.from_tree(tree, instance) for tree in trees]
        return self._objects(metas, fetch, blobs)

    def _objects(
        self, metas: list[ObjectMeta], fetch: bool, mapped: list[Blob] | None = None
    ) -> list[Any]:
        """Wraps trees as objects over their local blobs (`mapped`: already mapped)."""
        local: dict[int, int] = {}
        remote: dict[int, int] = {}
        for meta in metas:
            _collect_blobs(meta, self._instance_id, local, remote)
        if remote and fetch:
            # Copies the remote payloads here over Flight and rebuilds the trees over them.
            metas = fetch_remote(self, metas)
            mapped = None  # the trees now point at fresh local copies
            local, remote = {}, {}
            for meta in metas:
                _collect_blobs(meta, self._instance_id, local, remote)
        blobs: dict[int, Blob] = {}
        if local:
            if mapped is None:
                mapped = self._native.get_blobs(list(local))
            for blob in mapped:
                blobs[int(blob.id)] = blob
        return [wrap_object(meta, blobs, self) for meta in metas]

    def flush(self) -> None:
        """Waits for the replies of the requests `put` sent without waiting; raises the
        first error among them."""
        self._native.flush()

    def clear(self) -> None:
        """Deletes every object and blob of the instance."""
        self._native.clear()

    # -- data that outlives memory ---------------------------------------------------------

    def save(
        self,
        object_id: Any,
        url: str | os.PathLike[str],
        *,
        storage_options: dict[str, Any] | None = None,
        export: str | None = "arrow",
        progress: Any = None,
    ) -> dict[str, Any]:
        """Saves objects (one id, an Object, or a list) with their members to `url`:
        `file:///dir` (or a path), `s3://bucket/prefix` (AWS settings from the environment or
        `storage_options`, e.g. `{'endpoint': 'http://127.0.0.1:9000'}`), `memory://name`.
        Arrow-shaped objects also get an Arrow IPC file (`export='parquet'`: a Parquet file;
        `export=None`: none). `progress`:
        None draws a bar on a terminal, False nothing, a callable is called with
        `(done, total)` bytes (returning False stops). Returns what was written."""
        return _native.save(
            self._native,
            as_object_ids(object_id),
            _url(url),
            storage_options,
            export,
            progress,
        )

    def save_all(
        self,
        url: str | os.PathLike[str],
        *,
        storage_options: dict[str, Any] | None = None,
        export: str | None = "arrow",
        progress: Any = None,
    ) -> dict[str, Any]:
        """Saves every object of this instance (with members and names) to `url`; an
        instance started with `--restore_from URL` loads them all back."""
        return _native.save_all(self._native, _url(url), storage_options, export, progress)

    def load(
        self,
        target: Any,
        pin: bool = False,
        *,
        name: str | None = None,
        storage_options: dict[str, Any] | None = None,
        progress: Any = None,
    ) -> Any:
        """Two calls in one name:

        - `load(url, name=None)`: loads what `save`/`save_all` wrote at `url` (a string or a
          path) and returns the new id (a list of ids if the save holds several); the saved
          names come back, or `name` names the one object loaded. A load that fails deletes
          everything it created.
        - `load(object_ids, pin=False)`: Vineyard's `load`, bringing the spilled blobs of
          objects back into memory (pinned there with `pin` until `unpin`).
        """
        if isinstance(target, os.PathLike) or (
            isinstance(target, str) and not _OBJECT_ID.match(target)
        ):
            loaded = _native.load(self._native, _url(target), name, storage_options, progress)
            objects = loaded["objects"]
            return objects[0] if len(objects) == 1 else objects
        _native.load_spilled(self._native, as_object_ids(target), pin)
        return None

    def evict(self, objects: Any) -> None:
        """Vineyard's `evict`: spills the objects' blobs that no client holds and that are
        not pinned to the instance's `--spill_path`."""
        _native.evict(self._native, as_object_ids(objects))

    def unpin(self, objects: Any) -> None:
        """Vineyard's `unpin`: the objects' blobs may be spilled again."""
        _native.unpin(self._native, as_object_ids(objects))

    def is_spilled(self, object_id: Any) -> bool:
        """Whether a blob of the object is spilled to disk."""
        return _native.is_spilled(self._native, as_object_id(object_id))

    def debug(self, debug: Any) -> Any:
        """Vineyard's debug command: the instance echoes `debug` (`{"raise": code}` makes it
        fail with that status code)."""
        return self._native.debug(json.dumps(debug))

    def sync_meta(self) -> None:
        """Kept for Vineyard code: the instance follows the cluster's metadata by itself."""

    def migrate(self, object_id: Any) -> ObjectID:
        """A local copy of an object whose payload lives (partly) on other instances, copied
        over their Flight endpoints; the object itself if it is all here already."""
        object_id = as_object_id(object_id)
        (meta,) = fetch_remote(self, [self.get_meta(object_id)])
        return meta.id


Client = IPCClient

_OBJECT_ID = re.compile(r"^o[0-9a-f]{16}$")


def _url(url: str | os.PathLike[str]) -> str:
    """A URL for a save: schemes as given, paths as absolute `file://` URLs."""
    text = os.fspath(url)
    if "://" in text:
        return text
    return "file://" + os.path.abspath(text)


def _collect_blobs(
    meta: ObjectMeta, local_instance: int, local: dict[int, ObjectID], remote: dict[int, int]
) -> None:
    tree = meta._tree
    if tree.get("typename") == BLOB_TYPENAME or is_blob_meta(meta):
        blob_id = meta.id_value()
        instance = tree.get("instance_id")
        if instance is None or instance == local_instance or blob_id == EMPTY_BLOB_ID:
            local[blob_id] = blob_id
        else:
            remote[blob_id] = instance
        return
    for value in tree.values():
        if type(value) is ObjectMeta:
            _collect_blobs(value, local_instance, local, remote)


# -- connect -----------------------------------------------------------------------------

_ENDPOINT = re.compile(r"^(?P<host>[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d+)$")
# An endpoint with a Flight scheme: `grpc+tcp://host:port`, `grpc+tls://host:port`.
_FLIGHT_URI = re.compile(r"^grpc(\+tcp|\+tls)?://")


def _rpc_client(
    host: Any, port: Any, token: str | None, tls_root_certs: Any = None, progress: Any = True
) -> RPCClient:
    tls = False
    if port is None and isinstance(host, str):
        tls = is_tls_endpoint(host)
        host, port = parse_endpoint(host)
    if host is None or port is None:
        raise ValueError(f"an RPC endpoint needs a host and a port, got {host}:{port}")
    if tls_root_certs is not None and not tls:
        raise ValueError(
            f"tls_root_certs was given for the plain-text endpoint {host}:{port}: connect to "
            f"'grpc+tls://{host}:{port}' to use TLS"
        )
    return RPCClient(
        host, port, token=token, tls=tls, tls_root_certs=tls_root_certs, progress=progress
    )


# Vineyard's `connect` arguments this package does not support, and what to do instead.
_UNSUPPORTED = {
    "username": "instances have no user accounts: an instance started with --rpc_token wants "
    "that token from remote clients (connect(..., token=...))",
    "password": "instances have no user accounts: an instance started with --rpc_token wants "
    "that token from remote clients (connect(..., token=...))",
    "session": "sessions are not supported: every client shares the instance's objects",
    "config": "configuration files are not read: pass the socket, or the RPC endpoint, to "
    "connect() (or set VINEYARD_IPC_SOCKET / VINEYARD_RPC_ENDPOINT)",
    "rdma_endpoint": "RDMA is not supported: connect over the RPC endpoint alone",
}


def connect(*args: Any, **kwargs: Any) -> Any:
    """Connects to an instance.

    - `connect('/path/to/socket')` or `connect(socket=...)`: over the UNIX socket;
    - `connect()`: the socket in `VINEYARD_IPC_SOCKET` (else the endpoint in
      `VINEYARD_RPC_ENDPOINT`);
    - `connect('host:port')`, `connect(host, port)`, `connect(endpoint=(host, port))`: over the
      instance's Arrow Flight endpoint (an `RPCClient`; `token=` or `VINEYARD_RPC_TOKEN` when
      the instance wants one);
    - `connect('grpc+tls://host:port', tls_root_certs=pem)`: over TLS (an instance started
      with `--rpc_tls_cert`), trusting the PEM certificates given (the system's if none).

    A remote client reports transfers over two seconds on stderr: `progress=False` silences
    it, a callable `progress(done, total)` gets the bytes instead. Vineyard's `username`,
    `password`, `session`, `config` and `rdma_endpoint` are refused with what to do instead.
    """
    for argument, instead in _UNSUPPORTED.items():
        if kwargs.get(argument) is not None:
            raise _native.NotImplementedException(f"connect({argument}=...): {instead}")
        kwargs.pop(argument, None)
    token = kwargs.pop("token", None)
    progress = kwargs.pop("progress", True)
    tls_root_certs = kwargs.pop("tls_root_certs", None)
    socket = kwargs.pop("socket", None)
    host = kwargs.pop("host", None)
    port = kwargs.pop("port", None)
    endpoint = kwargs.pop("endpoint", None)
    if kwargs:
        raise TypeError(f"connect() got unexpected arguments: {', '.join(sorted(kwargs))}")
    if len(args) > 2:
        raise TypeError("connect() takes a socket path, a 'host:port', or a host and a port")
    if len(args) == 2:
        host, port = args
    elif len(args) == 1:
        target = args[0]
        if isinstance(target, (tuple, list)):
            endpoint = target
        elif target is not None:
            socket = target
    if endpoint is not None:
        if isinstance(endpoint, str):
            return _rpc_client(endpoint, None, token, tls_root_certs, progress)
        host, port = endpoint
    if host is not None or port is not None:
        return _rpc_client(host, port, token, tls_root_certs, progress)
    if socket is None:
        socket = os.environ.get("VINEYARD_IPC_SOCKET")
        if not socket:
            rpc = os.environ.get("VINEYARD_RPC_ENDPOINT")
            if rpc:
                return _rpc_client(rpc, None, token, tls_root_certs, progress)
            raise _native.ConnectionFailedException(
                "no socket given and VINEYARD_IPC_SOCKET is not set: pass the path of the "
                "instance's UNIX socket, e.g. vineyard.connect('/var/run/vineyard.sock')"
            )
    socket = os.fspath(socket)
    if _FLIGHT_URI.match(socket) or (not os.path.exists(socket) and _ENDPOINT.match(socket)):
        return _rpc_client(socket, None, token, tls_root_certs, progress)
    return IPCClient(socket)
