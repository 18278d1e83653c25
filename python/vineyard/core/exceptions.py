"""Vineyard's exceptions, created by the native module from its one table of status codes.

Every error the native layer raises (and every error that reaches a remote client over Flight
with its code) is a `VineyardException` subclass named after Vineyard's status code
(`ObjectNotExistsException`, `NotEnoughMemoryException`, ...), with the code as `code` on the
class and on the instance. `VineyardException` is a `RuntimeError`, as in Vineyard.
`LiveViewsException` (a builder sealed or aborted while views of it live) is also a
`BufferError`.
"""

from __future__ import annotations

from vineyard import _native
from vineyard._native import VineyardException

__all__ = ["VineyardException", "native_exceptions", "exception_for_code"]


def native_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class of the native module, by name."""
    found = {}
    for name in dir(_native):
        value = getattr(_native, name)
        if isinstance(value, type) and issubclass(value, VineyardException):
            found[name] = value
    return found


def exception_for_code(code: int) -> type[VineyardException]:
    """The exception class of a Vineyard status code (`UnknownErrorException` if none)."""
    for cls in native_exceptions().values():
        if cls is not VineyardException and cls.__dict__.get("code") == code:
            return cls
    return _native.UnknownErrorException
