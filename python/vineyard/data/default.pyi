from typing import Any

from vineyard.core.meta import ObjectMeta

__all__ = ["pickle_builder", "pickle_resolver", "default_builder", "default_resolver"]

def pickle_builder(client: Any, value: Any, **_kw: Any) -> ObjectMeta: ...
def pickle_resolver(obj: Any) -> Any: ...

default_builder = pickle_builder
default_resolver = pickle_resolver
