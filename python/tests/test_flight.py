"""The Arrow Flight service of `python -m vineyard`, from plain `pyarrow.flight` clients and
from `vineyard.connect('host:port')`; fetching payloads between two instances.

Servers bind `--rpc_socket_port 0`; the endpoint comes from `client.rpc_endpoint`.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest
import vineyard
from support import Server, free_port, running_server, spawn_server, stop_started_etcd, wait_until

pa = pytest.importorskip("pyarrow")
flight = pytest.importorskip("pyarrow.flight")
pd = pytest.importorskip("pandas")

ANY_PORT = ("--rpc_socket_port", "0")


@pytest.fixture(scope="module")
def flight_server() -> Iterator[Server]:
    with running_server("512Mi", *ANY_PORT) as server:
        yield server


@pytest.fixture
def ipc(flight_server: Server) -> Iterator[vineyard.IPCClient]:
    with vineyard.connect(flight_server.socket) as client:
        yield client


@pytest.fixture
def endpoint(ipc) -> str:
    return ipc.rpc_endpoint


@pytest.fixture
def plain(endpoint) -> Iterator[flight.FlightClient]:
    client = flight.FlightClient(f"grpc+tcp://{endpoint}")
    yield client
    client.close()


@pytest.fixture
def rpc(endpoint) -> Iterator:
    with vineyard.connect(endpoint) as client:
        yield client


def sample_table(rows: int = 1000) -> pa.Table:
    return pa.table(
        {
            "i": pa.array([None if i % 7 == 0 else i for i in range(rows)], pa.int64()),
            "f": pa.array([i / 3 for i in range(rows)], pa.float64()),
            "s": pa.array([None if i % 5 == 0 else f"row {i}" for i in range(rows)]),
            "b": pa.array([i % 2 == 0 for i in range(rows)]),
            "l": pa.array(
                [None if i % 11 == 0 else list(range(i % 4)) for i in range(rows)],
                pa.large_list(pa.int32()),
            ),
            "d": pa.array([["x", "y", "z"][i % 3] for i in range(rows)]).dictionary_encode(),
        }
    )


def read(plain, ticket: str) -> pa.Table:
    return plain.do_get(flight.Ticket(ticket.encode())).read_all()


# -- the endpoint ------------------------------------------------------------------------------


def test_the_endpoint_is_announced_on_loopback(ipc, endpoint):
    host, port = endpoint.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    assert ipc.meta[ipc.instance_id]["rpc_endpoint"] == endpoint


# -- plain pyarrow.flight clients --------------------------------------------------------------


def test_plain_clients_read_tables_by_id_and_name(ipc, plain):
    table = sample_table()
    object_id = ipc.put(table)
    ipc.persist(object_id)
    ipc.put_name(object_id, "flight_sample")
    for ticket in (str(object_id), "flight_sample"):
        got = read(plain, ticket)
        assert got.schema.remove_metadata().equals(table.schema.remove_metadata()), ticket
        assert got.equals(table.cast(got.schema)) or got.to_pylist() == table.to_pylist()
    ipc.drop_name("flight_sample")


def test_slices_and_empty_tables_round_trip(ipc, plain):
    table = sample_table(300)
    for piece in (table.slice(13, 101), table.slice(0, 0)):
        got = read(plain, str(ipc.put(piece)))
        assert got.num_rows == piece.num_rows
        assert got.to_pylist() == piece.to_pylist()


def test_flight_info_schema_and_listing(ipc, plain):
    table = sample_table(50)
    object_id = ipc.put(table)
    ipc.persist(object_id)
    ipc.put_name(object_id, "listed_sample")
    descriptor = flight.FlightDescriptor.for_path(str(object_id))
    info = plain.get_flight_info(descriptor)
    assert info.total_records == 50 and info.total_bytes > 0
    assert info.schema.names == table.schema.names
    assert info.endpoints[0].ticket.ticket == str(object_id).encode()
    assert plain.get_schema(descriptor).schema.names == table.schema.names

    tables = [f.descriptor.path[0].decode() for f in plain.list_flights(b"vineyard::Table")]
    assert str(object_id) in tables
    named = [f.descriptor.path[0].decode() for f in plain.list_flights(b"name:listed_*")]
    assert named == ["listed_sample"]
    ipc.drop_name("listed_sample")


def test_actions(ipc, plain):
    names = {action.type for action in plain.list_actions()}
    assert {"get_meta", "list", "delete", "persist", "put_name", "get_name", "status"} <= names
    object_id = ipc.put(sample_table(5))
    body = json.dumps({"id": str(object_id)}).encode()
    (result,) = plain.do_action(flight.Action("get_meta", body))
    tree = json.loads(result.body.to_pybytes())
    assert tree["typename"] == "vineyard::Table" and tree["id"] == str(object_id)
    (status,) = plain.do_action(flight.Action("status", b""))
    assert json.loads(status.body.to_pybytes())["instance_id"] == ipc.instance_id


def test_errors_are_clear(ipc, plain):
    with pytest.raises(KeyError, match="object o00000000000abcde not found"):
        read(plain, "o00000000000abcde")
    with pytest.raises(KeyError, match="name `no_such_name` not found"):
        read(plain, "no_such_name")
    scalar = ipc.put(42)
    with pytest.raises(pa.ArrowInvalid, match=r"vineyard::Scalar<int>"):
        read(plain, str(scalar))
    with pytest.raises(pa.ArrowInvalid, match="unknown action `explode`"):
        list(plain.do_action(flight.Action("explode", b"")))


def test_status_counts_open_flight_connections(ipc, endpoint):
    def open_now() -> int:
        return ipc.status.rpc_connections

    before = open_now()
    clients = [flight.FlightClient(f"grpc+tcp://{endpoint}") for _ in range(2)]
    for client in clients:
        list(client.list_actions())  # a call makes the connection
    assert open_now() == before + 2
    for client in clients:
        client.close()
    deadline = time.monotonic() + 10
    while open_now() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert open_now() == before


def test_do_put_from_a_plain_client(ipc, plain):
    table = sample_table(100)
    descriptor = flight.FlightDescriptor.for_path("put_by_pyarrow")
    writer, reader = plain.do_put(descriptor, table.schema)
    writer.write_table(table, max_chunksize=30)
    writer.done_writing()
    object_id = vineyard.ObjectID(reader.read().to_pybytes().decode())
    writer.close()
    assert ipc.get_name("put_by_pyarrow") == object_id
    got = ipc.get(object_id)
    assert got.to_pylist() == table.to_pylist()
    ipc.drop_name("put_by_pyarrow")


def test_do_put_refuses_bad_descriptors(plain):
    table = sample_table(3)
    for path, expected in (
        (("a", "b"), "at most one element"),
        (("o0000000000000001",), "looks like an object id"),
    ):
        writer, reader = plain.do_put(flight.FlightDescriptor.for_path(*path), table.schema)
        with pytest.raises(pa.ArrowInvalid, match=expected):
            writer.write_table(table)
            writer.done_writing()
            reader.read()
            writer.close()


# -- vineyard.connect('host:port') -------------------------------------------------------------


def test_connect_forms(endpoint, ipc):
    host, port = endpoint.rsplit(":", 1)
    for client in (
        vineyard.connect(endpoint),
        vineyard.connect(host, int(port)),
        vineyard.connect(endpoint=(host, port)),
        vineyard.connect(host=host, port=port),
    ):
        with client:
            assert client.is_rpc and not client.is_ipc
            assert client.instance_id == ipc.instance_id
            assert client.status.instance_id == ipc.instance_id


def test_connect_to_a_closed_port_fails_clearly():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(vineyard.ConnectionFailedException, match=f"127.0.0.1:{port}"):
        vineyard.connect("127.0.0.1", port)


def test_rpc_tables_round_trip(rpc, ipc):
    table = sample_table(200)
    table_id = rpc.put(table, persist=True, name="rpc_table")
    assert rpc.get_name("rpc_table") == table_id
    assert rpc.get(name="rpc_table").to_pylist() == table.to_pylist()
    assert ipc.get(table_id).to_pylist() == table.to_pylist()
    # A table put through Flight's own do_put reads back through the remote client too.
    writer, reader = rpc._client.do_put(flight.FlightDescriptor.for_path(), table.schema)
    writer.write_table(table)
    writer.done_writing()
    flight_id = vineyard.ObjectID(reader.read().to_pybytes().decode())
    writer.close()
    assert rpc.get(flight_id).to_pylist() == table.to_pylist()
    for payload in (b"", b"hello", bytes(range(256)) * 20000):
        blob_id = rpc.put(payload)
        assert rpc.get(blob_id) == payload
        assert bytes(memoryview(ipc.get_blob(blob_id))) == payload
    rpc.drop_name("rpc_table")


def test_rpc_metadata_calls(rpc, ipc):
    object_id = rpc.put(sample_table(10))
    meta = rpc.get_meta(object_id)
    assert meta.typename == "vineyard::Table" and meta.id == object_id
    assert any(m.id == object_id for m in rpc.list_metadatas("vineyard::Table", limit=1000))
    rpc.persist(object_id)
    rpc.put_name(object_id, "rpc_named")
    assert rpc.list_names("rpc_*") == {"rpc_named": object_id}
    rpc.drop_name("rpc_named")
    with pytest.raises(vineyard.ObjectNotExistsException, match="rpc_named"):
        rpc.get_name("rpc_named")
    rpc.delete(object_id)
    assert not ipc.exists(object_id)
    with pytest.raises(vineyard.ObjectNotExistsException, match=str(object_id)):
        rpc.get(object_id)


# -- tokens ------------------------------------------------------------------------------------


def test_tokens(start_server):
    server = start_server("128Mi", *ANY_PORT, "--rpc_token", "s3cret")
    endpoint = vineyard.connect(server.socket).rpc_endpoint
    plain = flight.FlightClient(f"grpc+tcp://{endpoint}")
    with pytest.raises(flight.FlightUnauthenticatedError, match="requires a token"):
        list(plain.list_flights())
    wrong = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer guess")])
    with pytest.raises(flight.FlightUnauthenticatedError, match="not the one"):
        list(plain.list_flights(options=wrong))
    plain.close()
    with pytest.raises(vineyard.ConnectionFailedException, match="requires a token"):
        vineyard.connect(endpoint)
    with vineyard.connect(endpoint, token="s3cret") as client:
        assert client.get(client.put(b"secret bytes")) == b"secret bytes"


# -- fetching between instances -----------------------------------------------------------------


@pytest.fixture
def two_instances(monkeypatch, tmp_path) -> Iterator[tuple[Server, Server]]:
    """Two instances of one cluster (an etcd on a free port that they start), each serving
    Flight with the default port: the second falls back to a free one."""
    port = free_port()
    monkeypatch.setenv("VINEYARD_ETCD_ENDPOINT", f"http://127.0.0.1:{port}")
    servers = []
    try:
        for name in ("one", "two"):
            directory = tmp_path / name
            directory.mkdir()
            servers.append(spawn_server(str(directory), "128Mi", *ANY_PORT))
        yield servers[0], servers[1]
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
        stop_started_etcd(port, signal.SIGKILL)


def wait_for(what: str, probe, timeout: float = 15.0):
    return wait_until(what, probe, timeout, interval=0.05)


def test_the_seed_pair_resolves_fully_with_fetch(two_instances):
    first, second = two_instances
    client1 = vineyard.connect(first.socket)
    client2 = vineyard.connect(second.socket)
    wait_for("the instances to see each other", lambda: len(client1.meta) == len(client2.meta) == 2)
    assert client1.rpc_endpoint != client2.rpc_endpoint

    id1 = client1.put(np.zeros(8))
    client1.persist(id1)
    id2 = client2.put(np.ones(4))
    client2.persist(id2)
    obj1 = client1.get_object(id1)
    obj2 = client2.get_object(id2)
    id_pair = client1.put((obj1, obj2))
    client1.persist(id_pair)
    wait_for("the pair to reach the second instance", lambda: client2.exists(id_pair))

    assert str(client2.get(id_pair)) == "(None, [1, 1, 1, 1])"
    for client in (client2, client1):
        first_value, second_value = client.get(id_pair, fetch=True)
        np.testing.assert_array_equal(first_value, np.zeros(8))
        np.testing.assert_array_equal(second_value, np.ones(4))

    local_pair = client2.migrate(id_pair)
    assert local_pair != id_pair
    meta = client2.get_meta(local_pair)
    assert all(member.islocal for _, member in meta.members())
    first_value, second_value = client2.get(local_pair)
    np.testing.assert_array_equal(first_value, np.zeros(8))
    np.testing.assert_array_equal(second_value, np.ones(4))
    assert client2.migrate(local_pair) == local_pair, "a local object migrates to itself"


def test_fetching_from_an_unknown_instance_says_so(ipc):
    meta = ipc.get_meta(ipc.put((np.zeros(8), np.ones(4))))

    def move(tree_meta, instance):
        tree_meta._tree["instance_id"] = instance
        for _, member in tree_meta.members():
            move(member, instance)

    move(meta.member("first"), 7)
    with pytest.raises(vineyard.ObjectNotExistsException, match="instance 7"):
        ipc._objects([meta], fetch=True)


def test_a_remote_get_fetches_blobs_from_the_instance_holding_them(two_instances, monkeypatch):
    first, second = two_instances
    client1 = vineyard.connect(first.socket)
    client2 = vineyard.connect(second.socket)
    wait_for("the instances to see each other", lambda: len(client1.meta) == len(client2.meta) == 2)
    id1 = client1.put(np.arange(8.0))
    client1.persist(id1)
    id2 = client2.put(np.ones(4))
    client2.persist(id2)
    id_pair = client2.put((client1.get_object(id1), client2.get_object(id2)))
    client2.persist(id_pair)
    # A remote client of the second instance: the first array's blob lives on the first one.
    remote = vineyard.connect(client2.rpc_endpoint, progress=False)
    first_value, second_value = remote.get(id_pair)
    np.testing.assert_array_equal(first_value, np.arange(8.0))
    np.testing.assert_array_equal(second_value, np.ones(4))
    # An instance that cannot be reached is named in the error.
    unreachable = {client1.instance_id: {"rpc_endpoint": f"127.0.0.1:{free_port()}"}}
    stranded = vineyard.connect(client2.rpc_endpoint, progress=False)
    monkeypatch.setattr(type(stranded), "meta", property(lambda self: unreachable))
    with pytest.raises(vineyard.ConnectionFailedException, match=f"instance {client1.instance_id}"):
        stranded.get(id_pair)
