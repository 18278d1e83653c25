from typing import Any

from vineyard.core.builder import BuilderContext
from vineyard.core.resolver import ResolverContext

__all__ = ["register_builtin_types", "BUILTIN_BUILDERS", "BUILTIN_RESOLVERS"]

BUILTIN_BUILDERS: list[tuple[Any, Any]]
BUILTIN_RESOLVERS: list[tuple[str, Any]]

def register_builtin_types(
    builder_ctx: BuilderContext | None = None, resolver_ctx: ResolverContext | None = None
) -> None: ...
