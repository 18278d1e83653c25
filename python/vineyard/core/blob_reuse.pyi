from typing import Any

from vineyard._native import ObjectID

__all__ = ["find_blob"]

def find_blob(client: Any, value: Any, address: int, size: int) -> ObjectID | None: ...
