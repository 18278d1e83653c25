"""The remote client (`vineyard.connect(host, port)`, over Arrow Flight) has the IPC client's
API: values of every built-in type and of user types put and read back alike through both,
Vineyard's remote-blob names, puts that are all or nothing, progress on long transfers, and
clear errors for what it does not support."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator

import numpy as np
import pytest
import vineyard
from vineyard.core import builder_context, resolver_context
from vineyard.core.meta import ObjectMeta

pa = pytest.importorskip("pyarrow")
flight = pytest.importorskip("pyarrow.flight")
pd = pytest.importorskip("pandas")


@pytest.fixture
def ipc(vineyard_socket) -> Iterator[vineyard.IPCClient]:
    with vineyard.connect(vineyard_socket) as client:
        yield client


@pytest.fixture
def rpc(ipc) -> Iterator[vineyard.RPCClient]:
    with vineyard.connect(ipc.rpc_endpoint, progress=False) as client:
        yield client


def values() -> list:
    return [
        None,
        True,
        False,
        7,
        2.5,
        "text",
        b"bytes",
        (),
        (1,),
        (1, "2"),
        (1, "2", 3.5),
        [1, [2, 3], None],
        {"a": 1, 2: (3, 4)},
        np.arange(12, dtype=np.int32).reshape(3, 4),
        np.asfortranarray(np.random.rand(5, 3)),
        np.array(["x", "yz"]),
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        pd.Series([1.5, 2.5], name="s"),
        pa.array([1, None, 3]),
        pa.table({"x": [1, 2, 3], "y": ["a", "b", None]}),
        {1, 2, 3},
    ]


def same(left, right) -> bool:
    if isinstance(left, np.ndarray):
        return left.dtype == right.dtype and np.array_equal(left, right)
    if isinstance(left, (pd.DataFrame, pd.Series)):
        return left.equals(right)
    if isinstance(left, (pa.Array, pa.Table)):
        return left.equals(right)
    if isinstance(left, bytes):
        # Bytes come back as a read-only zero-copy view, as in Vineyard.
        return isinstance(right, memoryview) and right.readonly and bytes(right) == left
    return type(left) is type(right) and left == right


@pytest.mark.parametrize("value", values(), ids=lambda value: type(value).__name__)
def test_every_value_reads_back_alike_through_both_clients(ipc, rpc, value):
    remote_id = rpc.put(value)
    local_id = ipc.put(value)
    for client in (ipc, rpc):
        assert same(value, client.get(remote_id)), client
        assert same(value, client.get(local_id)), client
    assert rpc.get_meta(remote_id).typename == ipc.get_meta(local_id).typename


def test_typenames_are_vineyards(rpc):
    assert rpc.get_meta(rpc.put((1, 2, 3))).typename == "vineyard::Sequence"
    assert rpc.get_meta(rpc.put([1, 2, 3])).typename == "vineyard::Sequence"
    assert rpc.get_meta(rpc.put(True)).typename == "vineyard::Scalar<int>"
    assert rpc.get_object(rpc.put((1, 2))).first.typename == "vineyard::Scalar<int>"
    assert rpc.get_meta(rpc.put(memoryview(b"view"))).typename == "vineyard::Blob"


@pytest.mark.parametrize("client_name", ["ipc", "rpc"])
def test_a_resolver_for_vineyards_typename_applies(request, client_name):
    client = request.getfixturevalue(client_name)
    object_id = client.put((1, 2, 3, 4))
    with resolver_context({"vineyard::Sequence": lambda obj, resolver: "mine"}):
        assert client.get(object_id) == "mine"
    assert client.get(object_id) == (1, 2, 3, 4)
    # A bool Vineyard's client wrote (Scalar<int>, type_ bool) reads back as a bool.
    meta = ObjectMeta()
    meta["typename"] = "vineyard::Scalar<int>"
    meta["value_"] = True
    meta["type_"] = "bool"
    assert client.get(client.create_metadata(meta).id) is True


class Point:
    def __init__(self, x: float, y: float) -> None:
        self.x, self.y = x, y


def point_builder(client, value, builder):
    meta = ObjectMeta()
    meta["typename"] = "my::Point"
    meta.add_member("coords_", builder.run(client, np.array([value.x, value.y])))
    return client.create_metadata(meta)


def point_resolver(obj, resolver):
    x, y = resolver.run(obj.member("coords_"))
    return Point(x, y)


def test_user_types_use_the_same_builders_and_resolvers(ipc, rpc):
    with builder_context({Point: point_builder}), resolver_context({"my::Point": point_resolver}):
        for writer in (ipc, rpc):
            object_id = writer.put(Point(1.0, 2.0))
            for reader in (ipc, rpc):
                point = reader.get(object_id)
                assert (point.x, point.y) == (1.0, 2.0)


def test_large_values_travel_in_chunks_with_progress(ipc, rpc):
    value = np.random.default_rng(1).random(3 << 20)  # 24 MiB
    seen = []
    object_id = rpc.put(value, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (value.nbytes, value.nbytes) and len(seen) > 2
    seen.clear()
    np.testing.assert_array_equal(rpc.get(object_id, progress=lambda *a: seen.append(a)), value)
    assert seen[-1] == (value.nbytes, value.nbytes)
    np.testing.assert_array_equal(ipc.get(object_id), value)


def test_names_persist_delete_list_and_status(ipc, rpc):
    object_id = rpc.put(np.arange(3), persist=True, name="remote-named")
    assert rpc.get(name="remote-named").tolist() == [0, 1, 2]
    assert ipc.get_name("remote-named") == object_id
    assert not rpc.get_meta(object_id).transient
    assert "remote-named" in rpc.list_names("remote-*")
    assert any(meta.id == object_id for meta in rpc.list_metadatas("vineyard::Array*", limit=1000))
    assert rpc.exists(object_id)
    assert rpc.status.instance_id == ipc.instance_id
    assert ipc.instance_id in rpc.meta
    rpc.drop_name("remote-named")
    rpc.delete(object_id)
    assert not ipc.exists(object_id)
    with pytest.raises(vineyard.ObjectNotExistsException):
        rpc.get(object_id)


def footprint(client) -> tuple[int, int]:
    return len(client.list_metadatas("*", limit=100000)), client.status.memory_usage


def test_a_put_that_fails_leaves_nothing_behind(ipc, rpc):
    before = footprint(ipc)

    def failing_builder(client, value, builder):
        builder.run(client, np.zeros(1 << 20))  # a blob, recorded
        raise RuntimeError("the builder broke")

    with builder_context({Point: failing_builder}), pytest.raises(RuntimeError, match="broke"):
        rpc.put(Point(0, 0))
    assert footprint(ipc) == before
    # Stored, then the name is refused (longer than --max_name_length): all of it goes.
    with pytest.raises(vineyard.InvalidException, match="max_name_length"):
        rpc.put((np.ones(1 << 18), "x"), persist=True, name="n" * 5000)
    assert footprint(ipc) == before


def test_a_put_cut_mid_stream_leaves_nothing_behind(ipc, rpc):
    before = footprint(ipc)
    command = {
        "kind": "objects",
        "blobs": [{"id": "o8400000000000001", "size": 8 << 20}],
        "objects": [],
    }
    schema = pa.schema([("blob", pa.uint32()), ("offset", pa.uint64()), ("data", pa.binary())])
    client = flight.FlightClient(f"grpc+tcp://{ipc.rpc_endpoint}")
    writer, reader = client.do_put(flight.FlightDescriptor.for_command(json.dumps(command)), schema)
    chunk = pa.RecordBatch.from_arrays(
        [pa.array([0], pa.uint32()), pa.array([0], pa.uint64()), pa.array([b"x" * (1 << 20)])],
        schema=schema,
    )
    writer.write_batch(chunk)
    writer.done_writing()
    with pytest.raises(pa.ArrowInvalid, match="ended with 1048576 of the 8388608 bytes"):
        reader.read()
        writer.close()
    client.close()
    assert footprint(ipc) == before


def test_vineyards_remote_blob_names(ipc, rpc):
    payload = b"abcdefgh1234567890uvwxyz"
    builder = vineyard.RemoteBlobBuilder(len(payload))
    builder.copy(0, payload)
    meta = rpc.create_remote_blob(builder)
    assert bytes(memoryview(ipc.get_blob(meta.id))) == payload
    blob = rpc.get_remote_blob(meta.id)
    assert isinstance(blob, vineyard.RemoteBlob)
    assert (blob.id, blob.size, bytes(memoryview(blob))) == (meta.id, len(payload), payload)
    assert memoryview(blob).readonly
    wrapped = vineyard.RemoteBlobBuilder.wrap(payload * 3)
    (one, two) = rpc.create_remote_blobs([wrapped, vineyard.RemoteBlobBuilder(0)])
    assert [bytes(memoryview(b)) for b in rpc.get_remote_blobs([one.id, two.id])] == [
        payload * 3,
        b"",
    ]
    with pytest.raises(ValueError, match="read-only"):
        wrapped.copy(0, b"x")
    viewed = vineyard.RemoteBlobBuilder(4)
    view = memoryview(viewed)
    view[:] = b"wxyz"
    with pytest.raises(BufferError, match="still alive"):
        viewed.abort()
    view.release()
    assert bytes(memoryview(rpc.get_blob(rpc.create_remote_blob(viewed).id))) == b"wxyz"
    writer = rpc.create_blob(3)
    writer.copy(0, b"xyz")
    assert rpc.get(writer.seal()) == b"xyz"


def test_a_blob_received_in_one_message_is_held_without_a_copy(ipc, rpc, monkeypatch):
    from vineyard.core import remote_blobs

    payload = pa.py_buffer(b"received bytes" * 100)
    blob_id = ipc.create_blob(1).seal()
    held = vineyard.RemoteBlob.from_buffer(payload, blob_id, 7)
    assert (held.address, held.size, held.instance_id) == (payload.address, payload.size, 7)
    expected = payload.to_pybytes()
    del payload
    assert bytes(memoryview(held)) == expected and memoryview(held).readonly

    # Through the client: a blob up to WHOLE bytes comes as one row, held as received; a
    # larger one is copied chunk by chunk into a builder.
    made = {"from_buffer": 0, "from_builder": 0}

    class Counting:
        @staticmethod
        def from_buffer(*args):
            made["from_buffer"] += 1
            return vineyard.RemoteBlob.from_buffer(*args)

        @staticmethod
        def from_builder(*args):
            made["from_builder"] += 1
            return vineyard.RemoteBlob.from_builder(*args)

    monkeypatch.setattr(remote_blobs, "RemoteBlob", Counting)
    small = np.random.default_rng(2).random(remote_blobs.WHOLE // 8)
    large = np.random.default_rng(3).random(remote_blobs.WHOLE // 8 + 1)
    for value, kind in [(small, "from_buffer"), (large, "from_builder")]:
        before = dict(made)
        np.testing.assert_array_equal(rpc.get(ipc.put(value)), value)
        assert made[kind] == before[kind] + 1, (kind, made)


def test_a_remote_put_sends_large_buffers_without_copying_them(ipc, rpc, monkeypatch):
    from vineyard.core.remote_put import RemoteBlobWriter

    def no_copy(*_args, **_kwargs):
        raise AssertionError("a put copied a large buffer into a RemoteBlobWriter")

    monkeypatch.setattr(RemoteBlobWriter, "copy", no_copy)
    values = [
        np.random.default_rng(4).random(1 << 18),
        b"large bytes " * 100_000,
        pa.table({"x": np.arange(1 << 16), "y": np.random.default_rng(5).random(1 << 16)}),
    ]
    for value in values:
        object_id = rpc.put(value)
        for client in (ipc, rpc):
            assert same(value, client.get(object_id))


@pytest.mark.parametrize(
    "argument",
    [{"username": "u"}, {"password": "p"}, {"session": 1}, {"config": "/etc/vineyard.yaml"}],
)
def test_connect_refuses_what_it_does_not_support(ipc, argument):
    with pytest.raises(vineyard.NotImplementedException, match=next(iter(argument))):
        vineyard.connect(ipc.rpc_endpoint, **argument)


def test_memory_trim_gives_free_memory_back(ipc):
    ids = [ipc.put(np.ones(1 << 20)) for _ in range(4)]
    ipc.delete(ids, memory_trim=True)
    assert ipc.memory_trim() in (True, False)
    assert not any(ipc.exists(object_id) for object_id in ids)


def _fetch_threads() -> set:
    return {t for t in threading.enumerate() if t.name.startswith("vineyard-fetch")}


def _four_blob_table():
    """A table whose remote get fetches several blobs (one per column)."""
    return pa.table({f"c{i}": np.arange(1 << 12) * i for i in range(4)})


def test_blobs_are_fetched_by_threads_started_once(ipc, rpc):
    from vineyard.core import remote_blobs

    table = _four_blob_table()
    object_id = ipc.put(table)
    assert rpc.get(object_id).equals(table)
    first = _fetch_threads()
    assert 1 <= len(first) <= remote_blobs.PARALLEL
    for _ in range(3):
        assert rpc.get(object_id).equals(table)
    assert _fetch_threads() == first


def test_a_failed_fetch_leaves_the_fetch_threads_serving(ipc, rpc, monkeypatch):
    from vineyard.core import remote_blobs

    table = _four_blob_table()
    object_id = ipc.put(table)
    fetch_one = remote_blobs._fetch_one
    calls = []

    def failing(*args):
        calls.append(args)
        if len(calls) == 2:
            raise ConnectionError("the second blob's stream was cut")
        return fetch_one(*args)

    monkeypatch.setattr(remote_blobs, "_fetch_one", failing)
    with pytest.raises(ConnectionError, match="second blob"):
        rpc.get(object_id)
    monkeypatch.setattr(remote_blobs, "_fetch_one", fetch_one)
    assert rpc.get(object_id).equals(table)


def test_a_forked_child_starts_fetch_threads_of_its_own(ipc, rpc):
    from vineyard.core import remote_blobs

    table = _four_blob_table()
    assert rpc.get(ipc.put(table)).equals(table)
    assert remote_blobs._pool is not None
    child = os.fork()
    if child == 0:
        # The parent's threads do not exist here: a pool that still counted them would
        # never run what is submitted to it.
        os._exit(0 if remote_blobs._pool is None else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
