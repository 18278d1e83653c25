"""Values from `get` are views over the shared memory; putting them again copies nothing."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from memfd import in_shared_memory


def address_of(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def blob_member_id(client, object_id, name="buffer_"):
    return client.get_meta(object_id).member(name).id


def test_numpy_get_is_a_view_of_shared_memory(client):
    original = np.arange(100_000, dtype=np.float64)
    result = client.get(client.put(original))
    assert in_shared_memory(address_of(result), result.nbytes)
    assert not result.flags.writeable
    assert not in_shared_memory(address_of(original), original.nbytes)
    np.testing.assert_array_equal(result, original)


def test_tensor_and_blob_views(client):
    tensor = client.get(client.put(np.ones((64, 64), dtype=np.int32)))
    assert in_shared_memory(address_of(tensor), tensor.nbytes)
    blob = client.get_object(client.put(b"x" * 4096))
    assert in_shared_memory(blob.address, blob.size)
    view = memoryview(blob)
    assert view.readonly and view.nbytes == 4096 and bytes(view[:2]) == b"xx"


def test_arrow_get_is_a_view_of_shared_memory(client):
    array = client.get(client.put(pa.array(np.arange(10_000, dtype=np.int64))))
    data = array.buffers()[1]
    assert in_shared_memory(data.address, data.size)
    strings = client.get(client.put(pa.array(["abc"] * 1000)))
    assert in_shared_memory(strings.buffers()[2].address, strings.buffers()[2].size)


def test_dataframe_columns_are_views(client):
    frame = pd.DataFrame({"a": np.arange(1000.0), "b": np.arange(1000)})
    result = client.get(client.put(frame))
    for name in ("a", "b"):
        values = result[name].to_numpy()
        assert in_shared_memory(address_of(values), values.nbytes)


def test_a_view_keeps_its_blob_alive(client):
    object_id = client.put(np.full(1 << 16, 7, dtype=np.int64))
    view = client.get(object_id)
    client.delete(object_id)
    assert not client.exists(object_id)
    for _ in range(4):  # reuse the freed memory, if it were freed
        client.put(np.zeros(1 << 16, dtype=np.int64))
    assert int(view.sum()) == 7 << 16
    del view
    gc.collect()


def test_putting_a_view_reuses_its_blob(client):
    first = client.put(np.arange(4096, dtype=np.float32))
    view = client.get(first)
    second = client.put(view)
    assert second != first
    assert blob_member_id(client, second) == blob_member_id(client, first)
    reshaped = client.put(view.reshape(64, 64))
    assert blob_member_id(client, reshaped) == blob_member_id(client, first)
    # a part of a blob is not the blob: copied
    part = client.put(view[10:20])
    assert blob_member_id(client, part) != blob_member_id(client, first)
    np.testing.assert_array_equal(client.get(part), np.arange(10, 20, dtype=np.float32))


def test_putting_arrow_views_reuses_blobs(client):
    first = client.put(pa.array(np.arange(1000, dtype=np.int64)))
    array = client.get(first)
    second = client.put(array)
    assert blob_member_id(client, second) == blob_member_id(client, first)


def test_putting_blob_backed_values_reuses_blobs(client):
    blob_id = client.put(b"\x01" * 800)
    blob = client.get_blob(blob_id)
    array_id = client.put(np.frombuffer(blob, dtype=np.int64))
    assert blob_member_id(client, array_id) == blob_id
    assert client.put(blob) == blob_id


def test_second_process_reads_without_copy(client, vineyard_socket):
    object_id = client.put(np.arange(1 << 20, dtype=np.int64))
    script = textwrap.dedent(
        f"""
        import numpy as np, vineyard
        client = vineyard.connect({vineyard_socket!r})
        array = client.get(vineyard.ObjectID({str(object_id)!r}))
        address = array.__array_interface__["data"][0]
        maps = [line.split() for line in open("/proc/self/maps")]
        shared = any(
            len(f) >= 6 and f[5].startswith("/memfd:")
            and int(f[0].split("-")[0], 16) <= address
            and address + array.nbytes <= int(f[0].split("-")[1], 16)
            for f in maps
        )
        print(int(array.sum()), shared, array.flags.writeable)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str((1 << 20) * ((1 << 20) - 1) // 2), "True", "False"]


@pytest.mark.parametrize("size", [0, 1, 64, 1 << 20])
def test_blob_builder(client, size):
    builder = client.create_blob(size)
    assert len(builder) == size and builder.size == size
    view = memoryview(builder)
    assert not view.readonly
    if size:
        assert in_shared_memory(builder.address, size)
        view[:] = b"\x05" * size
    del view
    blob = builder.seal(client)
    assert blob.size == size and bytes(memoryview(blob)) == b"\x05" * size
    assert client.get(blob.id) == b"\x05" * size
