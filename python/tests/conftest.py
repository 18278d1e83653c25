"""Fixtures: real instances started with `python -m vineyard` on temporary sockets.

`vineyard_socket` is one instance shared by the session; `start_server` starts more (for tests
that need an instance of their own: memory limits, shutdown, a second instance). Each server is
stopped with SIGTERM, and must then exit with status 0 and remove its socket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import vineyard
from hypothesis import settings

# No example database (hypothesis's `.hypothesis/` caches ignore themselves in git).
settings.register_profile("vineyard", database=None)
settings.load_profile("vineyard")

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0


class Server:
    """A running `python -m vineyard` process."""

    def __init__(self, socket: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.socket = socket
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stops the server; returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the server did not stop within {STOP_TIMEOUT} s of signal {sig}:\n{self.output()}"
            ) from None


def spawn_server(directory: str, size: str = "512Mi", *extra: str) -> Server:
    """Starts an instance whose socket is in `directory` and waits until it is ready."""
    socket = os.path.join(directory, "vineyard.sock")
    log = Path(directory) / "server.log"
    command = [sys.executable, "-m", "vineyard", "--socket", socket, "--size", size, *extra]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    server = Server(socket, process, log)
    deadline = time.monotonic() + READY_TIMEOUT
    while not os.path.exists(socket):
        if process.poll() is not None:
            raise AssertionError(
                f"`{' '.join(command)}` exited with {process.returncode}:\n{server.output()}"
            )
        if time.monotonic() > deadline:
            server.stop(signal.SIGKILL)
            raise AssertionError(f"no socket after {READY_TIMEOUT} s:\n{server.output()}")
        time.sleep(0.01)
    return server


@contextlib.contextmanager
def running_server(size: str = "512Mi", *extra: str) -> Iterator[Server]:
    """A server for the duration of the block; checks it shuts down cleanly."""
    directory = tempfile.mkdtemp(prefix="vy-")
    server = spawn_server(directory, size, *extra)
    try:
        yield server
    finally:
        status = server.stop()
        output = server.output()
        socket_left = os.path.exists(server.socket)
        shutil.rmtree(directory, ignore_errors=True)
        assert status == 0, f"the server exited with {status} after SIGTERM:\n{output}"
        assert not socket_left, f"the server left its socket {server.socket} behind"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def private_etcd() -> Iterator[int | None]:
    """The servers of this session share an etcd of their own, on a free port (the first
    server starts it); it is stopped at the end. A `VINEYARD_ETCD_ENDPOINT` already set wins."""
    if "VINEYARD_ETCD_ENDPOINT" in os.environ:
        yield None
        return
    port = free_port()
    os.environ["VINEYARD_ETCD_ENDPOINT"] = f"http://127.0.0.1:{port}"
    try:
        yield port
    finally:
        del os.environ["VINEYARD_ETCD_ENDPOINT"]
        base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
        state = base / f"vineyard-etcd-{os.getuid()}-{port}"
        pid_file = state / "etcd.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    os.kill(pid, 0)
                    time.sleep(0.05)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def vineyard_server(private_etcd) -> Iterator[Server]:
    with running_server("512Mi") as server:
        yield server


@pytest.fixture(scope="session")
def vineyard_socket(vineyard_server: Server) -> str:
    return vineyard_server.socket


@pytest.fixture
def start_server():
    """Starts extra servers: `start_server(size='64Mi')` returns a `Server`."""
    with contextlib.ExitStack() as stack:

        def start(size: str = "512Mi", *extra: str) -> Server:
            return stack.enter_context(running_server(size, *extra))

        yield start


@pytest.fixture
def client(vineyard_socket: str) -> Iterator[vineyard.IPCClient]:
    with vineyard.connect(vineyard_socket) as connected:
        yield connected
