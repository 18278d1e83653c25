"""Stopping the processes the tests start, and keeping them from outliving the tests."""

from __future__ import annotations

import ctypes
import signal
import subprocess

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A `preexec_fn`: the child gets SIGTERM when the thread that started it dies (e.g.
    pytest killed by a watchdog), instead of living on."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def terminate(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
    """Sends `sig` (unless the process has exited) and waits; SIGKILL if it is still running
    after `timeout` seconds. Returns whether it exited by itself."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False
