"""More of the remote client's API (`vineyard.connect(host, port)`, over Arrow Flight), checked
against the IPC client: `get_metas`, `list_objects` and `clear`; memoryviews through both
clients; the automatic progress line of long transfers. Also Vineyard's
`vineyard.data.pickle` (`PickledReader`, `PickledWriter`) and
`vineyard.data.dataframe.NDArrayArray` names."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import numpy as np
import pytest
import vineyard
from vineyard.core import progress as progress_module

pa = pytest.importorskip("pyarrow")
flight = pytest.importorskip("pyarrow.flight")
pd = pytest.importorskip("pandas")

ANY_PORT = ("--rpc_socket_port", "0")


@pytest.fixture
def ipc(vineyard_socket) -> Iterator[vineyard.IPCClient]:
    with vineyard.connect(vineyard_socket) as client:
        yield client


@pytest.fixture
def rpc(ipc) -> Iterator[vineyard.RPCClient]:
    with vineyard.connect(ipc.rpc_endpoint, progress=False) as client:
        yield client


@pytest.fixture
def private(start_server) -> Iterator[tuple[vineyard.IPCClient, vineyard.RPCClient]]:
    """An instance of the test's own (an IPC and a remote client of it): `clear()` and
    listing everything must not see, or wipe, what other tests stored."""
    server = start_server("128Mi", *ANY_PORT)
    with vineyard.connect(server.socket) as ipc_client:
        with vineyard.connect(ipc_client.rpc_endpoint, progress=False) as rpc_client:
            yield ipc_client, rpc_client


def sample_values() -> list:
    return [
        np.arange(10, dtype=np.int64),
        "text",
        (1, "two"),
        pd.DataFrame({"a": [1, 2, 3]}),
        np.ones((2, 3), dtype=np.float32),
    ]


# -- get_metas, list_objects, clear ------------------------------------------------------------


def test_get_metas_returns_the_metas_of_the_ids_in_the_order_asked(ipc, rpc):
    """`get_metas` gives one meta per id, in the order of the ids (reversed too), with the
    ids and typenames the IPC client reports for the same objects."""
    ids = [rpc.put(value) for value in sample_values()]
    for order in (ids, ids[::-1]):
        remote = rpc.get_metas(order)
        local = ipc.get_metas(order)
        assert [meta.id for meta in remote] == order
        assert [meta.typename for meta in remote] == [meta.typename for meta in local]
        assert [meta.typename for meta in remote] == [rpc.get_meta(i).typename for i in order]
    assert len({meta.typename for meta in rpc.get_metas(ids)}) > 1
    assert rpc.get_metas([]) == []


def test_get_metas_of_a_missing_id_raises_object_not_exists(ipc, rpc):
    """An id that names no object makes `get_metas` raise ObjectNotExistsException, as a
    local client does."""
    object_id = rpc.put(np.arange(4))
    rpc.delete(object_id)
    for client in (ipc, rpc):
        with pytest.raises(vineyard.ObjectNotExistsException):
            client.get_metas([object_id])


def ids_of(objects) -> list:
    return sorted(int(obj.id) for obj in objects)


def test_list_objects_matches_typenames_like_the_ipc_client(private):
    """`list_objects` finds the objects whose typename matches a glob or a regex, the same
    ones the IPC client lists, and honours `limit`."""
    ipc, rpc = private
    arrays = [rpc.put(np.arange(n, dtype=np.int64)) for n in (3, 4, 5)]
    sequence = rpc.put((1, "two", 3.0))  # a 2-tuple would be a vineyard::Pair
    assert rpc.get_meta(arrays[0]).typename == "vineyard::Array"
    found = rpc.list_objects("vineyard::Arr*", limit=100)
    assert ids_of(found) == sorted(int(i) for i in arrays)
    assert all(obj.typename == "vineyard::Array" for obj in found)
    assert ids_of(found) == ids_of(ipc.list_objects("vineyard::Arr*", limit=100))
    by_regex = rpc.list_objects(r"vineyard::A[a-z]+y", regex=True, limit=100)
    assert ids_of(by_regex) == ids_of(found)
    assert int(sequence) in ids_of(rpc.list_objects("vineyard::Sequence", limit=100))
    assert int(sequence) not in ids_of(found)
    everything = rpc.list_objects("*", limit=1000)
    assert ids_of(everything) == ids_of(ipc.list_objects("*", limit=1000))
    assert {int(i) for i in [*arrays, sequence]} <= set(ids_of(everything))
    assert len(rpc.list_objects("vineyard::Arr*", limit=2)) == 2
    assert rpc.list_objects("no::SuchType*", limit=100) == []


def own(client, objects) -> list:
    """The objects held by the client's instance (listings show the cluster's persisted
    objects too)."""
    return [obj for obj in objects if obj.meta.instance_id == client.instance_id]


def test_clear_empties_the_instance(private):
    """`clear()` through the remote client deletes every object of the instance: none of its
    own is listed or exists afterwards (through either client) and the memory they held is
    free again."""
    ipc, rpc = private
    baseline = rpc.status.memory_usage
    ids = [rpc.put(value) for value in sample_values()]
    ids.append(ipc.put(np.zeros(1 << 18)))  # 2 MiB, put locally
    ids.append(rpc.put(np.ones(8), persist=True))
    assert rpc.status.memory_usage > baseline
    assert {int(i) for i in ids} <= set(ids_of(rpc.list_objects("*", limit=1000)))
    rpc.clear()
    for client in (rpc, ipc):
        listed = client.list_objects("*", limit=1000)
        assert own(client, listed) == [], client
        assert not {int(i) for i in ids} & set(ids_of(listed)), client
        assert not any(client.exists(object_id) for object_id in ids), client
    assert rpc.status.memory_usage == ipc.status.memory_usage == baseline
    with pytest.raises(vineyard.ObjectNotExistsException):
        rpc.get(ids[0])
    # The instance is still usable.
    assert rpc.get(rpc.put("after")) == "after"


# -- memoryview --------------------------------------------------------------------------------


def memoryviews() -> list[memoryview]:
    return [
        memoryview(b"some bytes \x00\xff"),
        memoryview(bytearray(range(256)))[10:50],
        memoryview(np.arange(6, dtype=np.int32).reshape(2, 3)),
        memoryview(np.linspace(0, 1, 8)),
        memoryview(b""),
    ]


@pytest.mark.parametrize(
    "view", memoryviews(), ids=lambda view: f"{view.format}-{'x'.join(map(str, view.shape))}"
)
def test_a_memoryview_reads_back_alike_through_both_clients(ipc, rpc, view):
    """A memoryview put remotely or locally reads back, through either client, as a
    memoryview with the same bytes, format and shape."""
    remote_id = rpc.put(view)
    local_id = ipc.put(view)
    assert rpc.get_meta(remote_id).typename == ipc.get_meta(local_id).typename
    for client in (ipc, rpc):
        for object_id in (remote_id, local_id):
            back = client.get(object_id)
            assert isinstance(back, memoryview), (client, type(back))
            assert back.tobytes() == view.tobytes(), client
            assert (back.format, back.shape) == (view.format, view.shape), client
            assert back.tolist() == view.tolist(), client


# -- vineyard.data.pickle ----------------------------------------------------------------------


def stream(reader, block_size: int) -> list[bytes]:
    return list(iter(lambda: reader.read(block_size), b""))


def round_trip(value, block_size: int, announce: bool):
    """`value` through a PickledReader read in `block_size` blocks, written to a
    PickledWriter (told the size or not); the value it rebuilds."""
    from vineyard.data.pickle import PickledReader, PickledWriter

    reader = PickledReader(value)
    assert reader.value is value
    blocks = stream(reader, block_size)
    assert all(0 < len(block) <= block_size for block in blocks)
    assert sum(len(block) for block in blocks) == reader.store_size
    assert reader.read(block_size) == b""
    writer = PickledWriter(reader.store_size if announce else -1)
    assert writer.value is None
    for block in blocks:
        writer.write(block)
    writer.close()
    return writer.value


@pytest.mark.parametrize("block_size", [1 << 20, 65537, 1000])
@pytest.mark.parametrize("announce", [True, False], ids=["sized", "growing"])
def test_pickled_reader_and_writer_round_trip_a_value_with_a_large_array(block_size, announce):
    """A value holding a 2 MiB numpy array, read from `PickledReader` in blocks of any size
    (`store_size` bytes in all) and written to a `PickledWriter`, comes back equal."""
    big = np.random.default_rng(5).random(1 << 18)
    ints = np.arange(10, dtype=np.int32)
    back = round_trip({"big": big, "small": [1, "x", None], "ints": (ints,)}, block_size, announce)
    assert back.keys() == {"big", "small", "ints"}
    assert back["small"] == [1, "x", None]
    assert back["big"].dtype == big.dtype and np.array_equal(back["big"], big)
    assert back["ints"][0].dtype == np.int32 and np.array_equal(back["ints"][0], ints)


@pytest.mark.parametrize("block_size", [1, 7])
def test_pickled_reader_and_writer_round_trip_in_tiny_blocks(block_size):
    """Blocks smaller than the stream's header still rebuild the value."""
    value = {"a": np.arange(5), "b": ("x", 2.5)}
    back = round_trip(value, block_size, announce=True)
    assert np.array_equal(back["a"], value["a"]) and back["b"] == value["b"]


def test_pickled_reader_keeps_large_buffers_out_of_band():
    """The stream of a value with a large array holds the array's bytes once, outside the
    pickle: protocol 5 out-of-band buffers (the stream is about the array's size, and its
    bytes appear verbatim in it)."""
    from vineyard.data.pickle import PickledReader

    big = np.random.default_rng(6).random(1 << 17)  # 1 MiB
    reader = PickledReader([big])
    data = b"".join(stream(reader, 1 << 16))
    assert big.nbytes <= len(data) < big.nbytes + 4096
    assert big.tobytes() in data
    assert data.count(big.tobytes()[:64]) == 1
    in_band = pickle.dumps([big], protocol=5)
    assert in_band not in data  # not the plain pickle


@pytest.mark.parametrize(
    "raw", [b"raw bytes", bytearray(b"a bytearray"), memoryview(b"a view"), b""]
)
def test_pickled_streams_carry_bytes_like_values_as_bytes(raw):
    """Bytes-like values go through the pickled stream and come back as `bytes` with the
    same content."""
    from vineyard.data.pickle import PickledReader, PickledWriter

    reader = PickledReader(raw)
    writer = PickledWriter(reader.store_size)
    for block in stream(reader, 3):
        writer.write(block)
    writer.close()
    assert type(writer.value) is bytes and writer.value == bytes(raw)


def test_pickled_writer_refuses_bad_streams():
    """`read(0)` is refused; a writer given more bytes than announced, or closed on too few
    bytes, raises ValueError instead of producing a wrong value."""
    from vineyard.data.pickle import PickledReader, PickledWriter

    reader = PickledReader({"a": 1})
    with pytest.raises(ValueError):
        reader.read(0)
    data = b"".join(stream(reader, 1024))
    writer = PickledWriter(len(data))
    with pytest.raises(ValueError):
        writer.write(data + b"x")
    short = PickledWriter(-1)
    short.write(data[:-1])
    with pytest.raises(ValueError):
        short.close()
    assert short.value is None


# -- vineyard.data.dataframe.NDArrayArray ------------------------------------------------------


def test_ndarray_array_is_exported_by_vineyard_data_dataframe():
    """`vineyard.data.dataframe.NDArrayArray` (Vineyard's import path) is the extension array
    of `vineyard.data.ndarray`, a pandas ExtensionArray whose dtype records the rows' shape."""
    from pandas.api.extensions import ExtensionArray
    from vineyard.data import ndarray
    from vineyard.data.dataframe import NDArrayArray

    assert NDArrayArray is ndarray.NDArrayArray
    assert issubclass(NDArrayArray, ExtensionArray)
    rows = np.arange(24, dtype=np.float32).reshape(4, 2, 3)
    array = NDArrayArray(rows)
    assert len(array) == 4
    assert (array.dtype.shape, array.dtype.subtype) == ((2, 3), np.dtype(np.float32))
    assert np.array_equal(array[1], rows[1])


@pytest.mark.parametrize("client_name", ["ipc", "rpc"])
def test_a_dataframe_with_an_ndarray_column_round_trips(request, ipc, client_name):
    """A DataFrame with an `NDArrayArray` column (rows of shape (3,)) and a plain column, put
    through either client, reads back through both with the same rows, dtype and labels."""
    from vineyard.data.dataframe import NDArrayArray

    writer = request.getfixturevalue(client_name)
    rows = np.random.default_rng(7).random((5, 3))
    frame = pd.DataFrame({"data": NDArrayArray(rows), "label": [0, 1, 0, 1, 1]})
    object_id = writer.put(frame)
    assert writer.get_meta(object_id).typename == "vineyard::DataFrame"
    for reader in {ipc, writer}:
        back = reader.get(object_id)
        assert list(back.columns) == ["data", "label"]
        assert isinstance(back["data"].array, NDArrayArray)
        assert back["data"].dtype == frame["data"].dtype
        assert np.array_equal(back["data"].array.ndarray, rows)
        assert back["label"].equals(frame["label"])
        assert back.index.equals(frame.index)


# -- progress on stderr ------------------------------------------------------------------------


def test_a_long_remote_transfer_prints_its_progress_on_stderr(ipc, monkeypatch, capfd):
    """With the threshold (`progress.AFTER`) at 0, a remote put and get of 4 MiB without a
    callback print a progress line on stderr naming the direction and the endpoint, ending
    at 100% of the 4 MiB."""
    monkeypatch.setattr(progress_module, "AFTER", 0.0)
    value = np.arange(1 << 19, dtype=np.float64)  # 4 MiB
    with vineyard.connect(ipc.rpc_endpoint) as rpc:
        capfd.readouterr()
        object_id = rpc.put(value)
        sent = capfd.readouterr().err
        back = rpc.get(object_id)
        received = capfd.readouterr().err
        endpoint = rpc.rpc_endpoint
    np.testing.assert_array_equal(back, value)
    assert f"vineyard: sending to {endpoint}:" in sent
    assert "4.0 MiB of 4.0 MiB (100%)" in sent and sent.endswith("\n")
    assert f"vineyard: receiving from {endpoint}:" in received
    assert "4.0 MiB of 4.0 MiB (100%)" in received and received.endswith("\n")
    assert "sending" not in received and "receiving" not in sent


def test_a_transfer_prints_nothing_below_the_threshold_or_when_silenced(ipc, monkeypatch, capfd):
    """Below the threshold nothing is printed on stderr; neither with the threshold at 0 when
    progress is off (`progress=False` when connecting, or for one call)."""
    value = np.arange(1 << 19, dtype=np.float64)  # 4 MiB
    monkeypatch.setattr(progress_module, "AFTER", 3600.0)
    with vineyard.connect(ipc.rpc_endpoint) as rpc:
        capfd.readouterr()
        np.testing.assert_array_equal(rpc.get(rpc.put(value)), value)
        assert "vineyard:" not in capfd.readouterr().err
        monkeypatch.setattr(progress_module, "AFTER", 0.0)
        object_id = rpc.put(value, progress=False)
        rpc.get(object_id, progress=False)
        assert "vineyard:" not in capfd.readouterr().err
    with vineyard.connect(ipc.rpc_endpoint, progress=False) as silent:
        capfd.readouterr()
        np.testing.assert_array_equal(silent.get(silent.put(value)), value)
        assert "vineyard:" not in capfd.readouterr().err
