from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["LazyFunction", "call_with_context", "materialize"]

class LazyFunction:
    module: str
    name: str
    def __init__(self, module: str, name: str) -> None: ...
    def load(self) -> Callable[..., Any]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

def materialize(fn: Callable[..., Any]) -> Callable[..., Any]: ...

class _Accepts(NamedTuple):
    context: bool
    var_keyword: bool
    names: frozenset[str]

def call_with_context(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    context_name: str,
    context: Any,
    kwargs: dict[str, Any],
) -> Any: ...
