"""The IPC socket is owner-only (0600) by default, whatever the umask; `--socket_mode` (or
`--socket-mode`) widens it. Another user is refused unless the mode lets them in (checked as
`nobody` when the tests run as root)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import vineyard
from stress import record
from support import running_server

NOBODY = 65534


def socket_mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def connects_as_nobody(path: str) -> bool:
    """Whether user `nobody` can connect to `path` (a plain UNIX connect, in a child)."""
    probe = (
        "import os, socket, sys\n"
        f"os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "except PermissionError:\n"
        "    sys.exit(3)\n"
    )
    finished = subprocess.run([sys.executable, "-c", probe, path], capture_output=True, text=True)
    assert finished.returncode in (0, 3), finished.stderr
    return finished.returncode == 0


@pytest.fixture
def permissive_umask():
    """A umask of 000, so that only the server's own chmod makes the socket private."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), 0o600),
        (("--socket_mode", "660"), 0o660),
        (("--socket-mode", "0666"), 0o666),
        (("--socket-mode", "0o640"), 0o640),
    ],
    ids=["default", "660", "dashed-0666", "0o640"],
)
def test_socket_mode(permissive_umask, flags, expected):
    with running_server("16Mi", "--meta", "local", *flags) as server:
        assert socket_mode(server.socket) == expected
        with vineyard.connect(server.socket) as client:
            assert client.status.memory_limit == 16 << 20
        if os.geteuid() == 0:
            # The temp dir is private (0700): open it so that only the socket's bits decide.
            os.chmod(os.path.dirname(server.socket), 0o755)
            assert connects_as_nobody(server.socket) == bool(expected & 0o002)
        record(
            f"socket_mode_{expected:o}",
            umask="000",
            flags=" ".join(flags) or "(none)",
            mode=f"{socket_mode(server.socket):o}",
            other_users_refused=not expected & 0o002,
        )


def test_a_bad_socket_mode_is_one_clear_line(tmp_path):
    finished = subprocess.run(
        [sys.executable, "-m", "vineyard", "--socket", str(tmp_path / "v.sock"),
         "--socket-mode", "rwx", "--meta", "local"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert finished.returncode == 2
    assert "octal permission mode" in finished.stderr
    assert not (tmp_path / "v.sock").exists()
