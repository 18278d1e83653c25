"""Calling user-registered builder and resolver functions with the arguments they accept.

Builders look like `fn(client, value, builder=None, **kw)` and resolvers like `fn(obj)`,
`fn(obj, resolver)` or `fn(obj, **kw)`; each function's signature is read once and cached.
Functions may also be given lazily as `LazyFunction('module', 'name')`, so that registering
the built-in types does not import numpy, pandas or pyarrow.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["LazyFunction", "call_with_context", "materialize"]


class LazyFunction:
    """A function named by module and attribute, imported on first use."""

    __slots__ = ("module", "name", "_target")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self._target: Callable[..., Any] | None = None

    def load(self) -> Callable[..., Any]:
        if self._target is None:
            self._target = getattr(importlib.import_module(self.module), self.name)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<lazy {self.module}.{self.name}>"


def materialize(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The function itself (imports a lazy one)."""
    return fn.load() if isinstance(fn, LazyFunction) else fn


class _Accepts(NamedTuple):
    context: bool  # takes the context keyword (`builder` / `resolver`)
    var_keyword: bool  # takes **kw
    names: frozenset[str]  # keyword-passable parameter names


_accepts_cache: dict[tuple[int, str], tuple[Callable[..., Any], _Accepts]] = {}
_cache_lock = threading.Lock()


def _accepts(fn: Callable[..., Any], context_name: str) -> _Accepts:
    key = (id(fn), context_name)
    cached = _accepts_cache.get(key)
    if cached is not None and cached[0] is fn:
        return cached[1]
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: pass the context
        accepts = _Accepts(True, False, frozenset())
    else:
        names = frozenset(
            p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        )
        var_keyword = any(p.kind == p.VAR_KEYWORD for p in parameters)
        accepts = _Accepts(context_name in names or var_keyword, var_keyword, names)
    with _cache_lock:
        _accepts_cache[key] = (fn, accepts)  # keeps fn alive, so its id stays its own
    return accepts


def call_with_context(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    context_name: str,
    context: Any,
    kwargs: dict[str, Any],
) -> Any:
    """Calls `fn(*args, <context_name>=context, **kwargs)`, passing only what it accepts."""
    fn = materialize(fn)
    accepts = _accepts(fn, context_name)
    if not kwargs:  # the common case, kept short
        if accepts.context:
            return fn(*args, **{context_name: context})
        return fn(*args)
    if accepts.var_keyword:
        return fn(*args, **{context_name: context, **kwargs})
    passed = {key: value for key, value in kwargs.items() if key in accepts.names}
    if accepts.context:
        passed[context_name] = context
    return fn(*args, **passed)
