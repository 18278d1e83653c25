"""Objects put by the pip client: values across processes, metadata, names, listing, deletion."""

import hashlib
import json

import numpy as np
import pytest
import vineyard
from conftest import PeerError

EMPTY_BLOB_ID = 0x8000000000000000
UNKNOWN_OBJECT_ID = 0x0000000000001234
UNKNOWN_BLOB_ID = 0x8000000000001234


def digest(data) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


def assert_zero_copy(view: dict) -> None:
    """The peer's value must be a read-only view into the server's shared memory file."""
    assert view["mapping"] is not None, "address not inside any mapping"
    fields = view["mapping"].split()
    assert fields[1].startswith("r") and fields[1][3] == "s", f"not a shared mapping: {fields}"
    assert "memfd:" in view["mapping"], f"not a memfd mapping: {view['mapping']}"


def test_numpy_float64_round_trips_to_another_process_without_copy(client, peer):
    array = np.arange(1_000_000, dtype=np.float64)
    object_id = client.put(array)

    view = peer.call("get_array", id=int(object_id))
    assert view["dtype"] == "<f8"
    assert view["shape"] == [1_000_000]
    assert view["head"] == [0.0, 1.0, 2.0]
    assert view["tail"] == [999_997.0, 999_998.0, 999_999.0]
    assert view["sha256"] == digest(array.tobytes())
    assert not view["writeable"]
    assert not view["owndata"]
    assert_zero_copy(view)

    local = client.get(object_id)
    np.testing.assert_array_equal(local, array)


def test_numpy_2d_int32_round_trips_to_another_process(client, peer):
    array = (np.arange(300 * 500, dtype=np.int32) * 7 - 12_345).reshape(300, 500)
    object_id = client.put(array)

    view = peer.call("get_array", id=int(object_id))
    assert view["dtype"] == "<i4"
    assert view["shape"] == [300, 500]
    assert view["head"] == [-12_345, -12_338, -12_331]
    assert view["tail"] == array.reshape(-1)[-3:].tolist()
    assert view["sha256"] == digest(array.tobytes())
    assert_zero_copy(view)


def test_bytes_round_trip_to_another_process(client, peer):
    payload = bytes(range(256)) * 40 + b"vineyard-rs"
    object_id = client.put(payload)

    view = peer.call("get_bytes", id=int(object_id))
    assert view["size"] == len(payload)
    assert view["sha256"] == digest(payload)
    assert view["readonly"]
    assert_zero_copy(view)
    assert bytes(client.get(object_id)) == payload


def test_empty_bytes_round_trip(client, peer):
    object_id = client.put(b"")
    assert int(object_id) == EMPTY_BLOB_ID
    assert bytes(client.get(object_id)) == b""
    assert peer.call("get_bytes", id=int(object_id))["hex"] == ""


def test_empty_array_round_trip(client, peer):
    object_id = client.put(np.zeros(0, dtype=np.float64))
    view = peer.call("get_array", id=int(object_id))
    assert view["shape"] == [0]
    assert view["dtype"] == "<f8"


def test_get_meta_of_a_tensor(client):
    object_id = client.put(np.arange(1_000_000, dtype=np.float64))
    meta = client.get_meta(object_id)
    assert meta.id == object_id
    assert meta.typename == "vineyard::Tensor<double>"
    assert meta.nbytes == 8_000_000
    assert json.loads(meta["shape_"]) == [1_000_000]
    assert meta["value_type_"] == "float64"
    assert meta.instance_id == client.instance_id
    assert meta.islocal
    assert not meta.isglobal
    assert meta["transient"] is True
    assert meta.timestamp > 0

    buffer = meta.get_member("buffer_")
    assert buffer.typename == "vineyard::Blob"
    assert int(buffer.id) >= 1 << 63
    assert client.exists(buffer.id)

    int_meta = client.get_meta(client.put(np.ones((3, 4), dtype=np.int32)))
    assert int_meta.typename == "vineyard::Tensor<int>"
    assert int_meta.nbytes == 48
    assert json.loads(int_meta["shape_"]) == [3, 4]


def test_get_meta_of_a_blob_reports_its_size(client):
    object_id = client.put(b"x" * 1000)
    meta = client.get_meta(object_id)
    assert meta.typename == "vineyard::Blob"
    assert meta.nbytes == 1000


def test_persist_flips_transient(client, peer):
    object_id = client.put(np.arange(10))
    assert not client.get_object(object_id).ispersist
    assert peer.call("get_meta", id=int(object_id))["ispersist"] is False

    client.persist(object_id)
    assert client.get_object(object_id).ispersist
    assert client.get_meta(object_id)["transient"] is False
    assert not client.get_meta(object_id).isglobal
    assert peer.call("get_meta", id=int(object_id))["ispersist"] is True


def test_persist_of_a_blob_is_refused(client):
    blob_id = client.put(b"raw bytes")
    with pytest.raises(vineyard.AssertionFailedException, match="cannot be persisted"):
        client.persist(blob_id)
    assert client.exists(blob_id)


def test_persist_of_an_unknown_id_is_refused(client):
    with pytest.raises(vineyard.MetaTreeSubtreeNotExistsException):
        client.persist(vineyard.ObjectID(UNKNOWN_OBJECT_ID))


def test_names_need_a_persisted_object(client, peer):
    array = np.arange(24, dtype=np.int64).reshape(4, 6)
    object_id = client.put(array)
    with pytest.raises(vineyard.InvalidException, match="persist"):
        client.put_name(object_id, "matrix")

    client.persist(object_id)
    client.put_name(object_id, "matrix")
    assert client.get_name("matrix") == object_id
    assert client.get_meta(object_id)["__name"] == "matrix"
    assert peer.call("get_name", name="matrix") == int(object_id)
    assert peer.call("get_by_name", name="matrix")["sha256"] == digest(array.tobytes())
    assert client.list_names("mat*", limit=10) == {"matrix": object_id}

    client.drop_name("matrix")
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.get_name("matrix")
    with pytest.raises(PeerError) as raised:
        peer.call("get_name", name="matrix")
    assert raised.value.kind == "ObjectNotExistsException"
    client.drop_name("matrix")  # dropping an unknown name is fine
    assert client.exists(object_id)


def test_get_name_with_wait_answers_once_the_name_exists(client, peer):
    peer.send("get_name", name="later", wait=True)
    assert not peer.has_answer(within=0.3), "get_name(wait=True) answered before the name existed"
    # The server must keep serving other connections while that reply is deferred.
    object_id = client.put(np.arange(8.0), persist=True, name="later")
    assert peer.has_answer(within=5), "get_name(wait=True) never answered"
    assert peer.receive() == int(object_id)


def test_name_errors(client):
    with pytest.raises(vineyard.InvalidException, match="blob"):
        client.put_name(client.put(b"blob"), "blob-name")
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.put_name(vineyard.ObjectID(UNKNOWN_OBJECT_ID), "ghost")
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.get_name("never-put")


def test_put_with_persist_and_name(client, peer):
    array = np.linspace(0.0, 1.0, 101)
    object_id = client.put(array, persist=True, name="grid")
    assert client.get_name("grid") == object_id
    assert client.get_object(object_id).ispersist
    assert peer.call("get_by_name", name="grid")["sha256"] == digest(array.tobytes())


def test_list_objects_with_a_pattern(client):
    doubles = {client.put(np.arange(5.0)), client.put(np.arange(6.0))}
    ints = {client.put(np.ones((3, 4), dtype=np.int32))}
    blob = client.put(b"not a tensor")

    def listed(pattern, **kwargs):
        return {found.id for found in client.list_objects(pattern, **kwargs)}

    assert listed("vineyard::Tensor<double>", limit=10) == doubles
    assert listed("vineyard::Tensor<*", limit=10) == doubles | ints
    assert listed(r"vineyard::Tensor<(double|int)>", regex=True, limit=10) == doubles | ints
    assert len(listed("vineyard::Tensor*", limit=2)) == 2
    assert listed("vineyard::Tensor<float>", limit=10) == set()
    assert blob in listed("vineyard::Blob", limit=100)
    everything = listed("*", limit=100)
    assert doubles | ints | {blob} <= everything


def test_delete_removes_the_object_and_its_blob(client, peer):
    object_id = client.put(np.arange(100, dtype=np.float64))
    blob_id = client.get_meta(object_id).get_member("buffer_").id
    assert client.exists(object_id)

    client.delete(object_id)
    assert not client.exists(object_id)
    assert not client.exists(blob_id)
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.get(object_id)
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.get_meta(object_id)
    assert peer.call("exists", id=int(object_id)) is False
    with pytest.raises(PeerError) as raised:
        peer.call("get_array", id=int(object_id))
    assert raised.value.kind == "ObjectNotExistsException"
    assert object_id not in {found.id for found in client.list_objects("*", limit=100)}


def test_delete_of_an_unknown_id_is_a_no_op(client):
    kept = client.put(np.arange(3))
    client.delete(vineyard.ObjectID(UNKNOWN_OBJECT_ID))
    assert client.exists(kept)


def test_unknown_ids(client):
    unknown = vineyard.ObjectID(UNKNOWN_OBJECT_ID)
    assert not client.exists(unknown)
    assert not client.exists(vineyard.ObjectID(UNKNOWN_BLOB_ID))
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.get(unknown)
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.get_meta(unknown)
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.get_meta(vineyard.ObjectID(UNKNOWN_BLOB_ID))
    # An unknown blob is left out of get_buffers, which the client turns into None.
    assert client.get_blob(vineyard.ObjectID(UNKNOWN_BLOB_ID)) is None


def test_exists(client):
    object_id = client.put(np.arange(7))
    blob_id = client.get_meta(object_id).get_member("buffer_").id
    assert client.exists(object_id)
    assert client.exists(blob_id)
    assert not client.exists(vineyard.ObjectID(UNKNOWN_OBJECT_ID))


def test_clear_removes_every_object(client, peer):
    ids = [client.put(np.arange(1000.0)), client.put(b"bytes"), client.put(np.ones((2, 2)))]
    assert client.status.memory_usage > 0

    client.clear()
    for object_id in ids:
        assert not client.exists(object_id)
        assert peer.call("exists", id=int(object_id)) is False
    assert client.list_objects("*", limit=100) == []
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.get(ids[0])
    # The store is usable again afterwards.
    again = client.put(np.arange(4.0))
    assert peer.call("get_array", id=int(again))["head"] == [0.0, 1.0, 2.0]
