"""The output of a process (stdout and stderr together) captured in a file."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO


class CapturedLog:
    """A log file a process writes its output to; read back for failure messages."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def open(self) -> BinaryIO:
        """The file, opened for the process to write (pass it as stdout and stderr)."""
        return open(self.path, "wb")  # noqa: SIM115 - the caller closes it

    def text(self) -> str:
        """Everything captured so far ("" if nothing was)."""
        try:
            return self.path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40, separator: str = "\n") -> str:
        """The last `lines` lines, joined by `separator`."""
        return separator.join(self.text().splitlines()[-lines:])
