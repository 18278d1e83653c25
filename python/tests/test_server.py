"""`python -m vineyard` runs an instance: quick to start, clean to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

import vineyard
from conftest import spawn_server


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
