"""Fixtures: real instances started with `python -m vineyard` on temporary sockets.

`vineyard_socket` is one instance shared by the session; `start_server` starts more (for tests
that need an instance of their own: memory limits, shutdown, a second instance). Each server is
stopped with SIGTERM, and must then exit with status 0 and remove its socket.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import vineyard
from hypothesis import settings

# The repository's `tests/support`, shared with the interop suite and the benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from support import Server, free_port, running_server, stop_started_etcd  # noqa: E402

# No example database (hypothesis's `.hypothesis/` caches ignore themselves in git).
settings.register_profile("vineyard", database=None)
settings.load_profile("vineyard")


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
        stop_started_etcd(port)


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
