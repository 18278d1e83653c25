from typing import Any

from vineyard._native import ObjectID

__all__ = ["as_object_id", "as_object_ids"]

def as_object_id(value: Any) -> ObjectID: ...
def as_object_ids(values: Any) -> list[ObjectID]: ...
