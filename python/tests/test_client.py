"""The client surface: connect, objects, metadata, names, listing, deletion, status."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest
import vineyard
from vineyard import Blob, Object, ObjectID, ObjectMeta


def test_connect_forms(vineyard_socket, monkeypatch):
    with vineyard.connect(vineyard_socket) as client:
        assert isinstance(client, vineyard.IPCClient) and client.connected
        assert client.ipc_socket == vineyard_socket
    with vineyard.connect(socket=vineyard_socket) as client:
        assert client.instance_id == client.status.instance_id
    monkeypatch.setenv("VINEYARD_IPC_SOCKET", vineyard_socket)
    with vineyard.connect() as client:
        assert client.ipc_socket == vineyard_socket
    assert vineyard.Client is vineyard.IPCClient


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "form",
    [
        lambda port: ((f"127.0.0.1:{port}",), {}),
        lambda port: (("127.0.0.1", port), {}),
        lambda port: ((), {"host": "127.0.0.1", "port": port}),
        lambda port: ((), {"endpoint": ("127.0.0.1", port)}),
        lambda port: ((("127.0.0.1", str(port)),), {}),
    ],
)
def test_remote_connect_goes_over_rpc(form):
    port = closed_port()
    args, kwargs = form(port)
    with pytest.raises(vineyard.ConnectionFailedException, match=f"RPC endpoint 127.0.0.1:{port}"):
        vineyard.connect(*args, **kwargs)


def test_connect_without_a_socket(monkeypatch):
    monkeypatch.delenv("VINEYARD_IPC_SOCKET", raising=False)
    monkeypatch.delenv("VINEYARD_RPC_ENDPOINT", raising=False)
    with pytest.raises(vineyard.ConnectionFailedException, match="VINEYARD_IPC_SOCKET"):
        vineyard.connect()


def test_connect_to_a_missing_socket(tmp_path):
    with pytest.raises(vineyard.ConnectionFailedException) as caught:
        vineyard.connect(str(tmp_path / "nothing.sock"))
    assert "nothing.sock" in str(caught.value)


def test_status_and_cluster_meta(client):
    status = client.status
    assert status.instance_id == client.instance_id
    assert status.memory_limit == 512 * 1024 * 1024
    assert status.ipc_connections >= 1 and status.rpc_connections >= 0
    assert isinstance(status.deployment, str) and status.deferred_requests >= 0
    assert status.memory_usage >= 0
    assert repr(status).startswith("InstanceStatus:") and "memory_limit: 536870912" in repr(status)
    cluster = client.meta
    assert client.instance_id in cluster
    assert cluster[client.instance_id]["ipc_socket"] == client.ipc_socket
    assert isinstance(client.rpc_endpoint, str)
    assert "IPCClient" in repr(client)


def test_objects_and_members(client):
    pair_id = client.put((np.arange(5), "text"))
    pair = client.get_object(pair_id)
    assert isinstance(pair, Object)
    assert (pair.id, pair.typename) == (pair_id, "vineyard::Pair")
    assert repr(pair) == f'Object <"{pair_id}": vineyard::Pair>' == str(pair)
    assert pair.islocal and not pair.isglobal and not pair.ispersist
    assert pair.first.size() == 5 and pair["first"].typename == "vineyard::Array"
    assert pair.member("second").meta["value_"] == "text"
    buffer = pair.first.member("buffer_")
    assert isinstance(buffer, Blob) and isinstance(buffer, Object)
    assert buffer.size == 40 and buffer.typename == "vineyard::Blob"
    assert pair.nbytes == 40
    with pytest.raises(AttributeError, match="no attribute or member"):
        pair.third  # noqa: B018
    objects = client.get_objects([pair_id, pair.first.id])
    assert [obj.typename for obj in objects] == ["vineyard::Pair", "vineyard::Array"]
    metas = client.get_metas([pair_id])
    assert isinstance(metas[0], ObjectMeta) and metas[0].id == pair_id


def test_blob_surface(client):
    blob_id = client.put(b"Hello, World!")
    assert blob_id.is_blob
    blob = client.get_object(blob_id)
    assert (blob.typename, blob.size, blob.nbytes, blob.is_empty) == (
        "vineyard::Blob",
        13,
        13,
        False,
    )
    assert str(blob) == repr(blob) == f'Object <"{blob_id}": vineyard::Blob>'
    assert blob.meta.typename == "vineyard::Blob" and blob.meta["length"] == 13
    assert blob.id == blob_id and blob.address != 0
    assert bytes(blob.buffer) == b"Hello, World!"
    empty = client.get_object(client.put(b""))
    assert empty.is_empty and empty.size == 0 and bytes(memoryview(empty)) == b""
    assert client.get_blob(blob_id) == blob
    assert [b.id for b in client.get_blobs([blob_id, empty.id])] == [blob_id, empty.id]
    assert client.create_empty_blob().size == 0
    builders = client.create_blob([3, 4])
    assert [b.size for b in builders] == [3, 4]
    for builder in builders:
        builder.abort()


def test_persist_names_and_exists(client):
    prefix = f"test-client-{uuid.uuid4().hex}"
    name = f"{prefix}-list"
    object_id = client.put([1, 2])
    assert client.exists(object_id)
    assert not client.get_object(object_id).ispersist
    client.persist(object_id)
    assert client.get_object(object_id).ispersist
    client.put_name(object_id, vineyard.ObjectName(name))
    assert client.get_name(name) == object_id
    assert client.list_names(f"{prefix}-*", limit=10) == {name: object_id}
    assert client.get(name=name) == [1, 2]
    client.drop_name(name)
    assert client.list_names(f"{prefix}-*") == {}
    client.persist(client.get_object(object_id))  # objects and metas are accepted too


def test_list_objects_and_metadatas(start_server):
    server = start_server("64Mi", "--meta", "local")  # alone: nothing listed from others
    with vineyard.connect(server.socket) as client:
        ids = [client.put(np.zeros(n)) for n in (1, 2, 3)]
        client.put("not an array")
        objects = client.list_objects("vineyard::Array", limit=10)
        assert sorted(obj.id for obj in objects) == sorted(ids)
        assert all(isinstance(obj, Object) for obj in objects)
        metas = client.list_metadatas("vineyard::A*", limit=2)
        assert len(metas) == 2 and all(meta.typename == "vineyard::Array" for meta in metas)
        regex = client.list_metadatas("vineyard::(Array|Scalar<.*>)", regex=True, limit=10)
        assert len(regex) == 4


def test_delete(client):
    ids = [client.put(i) for i in range(3)]
    client.delete(ids[0])
    assert not client.exists(ids[0])
    client.delete([ids[1], client.get_object(ids[2])])
    assert not any(client.exists(i) for i in ids)
    client.delete(ids)  # unknown ids are ignored

    inner = client.put(np.arange(3))
    outer = client.put([client.get_object(inner)])
    client.delete(inner)  # still a member of `outer`: kept
    assert client.exists(inner)
    client.delete(inner, force=True)  # deletes its users too
    assert not client.exists(inner) and not client.exists(outer)

    inner = client.put(np.arange(3))
    outer = client.put([client.get_object(inner)])
    client.delete(outer, deep=False)
    assert not client.exists(outer) and client.exists(inner)


def test_clear(start_server):
    server = start_server("64Mi", "--meta", "local")  # alone: nothing listed from others
    with vineyard.connect(server.socket) as client:
        ids = [client.put(np.ones(1000)), client.put("x")]
        client.clear()
        assert not any(client.exists(i) for i in ids)
        assert client.list_objects("*", limit=100) == []


def test_fork_gives_a_fresh_connection(client):
    other = client.fork()
    try:
        assert other is not client and other.ipc_socket == client.ipc_socket
        object_id = other.put("from the fork")
        assert client.get(object_id) == "from the fork"
    finally:
        other.close()
    assert not other.connected and client.connected


def test_closed_client_raises(vineyard_socket):
    client = vineyard.connect(vineyard_socket)
    client.close()
    with pytest.raises(vineyard.VineyardException):
        client.put(1)


def test_object_ids(client):
    object_id = client.put(1)
    assert ObjectID(str(object_id)) == object_id == ObjectID(int(object_id))
    assert repr(object_id) == f'ObjectID <"{object_id}">'
    assert len({object_id, ObjectID(int(object_id))}) == 1
    assert client.get(str(object_id)) == 1 and client.get(int(object_id)) == 1


def test_get_needs_an_id_or_a_name(client):
    with pytest.raises(ValueError, match="object id or a name"):
        client.get()


def test_vineyard_c_import_path():
    from vineyard._C import Blob as CBlob
    from vineyard._C import ObjectMeta as CObjectMeta

    assert CBlob is Blob and CObjectMeta is ObjectMeta
    assert vineyard.__version__
    assert os.path.exists(os.path.join(os.path.dirname(vineyard.__file__), "py.typed"))


def test_one_client_shared_by_threads(client):
    import threading

    errors = []

    def work(seed):
        try:
            for index in range(50):
                value = [seed, index, np.full(16, index)]
                result = client.get(client.put(value))
                assert result[:2] == [seed, index] and int(result[2].sum()) == 16 * index
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, vineyard; "
        "print(sorted(m for m in ('numpy', 'pandas', 'pyarrow') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
