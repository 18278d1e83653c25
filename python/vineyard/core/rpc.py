"""`RPCClient`: a vineyard instance over Arrow Flight, in pure Python (`pyarrow.flight`).

    >>> client = vineyard.connect('127.0.0.1:9600')      # or connect(host, port)
    >>> table_id = client.put(pa.table({'x': [1, 2, 3]}), name='numbers')
    >>> client.get(name='numbers')                          # a pyarrow Table

What `get` returns follows the object: tables, record batches and data frames come back as a
`pyarrow.Table`, arrays as a `pyarrow.Array`, tensors as numpy arrays of their shape, blobs
as `bytes`. `put` takes a pyarrow Table or RecordBatch, a pandas DataFrame, or bytes.

The Flight calls (served by every instance, see `vineyard-flight-server`):
- `do_get(ticket)`: the ticket is an object id (`o...`), a name, or `blob:<blob id>`;
- `do_put`: the descriptor's path is `[]` or `[name]`; the command `{"kind": "blob"}` makes a
  blob of the one binary column's values;
- `do_action`: `get_meta`, `list`, `list_names`, `delete`, `persist`, `put_name`, `get_name`,
  `drop_name`, `status`, with JSON bodies.

`fetch_remote` is what `IPCClient.get(..., fetch=True)` and `IPCClient.migrate` use: it pulls
the payloads of members held by other instances over their Flight endpoints into the local
instance, and rebuilds the metadata over the local copies.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any

from vineyard import _native
from vineyard._native import ObjectID
from vineyard.core.exceptions import exception_for_code
from vineyard.core.ids import as_object_id
from vineyard.core.meta import BLOB_TYPENAME, EMPTY_BLOB_ID, ObjectMeta, ObjectName
from vineyard.core.status import InstanceStatus

__all__ = ["RPCClient", "fetch_remote"]

# The ticket prefix that asks for a blob's raw bytes.
BLOB_PREFIX = "blob:"
# Schema metadata the server puts on streamed tensors.
SHAPE_KEY = b"vineyard.shape"
# Bytes of a blob per row when bytes are put.
BLOB_CHUNK = 2 << 20
# How a Flight error's message ends when the server sent the error's Vineyard status code.
_VINEYARD_CODE = re.compile(r"\. Detail: vineyard_code=(-?\d+)")
# Fields of a tree that the instance assigns when it creates an object.
_ASSIGNED = ("id", "signature", "instance_id", "__timestamp", "transient")


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
    """A client of one instance over its Arrow Flight endpoint."""

    def __init__(
        self,
        host: str,
        port: int | str,
        token: str | None = None,
        tls: bool = False,
        tls_root_certs: bytes | str | None = None,
    ) -> None:
        """Connects to `host:port`; with `tls`, over TLS trusting `tls_root_certs` (PEM; the
        system's roots if not given)."""
        flight = _flight()
        self._host = str(host)
        self._port = int(port)
        self._tls = tls
        location = f"{TLS_SCHEME if tls else 'grpc+tcp://'}{_bracketed(self._host)}:{self._port}"
        token = token if token is not None else os.environ.get("VINEYARD_RPC_TOKEN")
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
        self._closed = False

    # -- connection ------------------------------------------------------------------------

    @property
    def instance_id(self) -> int:
        return self._instance_id

    @property
    def rpc_endpoint(self) -> str:
        address = f"{_bracketed(self._host)}:{self._port}"
        return f"{TLS_SCHEME}{address}" if self._tls else address

    @property
    def remote_instance_id(self) -> int:
        return self._instance_id

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
    def status(self) -> InstanceStatus:
        return InstanceStatus(self._action("status"))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()

    def __enter__(self) -> RPCClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'RPCClient <endpoint="{self.rpc_endpoint}", instance_id={self._instance_id}>'

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

    def _read(self, ticket: str):
        flight = _flight()
        with _translated():
            return self._client.do_get(flight.Ticket(ticket.encode()), self._options).read_all()

    @staticmethod
    def _target(object_id: Any, name: str | ObjectName | None) -> dict[str, str]:
        if object_id is None and name is None:
            raise ValueError("give an object id or a name")
        if object_id is not None:
            return {"id": str(as_object_id(object_id))}
        return {"name": str(name)}

    # -- values ----------------------------------------------------------------------------

    def get(self, object_id: Any = None, name: str | ObjectName | None = None, **kwargs: Any):
        """The object (by id or by name) as a value: a pyarrow Table (tables, record batches,
        data frames), a pyarrow Array (arrays), a numpy array (tensors) or bytes (blobs)."""
        meta = self.get_meta(object_id, name=name)
        typename = meta.typename
        if typename == BLOB_TYPENAME:
            return self.get_blob(meta.id)
        table = self._read(str(meta.id))
        metadata = table.schema.metadata or {}
        if SHAPE_KEY in metadata:
            shape = json.loads(metadata[SHAPE_KEY])
            values = table.column(0).to_numpy()
            return values.reshape(shape)
        if _is_array_typename(typename) and table.num_columns == 1:
            return table.column(0).combine_chunks()
        return table

    def get_blob(self, object_id: Any) -> bytes:
        """A blob's bytes."""
        table = self._read(f"{BLOB_PREFIX}{as_object_id(object_id)}")
        return b"".join(chunk.as_py() for chunk in table.column(0))

    def put(self, value: Any, name: str | ObjectName | None = None, **kwargs: Any) -> ObjectID:
        """Stores a pyarrow Table or RecordBatch or a pandas DataFrame as a `vineyard::Table`
        (persisted and named `name`, if given), or bytes as a blob; returns the id."""
        import pyarrow as pa

        flight = _flight()
        if isinstance(value, (bytes, bytearray, memoryview)):
            if name is not None:
                raise ValueError(
                    "blobs cannot be named (names need persisted objects): put a table instead"
                )
            data = memoryview(value).cast("B")
            chunks = [
                bytes(data[start : start + BLOB_CHUNK]) for start in range(0, len(data), BLOB_CHUNK)
            ]
            table = pa.table({"value": pa.array(chunks or [b""], pa.binary())})
            descriptor = flight.FlightDescriptor.for_command(json.dumps({"kind": "blob"}))
        else:
            table = _as_table(value)
            if name is not None:
                descriptor = flight.FlightDescriptor.for_path(str(name))
            else:
                descriptor = flight.FlightDescriptor.for_command(json.dumps({"kind": "table"}))
        with _translated():
            writer, reader = self._client.do_put(descriptor, table.schema, self._options)
            try:
                writer.write_table(table)
                writer.done_writing()
                reply = reader.read()
            finally:
                writer.close()
        if reply is None:
            raise _native.UnknownErrorException("do_put returned no object id")
        return ObjectID(reply.to_pybytes().decode())

    # -- metadata --------------------------------------------------------------------------

    def get_meta(self, object_id: Any = None, name: str | ObjectName | None = None, **kwargs):
        """The metadata tree of an object (by id or by name)."""
        tree = self._action("get_meta", self._target(object_id, name))
        return ObjectMeta.from_tree(tree, self._instance_id)

    def list_metadatas(
        self, pattern: str = "*", regex: bool = False, limit: int = 5, nobuffer: bool = False
    ) -> list[ObjectMeta]:
        """The trees of objects whose typename matches the glob (or regex) pattern."""
        trees = self._action("list", {"pattern": pattern, "regex": regex, "limit": limit})
        return [ObjectMeta.from_tree(tree, self._instance_id) for tree in trees]

    def list_objects(self, pattern: str = "*", regex: bool = False, limit: int = 5):
        """The metadata of objects whose typename matches (payloads stay on the server)."""
        return self.list_metadatas(pattern, regex, limit)

    def delete(self, object_ids: Any, force: bool = False, deep: bool = True, **kwargs) -> None:
        """Deletes objects (one id or a list of them)."""
        if not isinstance(object_ids, (list, tuple, set, frozenset)):
            object_ids = [object_ids]
        ids = [str(as_object_id(one)) for one in object_ids]
        if ids:
            self._action("delete", {"ids": ids, "force": force, "deep": deep})

    def persist(self, object_id: Any) -> None:
        self._action("persist", {"id": str(as_object_id(object_id))})

    def put_name(self, object_id: Any, name: str | ObjectName) -> None:
        """Names a persisted object."""
        self._action("put_name", {"id": str(as_object_id(object_id)), "name": str(name)})

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


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _is_array_typename(typename: str) -> bool:
    base = typename.split("<", 1)[0]
    return base.endswith("Array") and base not in ("vineyard::Array",)


def _as_table(value: Any):
    import pyarrow as pa

    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    if type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas"):
        return pa.Table.from_pandas(value)
    raise TypeError(
        f"an RPC client puts pyarrow Tables and RecordBatches, pandas DataFrames and bytes, "
        f"not {type(value).__name__}"
    )


# -- fetching remote payloads into the local instance ---------------------------------------


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
            table = rpc._read(f"{BLOB_PREFIX}{ObjectID(blob_id)}")
            chunks = [chunk.as_buffer() for chunk in table.column(0)]
            size = sum(len(chunk) for chunk in chunks if chunk is not None)
            builder = client.create_blob(size)
            offset = 0
            for chunk in chunks:
                if chunk is not None and len(chunk) > 0:
                    builder.copy(offset, chunk)
                    offset += len(chunk)
            copies[blob_id] = ObjectMeta.blob(builder.seal(), size, client.instance_id)
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
