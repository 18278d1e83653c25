"""`python -m vineyard` runs an instance: quick to start, clean to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

import vineyard
from support import spawn_server


def test_ready_quickly_and_stops_on_sigint():
    with tempfile.TemporaryDirectory(prefix="vy-") as directory:
        started = time.monotonic()
        server = spawn_server(directory, "64Mi")
        ready_after = time.monotonic() - started
        with vineyard.connect(server.socket) as client:
            assert client.get(client.put("up")) == "up"
        assert ready_after < 5.0, f"took {ready_after:.2f} s to create its socket"
        assert server.stop(signal.SIGINT) == 0, server.output()
        assert not os.path.exists(server.socket)


def test_sigterm_with_connected_clients():
    with tempfile.TemporaryDirectory(prefix="vy-") as directory:
        server = spawn_server(directory, "64Mi")
        client = vineyard.connect(server.socket)
        view = client.get(client.put(b"x" * 100))
        assert server.stop(signal.SIGTERM) == 0, server.output()
        assert not os.path.exists(server.socket)
        assert view == b"x" * 100
        client.close()


def test_bad_flags_fail_with_one_clear_line():
    result = subprocess.run(
        [sys.executable, "-m", "vineyard", "--size", "banana"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "banana" in result.stderr + result.stdout


def test_help():
    result = subprocess.run(
        [sys.executable, "-m", "vineyard", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "--socket" in result.stdout


def test_raises_its_open_file_limit_for_many_clients():
    """Each client takes two of the server's fds (socket and hold ring): a server started
    under a low soft limit raises it to the hard limit."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)
    socket = tempfile.mktemp(prefix="vy-", suffix=".sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "vineyard", "--socket", socket, "--size", "16Mi",
         "--meta", "local", "--rpc", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard)),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not os.path.exists(socket) and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(f"/proc/{process.pid}/limits") as limits:
            line = next(line for line in limits if line.startswith("Max open files"))
        soft = line.split()[3]
        assert soft in (str(hard), "unlimited"), line
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
