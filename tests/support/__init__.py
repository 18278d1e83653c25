"""Test support shared by the Python suites and the benchmarks: free loopback ports, vineyard
instances run as processes (`python -m vineyard`, or any `vineyardd`), private etcds, the
captured output of those processes, and polling.

Importable without installing: the conftests (and `python/benchmarks/servers.py`) put the
repository's `tests/` directory on `sys.path`. Nothing here imports the `vineyard` package,
so that the interop suite can use it beside Vineyard's own client.

Modules:
- `ports`: `free_port`.
- `logs`: `CapturedLog`, a process's output captured in a file.
- `processes`: `terminate`, `die_with_parent`.
- `servers`: `Server`, `spawn_server`, `running_server`, `accepts`.
- `etcd`: `Etcd` (a private etcd), `etcd_program`, and the etcd an instance starts by itself
  (`started_etcd_pid`, `stop_started_etcd`).
- `waiting`: `wait_until`.
"""

from .etcd import Etcd, etcd_program, started_etcd_pid, stop_started_etcd
from .logs import CapturedLog
from .ports import free_port
from .processes import die_with_parent, terminate
from .servers import PYTHON_MODULE, Server, accepts, running_server, spawn_server
from .waiting import wait_until

__all__ = [
    "CapturedLog",
    "Etcd",
    "PYTHON_MODULE",
    "Server",
    "accepts",
    "die_with_parent",
    "etcd_program",
    "free_port",
    "running_server",
    "spawn_server",
    "started_etcd_pid",
    "stop_started_etcd",
    "terminate",
    "wait_until",
]
