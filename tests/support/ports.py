"""Free loopback ports."""

from __future__ import annotations

import socket
import threading

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago and that no earlier call in this
    process returned: the kernel may offer the same free port to two probes in a row, and two
    listeners of one test (an etcd's client and peer ports) must not be given the same one."""
    with _lock:
        while True:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
