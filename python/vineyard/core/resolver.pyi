import contextlib
from collections.abc import Callable, Generator
from typing import Any

__all__ = [
    "NATIVE_ARROW",
    "resolve_natively",
    "ResolverContext",
    "resolver_context",
    "default_resolver_context",
    "get_current_resolvers",
    "get",
    "register_tree_resolver",
    "NOT_FROM_TREE",
]

NOT_FROM_TREE: Any
NATIVE_ARROW: Any

def resolve_natively(obj: Any, context: ResolverContext | None = None) -> Any: ...
def register_tree_resolver(
    resolver: Callable[..., Any],
    from_tree: Callable[[dict[str, Any], dict[int, Any]], Any],
) -> None: ...

class ResolverContext:
    def __init__(self, parent_context: ResolverContext | None = None) -> None: ...
    @property
    def parent_context(self) -> ResolverContext: ...
    def register(self, typename_prefix: str, resolver: Callable[..., Any]) -> None: ...
    def resolvers(self) -> dict[str, Callable[..., Any]]: ...
    def python_prefixes(self) -> tuple[str, ...]: ...
    def member_resolver(self, client: Any) -> Callable[[dict[str, Any], list[Any]], Any]: ...
    def find(self, typename: str) -> tuple[str, Callable[..., Any]] | None: ...
    def run(self, obj: Any, **kw: Any) -> Any: ...
    __call__ = run
    def run_tree(self, tree: dict[str, Any], blobs: list[Any]) -> Any: ...
    def extend(self, resolvers: Any = None) -> ResolverContext: ...

default_resolver_context: ResolverContext

def get_current_resolvers() -> ResolverContext: ...
@contextlib.contextmanager
def resolver_context(
    resolvers: Any = None, base: ResolverContext | None = None
) -> Generator[ResolverContext]: ...
def get(
    client: Any,
    object_id: Any = None,
    name: str | None = None,
    resolver: Any = None,
    fetch: bool = False,
    **kwargs: Any,
) -> Any: ...
