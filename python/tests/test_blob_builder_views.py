"""A BlobBuilder's views never outlive its hold on the memory, and `Blob` is an object natively.

After `abort()` the server gives the builder's range to other objects, and after `seal()` the
blob is immutable and shared: a view of the builder kept across either would write into
memory that is no longer the builder's. So `seal()` / `abort()` refuse while a view is alive,
a finished builder exports nothing, and an `abort()` from another thread waits for a running
`copy()`.

Each scenario runs on a server of its own, so that freed ranges are handed out again
predictably (the allocator gives a freed range to the next allocation of its size).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import vineyard
from conftest import Server, running_server
from vineyard import _native

SIZE = 1 << 20


@pytest.fixture
def server() -> Iterator[Server]:
    with running_server("1Gi", "--meta", "local") as started:
        yield started


def memoryview_of(builder: vineyard.BlobBuilder) -> memoryview:
    return memoryview(builder)


def numpy_array_of(builder: vineyard.BlobBuilder) -> np.ndarray:
    return np.frombuffer(builder, dtype=np.uint8)


VIEWS: list[Callable[[vineyard.BlobBuilder], object]] = [memoryview_of, numpy_array_of]


def write(view: object, byte: int) -> None:
    """Writes `byte` over the whole view (a memoryview or a numpy array)."""
    if isinstance(view, memoryview):
        view[:] = bytes([byte]) * len(view)
    else:
        view[:] = byte  # type: ignore[index]


def attempt(action: Callable[[], object]) -> BaseException | None:
    """Runs `action`; returns what it raised, if anything."""
    try:
        action()
    except Exception as error:  # noqa: BLE001 - the test inspects it
        return error
    return None


@pytest.mark.parametrize("make_view", VIEWS)
def test_a_view_kept_across_abort_cannot_write_into_another_objects_blob(server, make_view):
    with vineyard.connect(server.socket) as client, vineyard.connect(server.socket) as other:
        builder = client.create_blob(SIZE)
        view = make_view(builder)
        refused = attempt(builder.abort)

        # What the refusal protects: once the range is free, the next blob of its size (here
        # another client's) gets it; the kept view must not be able to change that blob.
        victim = other.create_blob(SIZE)
        victim.copy(0, b"\x02" * SIZE)
        victim_id = victim.seal()
        write(view, 0x01)
        assert bytes(other.get_blob(victim_id)) == b"\x02" * SIZE, (
            "a view kept across abort() wrote into a blob another client sealed"
        )

        assert isinstance(refused, vineyard.LiveViewsException), refused
        assert isinstance(refused, BufferError) and isinstance(refused, vineyard.VineyardException)
        assert "release them first" in str(refused) and "del view" in str(refused)
        del view
        gc.collect()
        builder.abort()  # nothing exported any more
        assert not client.exists(builder.id)


@pytest.mark.parametrize("make_view", VIEWS)
def test_a_view_kept_across_seal_cannot_change_the_sealed_blob(server, make_view):
    with vineyard.connect(server.socket) as client, vineyard.connect(server.socket) as reader:
        builder = client.create_blob(SIZE)
        view = make_view(builder)
        write(view, 0x01)
        refused = attempt(builder.seal)

        if refused is None:  # what the refusal protects: the sealed bytes others read
            before = bytes(reader.get_blob(builder.id))
            write(view, 0x02)
            assert bytes(reader.get_blob(builder.id)) == before, (
                "a view kept across seal() changed the sealed blob"
            )

        assert isinstance(refused, vineyard.LiveViewsException), refused
        assert "cannot seal" in str(refused) and "del view" in str(refused)
        del view
        gc.collect()
        blob = builder.seal(client)
        assert isinstance(blob, vineyard.Blob) and bytes(blob) == b"\x01" * SIZE


def test_released_views_let_the_builder_seal(server):
    with vineyard.connect(server.socket) as client:
        builder = client.create_blob(16)
        with memoryview(builder) as view:
            view[:8] = b"\x07" * 8
            assert isinstance(attempt(builder.seal), vineyard.LiveViewsException)
        builder.buffer[8:] = b"\x09" * 8  # a temporary view, released at once
        builder.copy(0, memoryview(builder)[8:12])  # a copy from its own memory
        assert bytes(builder.seal(client)) == b"\x09" * 4 + b"\x07" * 4 + b"\x09" * 8


@pytest.mark.parametrize("finish", ["seal", "abort"])
def test_a_finished_builder_exports_no_memory(server, finish):
    with vineyard.connect(server.socket) as client:
        builder = client.create_blob(SIZE)
        getattr(builder, finish)()
        with pytest.raises(BufferError, match="sealed or aborted"):
            memoryview(builder)
        with pytest.raises(BufferError, match="sealed or aborted"):
            np.frombuffer(builder, dtype=np.uint8)


def test_abort_from_another_thread_waits_for_a_running_copy(server):
    size = 256 << 20
    source = np.full(size, 0x01, dtype=np.uint8)
    tail = 4096
    with vineyard.connect(server.socket) as client, vineyard.connect(server.socket) as other:
        # `other` maps the memory (and faults its pages in) before, so that its allocation
        # below is quick.
        other.create_blob(size).abort()
        builder = client.create_blob(size)
        started = threading.Event()
        outcome: list[object] = []

        def copy() -> None:
            started.set()
            try:
                builder.copy(0, source)
                outcome.append("copied")
            except Exception as error:  # noqa: BLE001 - checked below
                outcome.append(error)

        copier = threading.Thread(target=copy)
        copier.start()
        started.wait()
        time.sleep(0.002)  # the copy is under way (it takes tens of milliseconds)
        builder.abort()

        # What the wait protects: the freed range goes to the next blob of its size; a copy
        # still running would overwrite it. The copy writes the end of the range last.
        victim = other.create_blob(size)
        victim.copy(size - tail, b"\x02" * tail)
        victim_id = victim.seal()
        copier.join()
        end = bytes(memoryview(other.get_blob(victim_id))[size - tail :])
        assert end == b"\x02" * tail, "a copy ran on after abort() freed its range"

        # The copy either ran to its end before the abort, or (had the abort come first)
        # failed cleanly.
        (result,) = outcome
        assert result == "copied" or isinstance(result, vineyard.ObjectSealedException), result


def test_blob_object_surface_is_native(client):
    blob_id = client.put(b"Hello, World!")
    # Straight from the native client: no Python code saw this blob before.
    (blob,) = client._native.get_blobs([blob_id])
    native = _native.Blob.__dict__
    for name in (
        "typename",
        "meta",
        "instance_id",
        "nbytes",
        "signature",
        "islocal",
        "isglobal",
        "ispersist",
        "buffer",
    ):
        assert type(native[name]).__name__ == "getset_descriptor", name
    assert type(native["member"]).__name__ == "method_descriptor"
    for name in ("__eq__", "__hash__", "__repr__"):
        assert type(native[name]).__name__ == "wrapper_descriptor", name
    assert type(_native.BlobBuilder.__dict__["seal"]).__name__ == "method_descriptor"
    assert not hasattr(vineyard.core.object, "missing_native_extras")

    assert blob.instance_id == client.instance_id
    assert (blob.typename, blob.nbytes, blob.signature) == ("vineyard::Blob", 13, None)
    assert (blob.islocal, blob.isglobal, blob.ispersist) == (True, False, False)
    meta = blob.meta
    assert isinstance(meta, vineyard.ObjectMeta)
    assert (meta.id, meta.instance_id, meta["length"]) == (blob_id, client.instance_id, 13)
    assert bytes(blob.buffer) == b"Hello, World!"
    with pytest.raises(KeyError, match="no members"):
        blob.member("buffer_")

    again = client.get_blob(blob_id)
    assert again is not blob and again == blob and not (again != blob)
    assert hash(again) == hash(blob) == hash(int(blob_id))
    assert blob != client.get_blob(client.put(b"other")) and blob != blob_id
    assert repr(blob) == str(blob) == f'Object <"{blob_id}": vineyard::Blob>'

    empty = client._native.get_blobs([client.put(b"")])[0]
    assert (empty.instance_id, empty.signature) == (client.instance_id, 0x8000000000000000)

    builder = client.create_blob(3)
    assert (builder.typename, builder.instance_id, builder.nbytes) == (
        "vineyard::Blob",
        client.instance_id,
        3,
    )
    builder.copy(0, b"abc")
    sealed = builder.seal(client)
    assert isinstance(sealed, vineyard.Blob) and sealed.id == builder.id
    assert bytes(sealed) == b"abc"


def test_the_client_knows_which_blobs_it_handed_out(client):
    array = client.get(client.put(np.arange(1024, dtype=np.int64)))
    address = array.__array_interface__["data"][0]
    blob_id = client.get_meta(client.put(array)).member("buffer_").id
    assert client.find_shared_memory(address) == blob_id
    assert client.find_shared_memory(address, array.nbytes) == blob_id
    assert client.find_shared_memory(address, array.nbytes - 8) is None
    assert client.is_shared_memory(address)
    with vineyard.connect(client.ipc_socket) as other:
        assert other.find_shared_memory(address) is None  # another client's mapping
    del array
    gc.collect()
    assert client.find_shared_memory(address) is None  # forgotten with the last view
