"""A server killed with SIGKILL and started again on the same socket: connected clients get a
clear `ConnectionErrorException` on their next call (also a call parked in the server), never
a hang; views they got before keep their values; a new `vineyard.connect` works, and so does
`fork()` of an old client; the stale socket file is replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import vineyard
from stress import record
from support import spawn_server, wait_until

CALL_BOUND_S = 2.0


def timed_failure(call) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(vineyard.VineyardException) as caught:
        call()
    return caught.value, time.monotonic() - started


def restart(directory: str):
    """Starts an instance on the socket a killed one left behind (`spawn_server` waits until
    the socket accepts, which the stale file does not)."""
    return spawn_server(directory, "64Mi", "--meta", "local")


def kill_and_restart(server, directory: str, round_number: int) -> tuple[object, list[float]]:
    """One round: clients in several states, SIGKILL, restart; returns the new server and
    how long each failing call took."""
    client = vineyard.connect(server.socket)
    value = np.arange(100_000, dtype=np.float64) * (round_number + 1)
    object_id = client.put(value)
    view = client.get(object_id)  # a view of shared memory, kept across the kill
    idle = vineyard.connect(server.socket)
    parked = vineyard.connect(server.socket)
    parked_outcome: list[BaseException] = []

    def wait_for_name() -> None:
        try:
            parked.get_name("never-put", wait=True)
        except BaseException as error:  # what the waiting call ends with
            parked_outcome.append(error)

    waiter = threading.Thread(target=wait_for_name)
    waiter.start()
    wait_until("the waiting request to park", lambda: client.status.deferred_requests)

    server.stop(signal.SIGKILL)
    assert os.path.exists(server.socket), "SIGKILL leaves the socket file behind"
    waiter.join(timeout=CALL_BOUND_S)
    assert not waiter.is_alive(), "a call parked in the killed server hangs"
    assert isinstance(parked_outcome[0], vineyard.ConnectionErrorException)
    took = []
    for call in (
        lambda: client.get(object_id),
        lambda: idle.put(b"after the kill"),
        lambda: client.status,
        lambda: idle.create_blob(1024),
    ):
        error, seconds = timed_failure(call)
        assert isinstance(error, vineyard.ConnectionErrorException), repr(error)
        assert "connection" in str(error).lower(), str(error)
        assert seconds < CALL_BOUND_S
        took.append(seconds)
    # The pages a client mapped stay readable: the memory is gone only with the views.
    assert np.array_equal(view, value)

    server = restart(directory)
    assert "removing stale socket file" in server.output()
    fresh = vineyard.connect(server.socket)
    assert fresh.status.memory_usage == 0
    assert fresh.get(fresh.put(b"new instance")) == b"new instance"
    assert not fresh.exists(object_id)
    forked = client.fork()
    assert forked.get(forked.put("via fork")) == "via fork"
    # The old connection stays closed: it never talks to the new instance by accident.
    error, _ = timed_failure(lambda: client.status)
    assert isinstance(error, vineyard.ConnectionErrorException)
    for old in (client, idle, parked, fresh, forked):
        old.close()
    return server, took


def test_clients_see_a_killed_server_and_reconnect(tmp_path):
    restarts, failures = 3, []
    server = spawn_server(str(tmp_path), "64Mi", "--meta", "local")
    try:
        for round_number in range(restarts):
            server, took = kill_and_restart(server, str(tmp_path), round_number)
            failures.extend(took)
        record(
            "server_restart",
            restarts=restarts,
            failed_calls=len(failures),
            slowest_failure_s=round(max(failures), 3),
            hangs=0,
        )
    finally:
        assert server.stop() == 0


def test_sigterm_as_soon_as_the_socket_appears(tmp_path):
    """A supervisor may stop an instance the moment its socket shows up. The signal handlers
    used to be installed only when serving began, so such a SIGTERM either killed the process
    (default action, socket left behind) or was lost (the server kept running)."""
    rounds, unclean = 20, []
    for round_number in range(rounds):
        directory = tmp_path / str(round_number)
        directory.mkdir()
        socket_path = directory / "vineyard.sock"
        process = subprocess.Popen(
            [sys.executable, "-m", "vineyard", "--socket", str(socket_path), "--size", "16Mi",
             "--meta", "local", "--rpc", "false"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until("the socket", socket_path.exists, timeout=15, interval=0.0005)
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            status = "no exit within 10 s"
        if status != 0 or socket_path.exists():
            unclean.append((round_number, status, socket_path.exists()))
    record("sigterm_at_start", rounds=rounds, unclean_exits=len(unclean))
    assert unclean == [], unclean
