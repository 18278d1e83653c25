"""Starting and stopping the processes the benchmarks measure: vineyard instances (ours or
Vineyard's own `vineyardd`, both take the same flags) and etcd, each on loopback, in a temp
directory that is removed again, and stopped on exit even when the benchmark fails. The
processes themselves are started by the repository's `tests/support`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from support import Etcd, Server, running_server  # noqa: E402
from support import terminate as stop  # noqa: E402, F401 - for bench_flight

START_TIMEOUT = 60.0
# How often a starting instance is polled: start-up times are measured with it.
START_POLL = 0.0005


def now() -> float:
    """Seconds on the system-wide monotonic clock: comparable between processes."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def stop_on_sigterm() -> None:
    """Turns SIGTERM into SystemExit, so that `finally` blocks stop what this process started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


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


def instance_flags(
    meta: str = "local",
    etcd_endpoint: str | None = None,
    etcd_prefix: str | None = None,
    rpc: bool = False,
) -> list[str]:
    """The flags both implementations understand besides `--socket` and `--size`
    (`--name=value`: Vineyard's gflags need it)."""
    flags = [f"--meta={meta}"]
    if etcd_endpoint:
        flags += [f"--etcd_endpoint={etcd_endpoint}", f"--etcd_prefix={etcd_prefix or 'bench'}"]
    # Vineyard's vineyardd binds its RPC port on 0.0.0.0: keep it off. Ours binds 127.0.0.1.
    flags += ["--rpc=true", "--rpc_socket_port=0"] if rpc else ["--rpc=false"]
    return flags


@contextlib.contextmanager
def instance(command: list[str], size: str = "3Gi", **flags) -> Iterator[Server]:
    """Runs `command` + the instance flags in a temp directory until the block ends; the
    server's `startup` is the time from the spawn until its socket accepts a connection. The
    block starts once the instance has settled (its memory reservation at start-up, which
    runs in the background, is done), so that it measures the steady state."""
    with running_server(
        size, *instance_flags(**flags),
        command=command, ready_timeout=START_TIMEOUT, ready_poll=START_POLL, check_stop=False,
    ) as server:  # fmt: skip
        settle(server.process.pid)
        try:
            yield server
        except Exception as error:
            if server.process.poll() is None:
                raise
            raise RuntimeError(
                f"`{' '.join(command)}` exited with status {server.process.returncode}: "
                f"{server.log.tail(5, ' | ')}"
            ) from error


@contextlib.contextmanager
def etcd(program: str) -> Iterator[str]:
    """A single-member etcd on free loopback ports with a temp data dir; yields its endpoint."""
    with Etcd(program=program) as running:
        yield running.endpoint
