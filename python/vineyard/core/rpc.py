"""`RPCClient`: a vineyard instance over Arrow Flight, with the whole client API.

    >>> client = vineyard.connect('127.0.0.1:9600')      # or connect(host, port)
    >>> object_id = client.put(np.arange(1_000_000), persist=True, name='numbers')
    >>> client.get(name='numbers')                          # a numpy array again

`put` and `get` run the same builders and resolvers as an IPC client (so user types work too)
and give the same values; blobs travel over Flight instead of being mapped:

- `put`: the builders' blobs and trees are recorded and sent in one `do_put` when the put
  ends, which the instance stores all or nothing (`remote_put`, `remote_blobs`);
- `get`: the object's tree (`get_meta`), then its blobs with `do_get`, several at once, each
  from the instance that holds it (another instance of the cluster is asked over its own
  endpoint; one that cannot be reached is named in the error).

Transfers that take more than two seconds report their progress on stderr (`progress=False`
when connecting, or per call, silences them; a callable gets `(done, total)` bytes).

Vineyard's names work too: `create_remote_blob(RemoteBlobBuilder)`, `get_remote_blob(s)`,
`create_metadata`, `persist`, names, `delete`, `list_objects`, `status`, `meta`, `clear`.
The Flight calls are listed by `list_actions`; see PROTOCOL.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from vineyard import _native
from vineyard._native import ObjectID, RemoteBlob, RemoteBlobBuilder
from vineyard.core.exceptions import exception_for_code
from vineyard.core.ids import as_object_id
from vineyard.core.meta import EMPTY_BLOB_ID, ObjectMeta, ObjectName
from vineyard.core.object import is_blob_meta, wrap_object
from vineyard.core.remote_blobs import fetch_blobs, send_objects
from vineyard.core.remote_put import PutSession, RemoteBlobWriter, RemoteWrites, is_new_blob
from vineyard.core.status import InstanceStatus

__all__ = ["RPCClient", "is_tls_endpoint", "parse_endpoint"]

# How a Flight error's message ends when the server sent the error's Vineyard status code.
_VINEYARD_CODE = re.compile(r"\. Detail: vineyard_code=(-?\d+)")


def _flight():
    try:
        import pyarrow.flight as flight
    except ImportError as error:  # pragma: no cover - pyarrow is a dependency of remote use
        raise ImportError(
            "remote (RPC) clients need pyarrow with Flight: pip install 'pyarrow>=14'"
        ) from error
    return flight


def _error(exception: BaseException) -> BaseException:
    """The vineyard exception for a Flight error: the class of the Vineyard status code the
    server sent in the error's details, as a local client would raise; errors that carry none
    (the connection itself failed) by their gRPC status."""
    import pyarrow as pa

    flight = _flight()
    message = _server_message(str(exception))
    code = _vineyard_code(exception)
    if code is not None:
        return exception_for_code(code)(message)
    if isinstance(exception, flight.FlightUnauthenticatedError):
        return _native.ConnectionFailedException(message)
    if isinstance(exception, flight.FlightUnavailableError):
        return _native.ConnectionErrorException(message)
    if isinstance(exception, KeyError):
        return _native.ObjectNotExistsException(message.strip("'\""))
    if isinstance(exception, pa.ArrowInvalid):
        return _native.InvalidException(message)
    if isinstance(exception, pa.ArrowNotImplementedError):
        return _native.NotImplementedException(message)
    return _native.UnknownErrorException(message)


def _vineyard_code(exception: BaseException) -> int | None:
    """The Vineyard status code a Flight error carries: the server sends it in the trailer
    that Arrow's client appends to the message as `. Detail: vineyard_code=<code>`."""
    found = _VINEYARD_CODE.search(str(exception))
    return int(found.group(1)) if found else None


def _server_message(text: str) -> str:
    """The server's message in pyarrow's rendering of a Flight error ("Flight returned ...
    error, with message: <message>. gRPC client debug context: ...")."""
    _, found, rest = text.partition("with message: ")
    message = rest if found else text
    for tail in (". gRPC client debug context", ". Detail:", ". Client context:"):
        message = message.split(tail)[0]
    return message.strip()


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    import pyarrow as pa

    flight = _flight()
    try:
        yield
    except (flight.FlightError, pa.ArrowException, KeyError) as error:
        raise _error(error) from error


# The scheme of an endpoint served over TLS (vineyardd --rpc_tls_cert announces it).
TLS_SCHEME = "grpc+tls://"
_PLAIN_SCHEMES = ("grpc+tcp://", "grpc://")


def is_tls_endpoint(endpoint: str) -> bool:
    """Whether `endpoint` names a Flight service served over TLS (`grpc+tls://host:port`)."""
    return endpoint.startswith(TLS_SCHEME)


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """`host:port` (or `[v6 address]:port`, either after `grpc+tcp://` or `grpc+tls://`) as a
    host and a port."""
    for scheme in (TLS_SCHEME, *_PLAIN_SCHEMES):
        endpoint = endpoint.removeprefix(scheme)
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"`{endpoint}` is not an RPC endpoint: expected host:port")
    return host.strip("[]"), int(port)


class RPCClient:
    """A client of one instance over its Arrow Flight endpoint (the whole client API)."""

    def __init__(
        self,
        host: str,
        port: int | str,
        token: str | None = None,
        tls: bool = False,
        tls_root_certs: bytes | str | None = None,
        progress: bool | Callable[[int, int], Any] = True,
    ) -> None:
        """Connects to `host:port`; with `tls`, over TLS trusting `tls_root_certs` (PEM; the
        system's roots if not given). `progress`: see the module's documentation."""
        flight = _flight()
        self._host = str(host)
        self._port = int(port)
        self._tls = tls
        self._tls_root_certs = tls_root_certs
        self._progress = progress
        self._local = threading.local()
        location = f"{TLS_SCHEME if tls else 'grpc+tcp://'}{_bracketed(self._host)}:{self._port}"
        token = token if token is not None else os.environ.get("VINEYARD_RPC_TOKEN")
        self._token = token
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        self._options = flight.FlightCallOptions(headers=headers)
        roots = {"tls_root_certs": tls_root_certs} if tls and tls_root_certs else {}
        self._client = flight.FlightClient(location, **roots)
        try:
            status = self._action("status")
        except _native.ConnectionErrorException as error:
            self._client.close()
            raise _native.ConnectionFailedException(
                f"cannot connect to vineyard's RPC endpoint {self.rpc_endpoint}: {error}; is "
                "the instance running there, with RPC enabled?"
            ) from error
        except BaseException:
            self._client.close()
            raise
        self._instance_id: int = status["instance_id"]
        self._ipc_socket: str = status.get("ipc_socket", "")
        self._native = RemoteWrites(self)
        self._peers: dict[int, RPCClient] = {}
        self._closed = False
        # Vineyard's RPC client compresses blobs when asked; Flight here does not (kept so
        # that code setting it works).
        self.compression = False

    # -- connection ------------------------------------------------------------------------

    @property
    def instance_id(self) -> int:
        """The instance this client talks to (where its puts go)."""
        return self._instance_id

    @property
    def remote_instance_id(self) -> int:
        return self._instance_id

    @property
    def rpc_endpoint(self) -> str:
        address = f"{_bracketed(self._host)}:{self._port}"
        return f"{TLS_SCHEME}{address}" if self._tls else address

    @property
    def ipc_socket(self) -> str:
        return self._ipc_socket

    @property
    def is_ipc(self) -> bool:
        return False

    @property
    def is_rpc(self) -> bool:
        return True

    @property
    def connected(self) -> bool:
        return not self._closed

    @property
    def version(self) -> str:
        return _native.__version__

    @property
    def status(self) -> InstanceStatus:
        return InstanceStatus(self._action("status"))

    @property
    def meta(self) -> dict[int, dict[str, Any]]:
        """The live instances of the cluster, by instance id."""
        cluster = self._action("cluster")
        return {int(info["hostid"]): dict(info) for info in cluster.values()}

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for peer in self._peers.values():
                peer.close()
            self._client.close()

    def fork(self) -> RPCClient:
        """A new client of the same instance (for a child process)."""
        return RPCClient(
            self._host,
            self._port,
            token=self._token,
            tls=self._tls,
            tls_root_certs=self._tls_root_certs,
            progress=self._progress,
        )

    def __enter__(self) -> RPCClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'RPCClient <endpoint="{self.rpc_endpoint}", instance_id={self._instance_id}>'

    # -- SQL -------------------------------------------------------------------------------

    def sql(
        self,
        query: str,
        parameters: Any = None,
        *,
        name: str | ObjectName | None = None,
        reader: bool = False,
    ) -> Any:
        """Runs SQL over the instance's objects through its Flight SQL service (see
        `IPCClient.sql` and `vineyard.core.sql`)."""
        from vineyard.core.sql import sql

        return sql(self, self._client, self._options, query, parameters, name, reader)

    # -- plumbing --------------------------------------------------------------------------

    def debug(self, debug: Any) -> Any:
        """The instance's debug command, through Flight (see `IPCClient.debug`)."""
        return self._action("debug", {"debug": debug})

    def _action(self, kind: str, body: dict[str, Any] | None = None) -> Any:
        flight = _flight()
        action = flight.Action(kind, json.dumps(body or {}).encode())
        with _translated():
            results = list(self._client.do_action(action, self._options))
        if not results:
            raise _native.UnknownErrorException(f"action `{kind}` returned no result")
        return json.loads(results[0].body.to_pybytes())

    def _report(self) -> bool | Callable[[int, int], Any]:
        override = getattr(self._local, "progress", None)
        return self._progress if override is None else override

    @contextlib.contextmanager
    def _progress_of_call(self, progress: Any) -> Iterator[None]:
        previous = getattr(self._local, "progress", None)
        if progress is not None:
            self._local.progress = progress
        try:
            yield
        finally:
            self._local.progress = previous

    def _send_objects(
        self, blobs: list[tuple[int, memoryview]], objects: list[tuple[int, dict[str, Any]]]
    ) -> dict[int, ObjectID]:
        with _translated():
            return send_objects(
                self._client, self._options, blobs, objects, self._report(), self.rpc_endpoint
            )

    def _real(self, object_id: Any) -> ObjectID:
        return self._native.real(as_object_id(object_id))

    @staticmethod
    def _target(object_id: Any, name: str | ObjectName | None) -> dict[str, str]:
        if object_id is None and name is None:
            raise ValueError("give an object id or a name")
        if object_id is not None:
            return {"id": str(as_object_id(object_id))}
        return {"name": str(name)}

    # -- values ----------------------------------------------------------------------------

    def put(
        self,
        value: Any,
        builder: Any = None,
        persist: bool = False,
        name: str | ObjectName | None = None,
        progress: bool | Callable[[int, int], Any] | None = None,
        **kwargs: Any,
    ) -> ObjectID:
        """Stores `value` with the current builders (as `IPCClient.put`), all or nothing."""
        from vineyard.core.builder import put

        with self._progress_of_call(progress):
            object_id = put(self, value, builder, persist, name, **kwargs)
        return self._real(object_id)

    def get(
        self,
        object_id: Any = None,
        name: str | ObjectName | None = None,
        resolver: Any = None,
        fetch: bool = False,
        progress: bool | Callable[[int, int], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """The value of an object (by id or by name), resolved as `IPCClient.get` does."""
        from vineyard.core.resolver import get

        with self._progress_of_call(progress):
            return get(self, object_id, name, resolver, fetch, **kwargs)

    def get_object(self, object_id: Any, sync_remote: bool = True, fetch: bool = False) -> Any:
        """The object: its tree and its blobs, fetched (a blob id gives the `RemoteBlob`)."""
        return self.get_objects([object_id])[0]

    def get_objects(
        self, object_ids: Iterable[Any], sync_remote: bool = True, fetch: bool = False
    ) -> list[Any]:
        metas = self.get_metas(list(object_ids))
        blobs = self._fetch_payload(metas)
        for meta in metas:
            _all_fetched(meta)
        return [wrap_object(meta, blobs, self) for meta in metas]

    def _fetch_payload(self, metas: list[ObjectMeta]) -> dict[int, RemoteBlob]:
        """The blobs of the trees, fetched from the instances that hold them."""
        wanted: dict[int, dict[int, int]] = {}  # instance -> {blob id: size}
        for meta in metas:
            _collect_blobs(meta, self._instance_id, wanted)
        fetched: dict[int, RemoteBlob] = {}
        for instance, sizes in wanted.items():
            client = self if instance == self._instance_id else self._peer(instance)
            ids = sorted(sizes)
            with _translated():
                blobs = fetch_blobs(
                    client._client,
                    client._options,
                    [(ObjectID(blob_id), sizes[blob_id]) for blob_id in ids],
                    instance,
                    self._report(),
                    client.rpc_endpoint,
                )
            fetched.update(zip(ids, blobs, strict=True))
        return fetched

    def _peer(self, instance: int) -> RPCClient:
        """A client of another instance of the cluster, to fetch the blobs it holds."""
        peer = self._peers.get(instance)
        if peer is not None:
            return peer
        info = self.meta.get(instance)
        endpoint = (info or {}).get("rpc_endpoint") or ""
        if not endpoint or endpoint.endswith(":0"):
            raise _native.ConnectionFailedException(
                f"part of the payload lives on instance {instance}, which "
                + ("is not in the cluster any more" if info is None else "serves no RPC endpoint")
                + ": it cannot be fetched"
            )
        try:
            peer = RPCClient(
                *parse_endpoint(endpoint),
                token=self._token,
                tls=is_tls_endpoint(endpoint),
                tls_root_certs=self._tls_root_certs,
                progress=self._progress,
            )
        except _native.VineyardException as error:
            raise _native.ConnectionFailedException(
                f"part of the payload lives on instance {instance} at {endpoint}, which cannot "
                f"be reached from here: {error}"
            ) from error
        self._peers[instance] = peer
        return peer

    # -- blobs -----------------------------------------------------------------------------

    def create_blob(self, size: int | list[int]) -> Any:
        """A writable remote blob of `size` bytes (several, given a list): fill it, then
        `seal()` it to send it."""
        if isinstance(size, (list, tuple)):
            return [RemoteBlobWriter(int(one), self) for one in size]
        return RemoteBlobWriter(int(size), self)

    def create_empty_blob(self) -> Any:
        return RemoteBlobWriter(0, self)

    def create_remote_blob(self, blob_builder: RemoteBlobBuilder) -> ObjectMeta:
        """Stores the bytes of a `RemoteBlobBuilder` as a blob of the instance (inside a put,
        when the put ends); the blob's metadata (`.id`)."""
        session = self._native.session()
        if session is not None:
            return session.add_blob(blob_builder)
        (meta,) = self.create_remote_blobs([blob_builder])
        return meta

    def create_remote_blobs(self, blob_builders: list[RemoteBlobBuilder]) -> list[ObjectMeta]:
        """Stores several `RemoteBlobBuilder`s at once (one all-or-nothing transfer)."""
        session = self._native.session()
        if session is not None:
            return [session.add_blob(builder) for builder in blob_builders]
        scratch = PutSession(self)
        metas = [scratch.add_blob(builder) for builder in blob_builders]
        scratch.send()
        return metas

    def get_blob(self, object_id: Any, unsafe: bool = False) -> RemoteBlob:
        """A blob's bytes, fetched (a `RemoteBlob`: read-only buffer protocol)."""
        return self.get_blobs([object_id])[0]

    def get_blobs(self, object_ids: Iterable[Any], unsafe: bool = False) -> list[RemoteBlob]:
        ids = [as_object_id(object_id) for object_id in object_ids]
        for object_id in ids:
            if not object_id.is_blob:
                raise _native.ObjectIsBlobException(
                    f"{object_id} is not a blob id: use get_object for objects"
                )
        metas = self.get_metas(ids)
        blobs = self._fetch_payload(metas)
        return [blobs[int(object_id)] for object_id in ids]

    get_remote_blob = get_blob
    get_remote_blobs = get_blobs

    def find_shared_memory(self, pointer: int, size: int = 0) -> None:
        """Nothing of a remote client lives in shared memory here."""
        return None

    def is_shared_memory(self, pointer: int) -> bool:
        return False

    # -- metadata --------------------------------------------------------------------------

    def get_meta(
        self,
        object_id: Any = None,
        name: str | ObjectName | None = None,
        sync_remote: bool = True,
        **kwargs: Any,
    ) -> ObjectMeta:
        """The metadata tree of an object (by id or by name)."""
        target = self._target(None if object_id is None else self._real(object_id), name)
        tree = self._action("get_meta", target)
        return ObjectMeta.from_tree(tree, self._instance_id)

    def get_metas(self, object_ids: Iterable[Any], sync_remote: bool = True) -> list[ObjectMeta]:
        ids = [str(self._real(object_id)) for object_id in object_ids]
        if not ids:
            return []
        trees = self._action("get_metas", {"ids": ids})
        return [ObjectMeta.from_tree(tree, self._instance_id) for tree in trees]

    def create_metadata(self, metadata: Any, instance_id: int | None = None) -> Any:
        """Creates an object from its tree (inside a put, when the put ends); returns the
        tree, now with `id`. Members without ids are created first."""
        if isinstance(metadata, (list, tuple)):
            return [self.create_metadata(meta, instance_id) for meta in metadata]
        if not isinstance(metadata, ObjectMeta):
            raise TypeError(f"create_metadata takes an ObjectMeta, got {type(metadata).__name__}")
        session = self._native.session()
        if session is not None:
            return session.add_object(metadata, instance_id)
        tree = self._wire_tree(metadata, instance_id, None)
        created = self._action("create_metadata", {"tree": tree})
        own = metadata._tree
        for field in ("id", "signature", "instance_id"):
            if field in created:
                own[field] = created[field]
        metadata._id_cache = None
        metadata._local_instance = self._instance_id
        return metadata

    def _wire_tree(
        self, meta: ObjectMeta, instance_id: int | None, session: PutSession | None
    ) -> dict[str, Any]:
        """The tree to send: members reduced to links, blob members in full (the instance
        needs their sizes); members without ids created first."""
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
                if is_new_blob(value, session) or not (
                    value.is_placeholder or "instance_id" not in member_tree
                ):
                    tree[key] = value.to_tree()
                else:
                    blob_links.append((key, value.id))
                continue
            tree[key] = {"id": member_tree["id"]}
        if blob_links:
            metas = self.get_metas([blob_id for _, blob_id in blob_links])
            for (key, _), blob_meta in zip(blob_links, metas, strict=True):
                tree[key] = blob_meta.to_tree()
        if "instance_id" not in tree:
            tree["instance_id"] = self._instance_id if instance_id is None else instance_id
        if "typename" not in tree:
            raise _native.InvalidException(
                "the metadata has no typename: set meta['typename'] "
                "(e.g. 'vineyard::Tensor<double>')"
            )
        return tree

    def list_metadatas(
        self, pattern: str = "*", regex: bool = False, limit: int = 5, nobuffer: bool = False
    ) -> list[ObjectMeta]:
        """The trees of objects whose typename matches the glob (or regex) pattern."""
        trees = self._action("list", {"pattern": pattern, "regex": regex, "limit": limit})
        return [ObjectMeta.from_tree(tree, self._instance_id) for tree in trees]

    def list_objects(self, pattern: str = "*", regex: bool = False, limit: int = 5) -> list[Any]:
        """The objects whose typename matches (their metadata; payloads stay on the server)."""
        return [wrap_object(meta, {}, self) for meta in self.list_metadatas(pattern, regex, limit)]

    def exists(self, object_id: Any) -> bool:
        return bool(self._action("exists", {"id": str(self._real(object_id))})["exists"])

    def delete(self, object_ids: Any, force: bool = False, deep: bool = True, **kwargs) -> None:
        """Deletes objects (one id, an Object, or a list of them)."""
        if not isinstance(object_ids, (list, tuple, set, frozenset)):
            object_ids = [object_ids]
        ids = [str(self._real(one)) for one in object_ids]
        if ids:
            self._action("delete", {"ids": ids, "force": force, "deep": deep})

    def persist(self, object_id: Any) -> None:
        """Publishes the object's metadata to the cluster (and makes it nameable)."""
        self._action("persist", {"id": str(self._real(object_id))})

    def put_name(self, object_id: Any, name: str | ObjectName) -> None:
        """Names a persisted object."""
        self._action("put_name", {"id": str(self._real(object_id)), "name": str(name)})

    def get_name(self, name: str | ObjectName, wait: bool = False) -> ObjectID:
        """The id the name points at."""
        return ObjectID(self._action("get_name", {"name": str(name)})["id"])

    def drop_name(self, name: str | ObjectName) -> None:
        self._action("drop_name", {"name": str(name)})

    def list_names(
        self, pattern: str = "*", regex: bool = False, limit: int = 5
    ) -> dict[str, ObjectID]:
        names = self._action("list_names", {"pattern": pattern, "regex": regex, "limit": limit})
        return {name: ObjectID(object_id) for name, object_id in names.items()}

    def clear(self) -> None:
        """Deletes every object and blob of the instance."""
        self._action("clear")

    def memory_trim(self) -> bool:
        """Kept for Vineyard code: the instance returns freed memory itself after deletes."""
        return False

    def sync_meta(self) -> None:
        """Kept for Vineyard code: the instance follows the cluster's metadata by itself."""

    def flush(self) -> None:
        """Nothing is left unawaited on a remote client."""


def _collect_blobs(meta: ObjectMeta, local_instance: int, wanted: dict[int, dict[int, int]]):
    tree = meta._tree
    if is_blob_meta(meta):
        blob_id = meta.id_value()
        instance = tree.get("instance_id")
        if blob_id == EMPTY_BLOB_ID or instance is None:
            instance = local_instance
        size = int(tree.get("length") or tree.get("nbytes") or 0)
        wanted.setdefault(int(instance), {})[blob_id] = size
        return
    for value in tree.values():
        if type(value) is ObjectMeta:
            _collect_blobs(value, local_instance, wanted)


def _all_fetched(meta: ObjectMeta) -> None:
    """Marks a tree as having all its payload here (its blobs were fetched, wherever they
    live), so that resolvers do not treat members held by other instances as missing."""
    meta._local_instance = None
    for value in meta._tree.values():
        if type(value) is ObjectMeta:
            _all_fetched(value)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
