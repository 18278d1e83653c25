import contextlib
from collections.abc import Callable, Generator
from typing import Any

from vineyard._native import ObjectID

__all__ = [
    "BuilderContext",
    "builder_context",
    "default_builder_context",
    "get_current_builders",
    "put",
    "context_pairs",
]

class BuilderContext:
    def __init__(self, parent_context: BuilderContext | None = None) -> None: ...
    @property
    def parent_context(self) -> BuilderContext: ...
    def register(self, type_id: type | str, builder: Callable[..., Any]) -> None: ...
    def builders(self) -> dict[Any, Callable[..., Any]]: ...
    def find(self, value_type: type) -> Callable[..., Any] | None: ...
    def run(self, client: Any, value: Any, **kw: Any) -> Any: ...
    __call__ = run
    def extend(self, builders: Any = None) -> BuilderContext: ...

def context_pairs(entries: Any, is_key: Callable[[Any], bool]) -> list[tuple[Any, Any]]: ...
def inside_put() -> bool: ...
def seal_blob(writer: Any) -> ObjectID: ...

default_builder_context: BuilderContext

def get_current_builders() -> BuilderContext: ...
@contextlib.contextmanager
def builder_context(
    builders: Any = None, base: BuilderContext | None = None
) -> Generator[BuilderContext]: ...
def put(
    client: Any,
    value: Any,
    builder: Any = None,
    persist: bool = False,
    name: str | None = None,
    **kwargs: Any,
) -> ObjectID: ...
