"""Progress of long transfers: a line on stderr every second once a transfer has run for
`AFTER` seconds, or a callable of the caller's (`progress(done_bytes, total_bytes)`) on every
chunk.

    >>> client = vineyard.connect('host:9600', progress=False)     # silent
    >>> client.put(big, progress=lambda done, total: ...)          # one call's own reporter
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Progress", "AFTER"]

# Seconds a transfer runs before it reports on stderr.
AFTER = 2.0
# Seconds between two lines on stderr.
EVERY = 1.0


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} GiB"


class Progress:
    """Counts the bytes of one transfer (from any thread) and reports them.

    `report` is True (stderr after `AFTER` seconds), False or None (silent), or a callable
    `report(done, total)`.
    """

    def __init__(self, what: str, total: int, report: bool | Callable[[int, int], Any]) -> None:
        self._what = what
        self._total = total
        self._report = report
        self._done = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_line = 0.0
        self._printed = False

    def add(self, count: int) -> None:
        """Counts `count` more bytes done."""
        with self._lock:
            self._done += count
            done = self._done
        report = self._report
        if callable(report):
            report(done, self._total)
        elif report:
            now = time.monotonic()
            if now - self._started >= AFTER and now - self._last_line >= EVERY:
                self._last_line = now
                self._line(done, now)

    def finish(self) -> None:
        """Ends the report (a last line on stderr if any was printed)."""
        if self._printed:
            self._line(self._done, time.monotonic(), end="\n")

    def _line(self, done: int, now: float, end: str = "\r") -> None:
        elapsed = max(now - self._started, 1e-9)
        share = f" ({100 * done // self._total}%)" if self._total else ""
        print(
            f"vineyard: {self._what} {_size(done)} of {_size(self._total)}{share}, "
            f"{_size(done / elapsed)}/s",
            end=end,
            file=sys.stderr,
            flush=True,
        )
        self._printed = True
