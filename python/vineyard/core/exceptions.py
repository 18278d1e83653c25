"""Vineyard's exceptions: the native ones, plus the error for what needs remote access.

Every error the native layer raises is a `VineyardException` subclass named after Vineyard's
status code (`ObjectNotExistsException`, `NotEnoughMemoryException`, ...), with `code` set.
"""

from __future__ import annotations

from vineyard import _native
from vineyard._native import VineyardException

__all__ = ["VineyardException", "native_exceptions"]


# Vineyard's status codes (V6D_PROTOCOL.md section 4), as class attributes, so that `code`
# is there also on exceptions raised from Python (the native layer sets it on instances).
STATUS_CODES = {
    "InvalidException": 1,
    "KeyErrorException": 2,
    "TypeErrorException": 3,
    "IOErrorException": 4,
    "EndOfFileException": 5,
    "NotImplementedException": 6,
    "AssertionFailedException": 7,
    "UserInputErrorException": 8,
    "ObjectExistsException": 11,
    "ObjectNotExistsException": 12,
    "ObjectSealedException": 13,
    "ObjectNotSealedException": 14,
    "ObjectIsBlobException": 15,
    "MetaTreeInvalidException": 21,
    "ConnectionFailedException": 33,
    "ConnectionErrorException": 34,
    "EtcdErrorException": 35,
    "NotEnoughMemoryException": 41,
    "GlobalObjectInvalidException": 51,
    "UnknownErrorException": 255,
}


def native_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class of the native module, by name."""
    found = {}
    for name in dir(_native):
        value = getattr(_native, name)
        if isinstance(value, type) and issubclass(value, VineyardException):
            found[name] = value
    return found


def _set_class_codes() -> None:
    for name, cls in native_exceptions().items():
        if "code" not in cls.__dict__ and name in STATUS_CODES:
            try:
                cls.code = STATUS_CODES[name]
            except (TypeError, AttributeError):
                pass


_set_class_codes()
