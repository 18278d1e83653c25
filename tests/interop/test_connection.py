"""Connecting, instance status, cluster meta and the server's life cycle."""

import numpy as np
from conftest import SERVER_SIZE_BYTES


def test_connect_registers_with_the_server(server, client):
    assert client.connected
    assert client.is_ipc
    assert client.ipc_socket == str(server.socket)
    assert isinstance(client.instance_id, int)
    assert isinstance(client.rpc_endpoint, str)


def test_status_reports_instance_and_memory_limit(client):
    status = client.status
    assert status.instance_id == client.instance_id
    assert status.memory_limit == SERVER_SIZE_BYTES
    assert 0 <= status.memory_usage <= status.memory_limit
    assert isinstance(status.deployment, str)
    assert status.ipc_connections >= 1
    assert status.deferred_requests == 0


def test_status_memory_usage_grows_with_a_put(client):
    before = client.status.memory_usage
    array = np.arange(1 << 20, dtype=np.uint8)
    client.put(array)
    after = client.status.memory_usage
    assert after >= before + array.nbytes
    assert after <= SERVER_SIZE_BYTES


def test_status_counts_a_second_connection(client, peer):
    assert client.status.ipc_connections >= 2
    assert peer.call("status")["ipc_connections"] >= 2


def test_cluster_meta_lists_this_instance(server, client):
    cluster = client.meta
    assert client.instance_id in cluster
    info = cluster[client.instance_id]
    assert info["ipc_socket"] == str(server.socket)
    for key in ("hostname", "rpc_endpoint", "nodename", "hostid", "timestamp"):
        assert key in info


def test_two_processes_see_the_same_instance(client, peer):
    assert peer.instance_id == client.instance_id
    assert peer.call("status")["memory_limit"] == SERVER_SIZE_BYTES


def test_server_survives_a_client_killed_mid_session(client, peer_factory):
    doomed = peer_factory()
    doomed.call("get_blob", id=int(client.put(b"still here")), hold=True)
    doomed.kill()
    # The server must have dropped the dead connection without disturbing the others.
    object_id = client.put(b"after the crash")
    assert bytes(client.get(object_id)) == b"after the crash"
    survivor = peer_factory()
    assert survivor.call("get_bytes", id=int(object_id))["hex"] == b"after the crash".hex()


def test_sigterm_with_a_connected_client_exits_cleanly(server, client):
    client.put(np.zeros(16))
    server.assert_clean_stop()
