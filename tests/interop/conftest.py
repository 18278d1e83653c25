"""Fixtures for the interop suite: our vineyardd driven by the real pip `vineyard` client.

Every test gets a fresh server on its own socket (it starts in milliseconds), a client in this
process and, on request, a peer: a second Python process running `peer.py`, because the pip
client keeps one cached connection per socket path per process.
"""

from __future__ import annotations

import faulthandler
import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

# Set before `vineyard` connects anywhere; peers inherit it through the environment.
os.environ["VINEYARD_IPC_SKIP_RETRY"] = "1"

import vineyard  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
PEER_SCRIPT = Path(__file__).with_name("peer.py")

# The repository's `tests/support` (it never imports `vineyard`: this is Vineyard's own).
sys.path.insert(0, str(REPO_ROOT / "tests"))
from support import die_with_parent, running_server  # noqa: E402

SERVER_SIZE = "256Mi"
SERVER_SIZE_BYTES = 256 * 1024 * 1024
READY_TIMEOUT = 10.0
PEER_CALL_TIMEOUT = 30.0
# A client blocked for good (e.g. waiting for an fd that never comes) would otherwise hang CI.
TEST_WATCHDOG_SECONDS = 120


def vineyardd_path() -> Path:
    return Path(os.environ.get("VINEYARDD", REPO_ROOT / "target" / "debug" / "vineyardd"))


class PeerError(Exception):
    """An exception raised inside the peer process, reported by its type name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class Peer:
    """A second client process (`peer.py`) answering one JSON request per line."""

    def __init__(self, socket_path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(PEER_SCRIPT), str(socket_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent,
        )
        hello = self._read_reply()
        self.instance_id = hello["instance_id"]

    def _read_reply(self) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], PEER_CALL_TIMEOUT)
        if not ready:
            self.process.kill()
            raise AssertionError(
                f"peer gave no answer within {PEER_CALL_TIMEOUT} s:\n{self._stderr()}"
            )
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            raise AssertionError(f"peer exited with {self.process.returncode}:\n{self._stderr()}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise PeerError(reply["error"], reply["message"])
        return reply["result"]

    def _stderr(self) -> str:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        return self.process.stderr.read().decode(errors="replace")

    def call(self, op: str, **args):
        """Run `op` in the peer; raises PeerError if the peer's vineyard call raised."""
        self.send(op, **args)
        return self.receive()

    def send(self, op: str, **args) -> None:
        """Start `op` in the peer without waiting for it; `receive` gets the result."""
        request = json.dumps({"op": op, "args": args}) + "\n"
        self.process.stdin.write(request.encode())
        self.process.stdin.flush()

    def receive(self):
        return self._read_reply()

    def has_answer(self, within: float) -> bool:
        """Whether the peer's answer to the pending request arrives within `within` s."""
        ready, _, _ = select.select([self.process.stdout], [], [], within)
        return bool(ready)

    def close(self) -> None:
        """Close the peer's connection and let the process exit."""
        if self.process.poll() is None:
            try:
                self.call("close")
            except (AssertionError, PeerError, OSError):
                pass
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()

    def kill(self) -> None:
        """End the peer abruptly (SIGKILL): its connection drops without exit_request."""
        self.process.kill()
        self.process.wait()


@pytest.fixture(autouse=True)
def watchdog():
    faulthandler.dump_traceback_later(TEST_WATCHDOG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the server's log to a failed test's report."""
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "vineyardd", None)
    if report.failed and server is not None:
        report.sections.append(("vineyardd log (last lines)", server.log_tail()))


@pytest.fixture
def server(request):
    """A fresh vineyardd with local metadata on a socket of its own; teardown asserts it
    exits 0 on SIGTERM and removes its socket."""
    binary = vineyardd_path()
    if not binary.is_file():
        pytest.fail(
            f"server binary {binary} not found: build it with "
            "`cargo build -p vineyard-flight-server --bin vineyardd` or set VINEYARDD"
        )
    with running_server(
        SERVER_SIZE, "--meta", "local",
        command=[str(binary)], ready_timeout=READY_TIMEOUT, die_with_parent=True,
    ) as instance:  # fmt: skip
        request.node.vineyardd = instance
        yield instance


@pytest.fixture
def client(server):
    """The pip client connected to `server` from this process."""
    connection = vineyard.connect(str(server.socket))
    yield connection
    try:
        connection.close()
    except vineyard.VineyardException:
        pass  # the test already stopped the server


@pytest.fixture
def peer_factory(server):
    """Starts second-process clients of `server`; all are closed at teardown."""
    peers: list[Peer] = []

    def start() -> Peer:
        peer = Peer(server.socket)
        peers.append(peer)
        return peer

    yield start
    for peer in peers:
        peer.close()


@pytest.fixture
def peer(peer_factory):
    """One second-process client of `server`."""
    return peer_factory()
