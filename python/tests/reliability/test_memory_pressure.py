"""Memory pressure: a full store answers `NotEnoughMemoryException` (with `requested` and
`available`), never crashes; it keeps serving, and a delete makes room at once.

Limits of the machine rather than of `--size`: the bulk store is one memfd (not a file in
/dev/shm), sized with ftruncate and mapped once at start-up. So the limits that bite are the
address space (`ulimit -v`) and the file size limit (`ulimit -f`): the server must refuse to
start with one clear line, not die of a signal. A tiny /dev/shm (a 1 MiB tmpfs in a private
mount namespace, root only) must not matter at all."""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
import vineyard
from stress import memory_usage, record
from support import running_server

MiB = 1 << 20


def test_filling_the_store():
    with running_server("32Mi", "--meta", "local") as server:
        client = vineyard.connect(server.socket)
        values = {}
        refusals = 0
        while True:
            value = np.full(MiB // 8, len(values), dtype=np.int64)
            try:
                values[client.put(value)] = len(values)
            except vineyard.NotEnoughMemoryException as error:
                refusals += 1
                assert error.requested >= MiB
                assert error.available < error.requested
                break
        assert 28 <= len(values) <= 32
        # Full: every way of asking is refused, clearly, and the server keeps serving.
        for size in (MiB, 32 * MiB, 1 << 40):
            with pytest.raises(vineyard.NotEnoughMemoryException) as caught:
                client.create_blob(size)
            refusals += 1
            assert caught.value.requested == size
        with pytest.raises(vineyard.NotEnoughMemoryException):
            client.put(b"x" * (2 * MiB))
        refusals += 1
        assert client.status.memory_limit == 32 * MiB
        for object_id, fill in values.items():
            array = client.get(object_id)
            assert array[0] == fill and array[-1] == fill
        del array  # a live view keeps its blob's memory in use, deleted or not
        # One delete makes room at once (no polling).
        victim = next(iter(values))
        client.delete(victim)
        del values[victim]
        values[client.put(np.full(MiB // 8, -1, dtype=np.int64))] = -1
        client.delete(list(values))
        assert memory_usage(client) == 0
        record("store_full", puts_before_full=len(values), refusals=refusals, bytes_leaked=0)


def test_random_sizes_under_pressure_from_many_clients():
    """Eight threads with their own connections put random sizes into a 32 MiB store and
    delete at random: errors are only NotEnoughMemory, values stay right, nothing leaks."""
    with running_server("32Mi", "--meta", "local") as server:
        outcomes = {"puts": 0, "refused": 0, "other_errors": [], "wrong": 0}
        lock = threading.Lock()

        def work(seed: int) -> None:
            rng = random.Random(seed)
            client = vineyard.connect(server.socket)
            kept = {}
            for _ in range(300):
                if kept and rng.random() < 0.4:
                    object_id = rng.choice(list(kept))
                    if client.get(object_id) != kept.pop(object_id):
                        with lock:
                            outcomes["wrong"] += 1
                    client.delete(object_id)
                    continue
                value = rng.randbytes(rng.randrange(1, 3 * MiB))
                try:
                    kept[client.put(value)] = value
                    with lock:
                        outcomes["puts"] += 1
                except vineyard.NotEnoughMemoryException as error:
                    with lock:
                        outcomes["refused"] += 1
                        if not len(value) <= error.requested and error.available < len(value):
                            outcomes["other_errors"].append(f"figures: {error}")
                except Exception as error:
                    with lock:
                        outcomes["other_errors"].append(repr(error))
            client.delete(list(kept))
            client.close()

        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
        client = vineyard.connect(server.socket)
        assert outcomes["other_errors"] == []
        assert outcomes["wrong"] == 0
        assert outcomes["refused"] > 0, "the store never filled up"
        assert memory_usage(client) == 0
        record(
            "pressure_random_sizes",
            clients=8,
            puts=outcomes["puts"],
            refused=outcomes["refused"],
            other_errors=0,
            wrong_values=0,
            bytes_leaked=memory_usage(client),
        )


def start_limited(tmp_path, limit: int, amount: int, size: str) -> subprocess.CompletedProcess:
    """Runs `python -m vineyard` with resource `limit` set to `amount`; it should refuse.
    Flight takes any free port: a taken default port would add a warning line."""

    def set_limit() -> None:
        resource.setrlimit(limit, (amount, amount))

    return subprocess.run(
        [sys.executable, "-m", "vineyard", "--socket", str(tmp_path / "limited.sock"),
         "--size", size, "--meta", "local", "--rpc_socket_port", "0"],
        preexec_fn=set_limit, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("limit", "amount", "reason"),
    [
        (resource.RLIMIT_AS, 1 << 30, "Cannot allocate memory"),
        (resource.RLIMIT_FSIZE, MiB, "File too large"),
    ],
    ids=["ulimit-v-1GiB", "ulimit-f-1MiB"],
)
def test_a_size_over_the_process_limits_is_refused_clearly(tmp_path, limit, amount, reason):
    finished = start_limited(tmp_path, limit, amount, "4Gi")
    assert finished.returncode == 1, finished
    assert finished.returncode != -signal.SIGBUS
    lines = [line for line in finished.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "shared memory" in lines[0] and "--size" in lines[0], lines
    assert reason in lines[0]
    assert not (tmp_path / "limited.sock").exists()
    record(
        f"limit_{'address_space' if limit == resource.RLIMIT_AS else 'file_size'}",
        limit_bytes=amount,
        size="4Gi",
        exit_status=finished.returncode,
        message=lines[0],
    )


def private_tiny_dev_shm() -> str | None:
    if os.geteuid() != 0:
        return "needs root for a private mount namespace"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"mount namespaces unavailable: {probe.stderr.strip()}"
    return None


def test_a_tiny_dev_shm_does_not_matter(tmp_path):
    """In a private mount namespace (gone with its process: nothing can leak), /dev/shm is a
    1 MiB tmpfs; a 32 MiB store still fills completely and then refuses cleanly."""
    reason = private_tiny_dev_shm()
    if reason:
        pytest.skip(reason)
    script = f"""
import numpy as np, subprocess, sys, time, os, vineyard
socket = {str(tmp_path / "shm.sock")!r}
server = subprocess.Popen([sys.executable, "-m", "vineyard", "--socket", socket,
                           "--size", "32Mi", "--meta", "local"])
while not os.path.exists(socket):
    assert server.poll() is None, server.returncode
    time.sleep(0.01)
client = vineyard.connect(socket)
puts = 0
try:
    while True:
        client.put(np.ones(1 << 17))
        puts += 1
except vineyard.NotEnoughMemoryException:
    pass
assert client.status.memory_usage >= 28 << 20, client.status
client.close()
server.terminate()
print(puts, server.wait(), os.statvfs('/dev/shm').f_blocks * os.statvfs('/dev/shm').f_frsize)
"""
    finished = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs -o size=1m tmpfs /dev/shm && exec "$0" -c "$1"', sys.executable, script],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    puts, status, shm_bytes = map(int, finished.stdout.split())
    assert status == 0 and shm_bytes == MiB and puts >= 28
    record(
        "tiny_dev_shm",
        dev_shm_bytes=shm_bytes,
        size="32Mi",
        puts_of_1MiB=puts,
        server_exit_status=status,
    )
