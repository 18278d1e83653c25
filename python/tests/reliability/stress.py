"""Shared pieces of the reliability suite: client processes to kill, bounded waits, figures.

Every scenario prints its figures as one `RELIABILITY <scenario> {json}` line and, when
`VINEYARD_RELIABILITY_FIGURES` names a file, appends the JSON there too (`make
test-reliability` collects them for RELIABILITY.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import vineyard
from support import wait_until

CHILD_SCRIPT = Path(__file__).with_name("child_client.py")
READY_TIMEOUT = 20.0


def memory_usage(client: vineyard.IPCClient) -> int:
    return client.status.memory_usage


def wait_for_memory(client: vineyard.IPCClient, expected: int, timeout: float = 10.0) -> float:
    """Waits until the instance's memory in use is `expected`; returns the seconds it took."""
    start = time.monotonic()
    last = [memory_usage(client)]

    def settled() -> bool:
        last[0] = memory_usage(client)
        return last[0] == expected

    try:
        wait_until(f"memory_usage == {expected}", settled, timeout)
    except AssertionError:
        raise AssertionError(
            f"memory in use stayed at {last[0]} bytes, expected {expected} "
            f"({last[0] - expected:+d} bytes leaked)"
        ) from None
    return time.monotonic() - start


def record(scenario: str, **figures: Any) -> None:
    """Reports one scenario's figures (see the module docstring)."""
    line = json.dumps({"scenario": scenario, **figures}, sort_keys=True)
    print(f"RELIABILITY {line}")
    target = os.environ.get("VINEYARD_RELIABILITY_FIGURES")
    if target:
        with open(target, "a") as figures_file:
            figures_file.write(line + "\n")


def reference_array(length: int, factor: int) -> np.ndarray:
    """The values a reference object holds; children check them by `reference_sum`."""
    return np.arange(length, dtype=np.int64) * factor


def reference_sum(length: int, factor: int) -> int:
    return factor * length * (length - 1) // 2


class ChildClient:
    """A client in a process of its own (`child_client.py ROLE ...`), to be killed.

    The child prints `ready ...` once it has reached the state the test wants to kill it in;
    `wait_ready` returns the rest of that line."""

    def __init__(self, role: str, *args: Any) -> None:
        self.command = [sys.executable, str(CHILD_SCRIPT), role, *map(str, args)]
        self.process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> str:
        import selectors

        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.kill()
                raise AssertionError(f"{self.command} was not ready within {timeout} s")
        line = self.process.stdout.readline()
        if not line.startswith("ready"):
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            errors = self.process.stderr.read()
            self.kill()
            raise AssertionError(f"{self.command} failed before getting ready: {line}{errors}")
        return line[len("ready") :].strip()

    def kill(self) -> None:
        """SIGKILL, then reap it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process.stdout.close()
        self.process.stderr.close()

    def communicate(self, timeout: float) -> tuple[int, str, str]:
        """Waits for a child that ends by itself; returns its status, stdout and stderr."""
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.command} did not finish within {timeout} s") from None
        return self.process.returncode, stdout, stderr
