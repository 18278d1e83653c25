"""Starting and stopping the processes the benchmarks measure: vineyard instances (ours or
Vineyard's own `vineyardd`, both take the same flags) and etcd, each on loopback, in a temp
directory that is removed again, and stopped on exit even when the benchmark fails.
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
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

START_TIMEOUT = 60.0


def now() -> float:
    """Seconds on the system-wide monotonic clock: comparable between processes."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def stop_on_sigterm() -> None:
    """Turns SIGTERM into SystemExit, so that `finally` blocks stop what this process started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `timeout` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def group_alive(process: subprocess.Popen) -> bool:
    """Whether any process is left in the process group `process` leads (reaps the leader)."""
    process.poll()
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(process: subprocess.Popen, grace: float = 3.0, timeout: float = 30.0) -> bool:
    """Stops every process in the group `process` leads (it was started with
    `start_new_session=True`) that is still running after `grace` seconds (multiprocessing's
    helpers exit just after their parent): SIGTERM, then SIGKILL after `timeout` seconds.
    Returns whether any had to be stopped."""
    deadline = time.monotonic() + (grace if process.poll() is not None else 0.0)
    while group_alive(process):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    else:
        return False
    os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_alive(process):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait()
    return True


def accepts(path: str) -> bool:
    """Whether a UNIX socket at `path` accepts a connection."""
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
        return True


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon and RssShmem of a process, in bytes."""
    figures = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssShmem"):
                figures[key] = int(value.split()[0]) * 1024
    return figures


def settle(pid: int, timeout: float = 60.0) -> None:
    """Waits until the resident memory of `pid` stops growing (a memory reservation at
    start-up runs in the background)."""
    deadline = time.monotonic() + timeout
    previous, steady = -1, 0
    while steady < 3 and time.monotonic() < deadline:
        rss = memory_of(pid)["VmRSS"]
        steady = steady + 1 if rss == previous else 0
        previous = rss
        time.sleep(0.1)


def log_tail(path: str, lines: int = 5) -> str:
    """The last lines of a log file, on one line each."""
    with open(path, errors="replace") as log:
        return " | ".join(log.read().splitlines()[-lines:])


@dataclass
class Instance:
    """A running instance: its IPC socket, its process and the seconds it took to accept."""

    socket: str
    process: subprocess.Popen
    startup: float


def instance_flags(
    socket_path: str,
    size: str,
    meta: str = "local",
    etcd_endpoint: str | None = None,
    etcd_prefix: str | None = None,
    rpc: bool = False,
) -> list[str]:
    """The flags both implementations understand (`--name=value`: Vineyard's gflags need it)."""
    flags = [f"--socket={socket_path}", f"--size={size}", f"--meta={meta}"]
    if etcd_endpoint:
        flags += [f"--etcd_endpoint={etcd_endpoint}", f"--etcd_prefix={etcd_prefix or 'bench'}"]
    # Vineyard's vineyardd binds its RPC port on 0.0.0.0: keep it off. Ours binds 127.0.0.1.
    flags += ["--rpc=true", "--rpc_socket_port=0"] if rpc else ["--rpc=false"]
    return flags


@contextlib.contextmanager
def instance(command: list[str], size: str = "3Gi", **flags) -> Iterator[Instance]:
    """Runs `command` + the instance flags in a temp directory until the block ends.

    `startup` is the time from the spawn until the socket accepts a connection."""
    directory = tempfile.mkdtemp(prefix="vy-bench-")
    socket_path = os.path.join(directory, "vineyard.sock")
    log_path = os.path.join(directory, "server.log")
    process = None
    try:
        with open(log_path, "wb") as log:
            started = time.perf_counter()
            process = subprocess.Popen(
                [*command, *instance_flags(socket_path, size, **flags)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + START_TIMEOUT
            while not accepts(socket_path):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"`{' '.join(command)}` did not start: {log_tail(log_path)}")
                time.sleep(0.0005)
            startup = time.perf_counter() - started
        try:
            yield Instance(socket_path, process, startup)
        except Exception as error:
            if process.poll() is None:
                raise
            raise RuntimeError(
                f"`{' '.join(command)}` exited with status {process.returncode}: "
                f"{log_tail(log_path)}"
            ) from error
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(directory, ignore_errors=True)


def etcd_healthy(endpoint: str) -> bool:
    """Whether etcd at `endpoint` answers its health check."""
    try:
        with urllib.request.urlopen(f"{endpoint}/health", timeout=0.5) as response:
            return b'"true"' in response.read()
    except OSError:
        return False


@contextlib.contextmanager
def etcd(program: str) -> Iterator[str]:
    """A single-member etcd on free loopback ports with a temp data dir; yields its endpoint."""
    directory = tempfile.mkdtemp(prefix="vy-bench-etcd-")
    client_url = f"http://127.0.0.1:{free_port()}"
    peer_url = f"http://127.0.0.1:{free_port()}"
    command = [
        program, "--name", "bench", "--data-dir", os.path.join(directory, "data"),
        "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
        "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
        "--initial-cluster", f"bench={peer_url}",
    ]  # fmt: skip
    process = None
    try:
        with open(os.path.join(directory, "etcd.log"), "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not etcd_healthy(client_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"etcd ({program}) did not start")
            time.sleep(0.05)
        yield client_url
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(directory, ignore_errors=True)
