"""Vineyard's exceptions: the native ones, plus the error for what needs remote access.

Every error the native layer raises is a `VineyardException` subclass named after Vineyard's
status code (`ObjectNotExistsException`, `NotEnoughMemoryException`, ...), with `code` set
on the class (by the native module) and on each instance. `LiveViewsException` (a builder
sealed or aborted while views of it live) is also a `BufferError`.
"""

from __future__ import annotations

from vineyard import _native
from vineyard._native import VineyardException

__all__ = ["VineyardException", "native_exceptions"]


def native_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class of the native module, by name."""
    found = {}
    for name in dir(_native):
        value = getattr(_native, name)
        if isinstance(value, type) and issubclass(value, VineyardException):
            found[name] = value
    return found
