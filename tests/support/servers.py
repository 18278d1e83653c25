"""Vineyard instances run as processes: `python -m vineyard` or any `vineyardd` (ours or
Vineyard's own: both take the same flags), each on a socket in a directory of its own, its
output captured in `server.log` there.
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
from collections.abc import Iterator, Sequence
from pathlib import Path

from .logs import CapturedLog
from .processes import die_with_parent as _die_with_parent
from .processes import terminate

# The command that runs our package's server in this interpreter.
PYTHON_MODULE = (sys.executable, "-m", "vineyard")
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0
# Polled this often until the socket accepts (benchmarks that time start-up poll faster).
READY_POLL = 0.01


def accepts(path: str | Path) -> bool:
    """Whether a UNIX socket at `path` accepts a connection."""
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


class Server:
    """A running instance: its socket, its process, its captured output, and `startup`, the
    seconds from the spawn until its socket accepted a connection."""

    def __init__(
        self, socket: str, process: subprocess.Popen, log: CapturedLog, startup: float
    ) -> None:
        self.socket = socket
        self.process = process
        self.log = log
        self.startup = startup

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log.text()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the server printed."""
        return self.log.tail(lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Sends `sig` (unless the server has exited) and returns its exit status. A server
        still running after `timeout` seconds is killed, and the call fails with its log."""
        if not terminate(self.process, sig, timeout):
            raise AssertionError(
                f"the server did not stop within {timeout} s of signal {sig}:\n{self.output()}"
            )
        return self.process.returncode

    def assert_clean_stop(self, sig: int = signal.SIGTERM) -> None:
        """Stops the server (again: a stopped one keeps its status); it must exit with 0
        and remove its socket."""
        status = self.stop(sig)
        assert status == 0, f"the server exited with {status} after signal {sig}:\n{self.output()}"
        assert not os.path.exists(self.socket), f"the server left its socket {self.socket} behind"


def spawn_server(
    directory: str | Path,
    size: str = "512Mi",
    *extra: str,
    command: Sequence[str] = PYTHON_MODULE,
    ready_timeout: float = READY_TIMEOUT,
    ready_poll: float = READY_POLL,
    die_with_parent: bool = False,
) -> Server:
    """Starts `command --socket=DIRECTORY/vineyard.sock --size=SIZE *extra` (the `=` form:
    Vineyard's gflags need it) with its output in DIRECTORY/server.log, and waits until the
    socket accepts a connection (a stale socket file left by a killed instance does not),
    checking every `ready_poll` seconds. `die_with_parent` ends it with SIGTERM if the
    starting thread dies first."""
    socket_path = os.path.join(directory, "vineyard.sock")
    log = CapturedLog(Path(directory) / "server.log")
    argv = [*command, f"--socket={socket_path}", f"--size={size}", *extra]
    with log.open() as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
    deadline = time.monotonic() + ready_timeout
    while not accepts(socket_path):
        if process.poll() is not None:
            raise AssertionError(
                f"`{' '.join(argv)}` exited with {process.returncode}:\n{log.text()}"
            )
        if time.monotonic() > deadline:
            terminate(process, signal.SIGKILL)
            raise AssertionError(
                f"no server on {socket_path} after {ready_timeout} s:\n{log.text()}"
            )
        time.sleep(ready_poll)
    return Server(socket_path, process, log, time.perf_counter() - started)


@contextlib.contextmanager
def running_server(
    size: str = "512Mi", *extra: str, check_stop: bool = True, **options
) -> Iterator[Server]:
    """A server in a new temp directory for the duration of the block (`options` as for
    `spawn_server`); then it is stopped with SIGTERM and the directory removed. With
    `check_stop` it must have exited with 0 and removed its socket; without, one that ignores
    SIGTERM is killed after `STOP_TIMEOUT` seconds, quietly."""
    # Short, under /tmp: a UNIX socket path must stay under 108 bytes.
    directory = tempfile.mkdtemp(prefix="vy-", dir="/tmp")
    try:
        server = spawn_server(directory, size, *extra, **options)
        try:
            yield server
        finally:
            if check_stop:
                server.assert_clean_stop()
            else:
                terminate(server.process, timeout=STOP_TIMEOUT)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
