"""Resolvers: from vineyard objects back to Python values.

A `ResolverContext` maps typename prefixes to resolver functions; the most precise (longest)
matching prefix wins, so `'vineyard::Tensor'` resolves `vineyard::Tensor<double>`. Resolvers
take `(obj)`, `(obj, resolver)` or `(obj, **kw)`; `resolver` is the context, for members.

An object whose own payload lives on another instance resolves to None (its metadata is still
readable with `get_object`), so a pair with one remote element reads as `(None, value)`.

`resolver_context(...)` opens a thread-local context, nested in the current one, that is
restored on exit; `get` uses the current context.

A resolver may also have a tree form (`register_tree_resolver`): the same value built from
the fetched tree (a dict) and its mapped blobs, without `Object` wrappers. `get` uses it when
the current context picks that resolver and the tree needs nothing else (all its blobs are
here); the built-in array and tensor resolvers have one.

The Arrow layouts (arrays, chunked arrays, schemas, record batches, tables) are resolved in
Rust: their built-in resolver is `NATIVE_ARROW`, and `get` asks the native client to fetch
and resolve in one call, passing the prefixes of the context's Python resolvers that claim
Arrow typenames (`python_prefixes`), which keep precedence, also for members inside an Arrow
object.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Generator
from typing import Any

from vineyard._native import Blob
from vineyard.core.builder import context_pairs
from vineyard.core.calling import LazyFunction, call_with_context, materialize
from vineyard.core.meta import BLOB_TYPENAME, JSON_FIELDS_KEY
from vineyard.core.object import BlobElsewhere, Object

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

NOT_FROM_TREE: Any = object()
"""What a tree resolver returns when the tree needs the full `Object` path (e.g. a blob that
is not mapped here)."""

NATIVE_ARROW = LazyFunction("vineyard.data.arrow", "native_resolver")
"""The built-in resolver of the Arrow layouts: `vineyard-resolvers`, through the native
client."""


def _is_native(resolver: Any) -> bool:
    if isinstance(resolver, LazyFunction):
        return (resolver.module, resolver.name) == (NATIVE_ARROW.module, NATIVE_ARROW.name)
    return resolver is NATIVE_ARROW._target and resolver is not None


def _arrow_value(kind: str, value: Any) -> Any:
    """A natively resolved value for Python: pyarrow's (see `vineyard.data.arrow.to_pyarrow`)."""
    global _to_pyarrow
    if _to_pyarrow is None:
        from vineyard.data.arrow import to_pyarrow

        _to_pyarrow = to_pyarrow
    return _to_pyarrow(kind, value)


_to_pyarrow: Callable[[str, Any], Any] | None = None


_tree_resolvers: dict[Callable[..., Any], Callable[[dict[str, Any], dict[int, Blob]], Any]] = {}


def register_tree_resolver(
    resolver: Callable[..., Any],
    from_tree: Callable[[dict[str, Any], dict[int, Blob]], Any],
) -> None:
    """Gives `resolver` a tree form: `from_tree(tree, blobs)` builds the same value from the
    fetched tree and the mapped blobs by id (or returns `NOT_FROM_TREE`)."""
    _tree_resolvers[resolver] = from_tree


class ResolverContext:
    """Resolvers by typename prefix; the later registration of the same prefix wins."""

    def __init__(self, parent_context: ResolverContext | None = None) -> None:
        self._factory: dict[str, Callable[..., Any]] = {}
        self._parent_context = parent_context if parent_context is not None else self
        self._cache: dict[str, tuple[str, Callable[..., Any]] | None] = {}
        self._python_prefixes: tuple[str, ...] | None = None

    @property
    def parent_context(self) -> ResolverContext:
        return self._parent_context

    def register(self, typename_prefix: str, resolver: Callable[..., Any]) -> None:
        """Registers `resolver` for typenames starting with `typename_prefix`."""
        if not isinstance(typename_prefix, str):
            raise TypeError(f"resolvers are registered by typename prefix, got {typename_prefix!r}")
        if not callable(resolver):
            raise TypeError(f"a resolver must be callable, got {resolver!r}")
        self._factory[typename_prefix] = resolver
        self._cache.clear()
        self._python_prefixes = None

    def python_prefixes(self) -> tuple[str, ...]:
        """The prefixes of this context's Python resolvers that claim Arrow typenames: those
        that extend (or replace) an Arrow layout's prefix. A shorter prefix never beats the
        layout's own, so `get` resolves natively unless one of these matches."""
        if self._python_prefixes is None:
            from vineyard._native import ARROW_PREFIXES

            self._python_prefixes = tuple(
                prefix
                for prefix, resolver in self._factory.items()
                if not _is_native(resolver) and prefix.startswith(tuple(ARROW_PREFIXES))
            )
        return self._python_prefixes

    def member_resolver(self, client: Any) -> Callable[[dict[str, Any], list[Blob]], Any]:
        """Resolves a member tree (and its blobs) of an object resolved natively, for members
        a Python resolver of this context claims."""

        def resolve(tree: dict[str, Any], blobs: list[Blob]) -> Any:
            return self.run(client._wrap_fetched([tree], blobs, False)[0])

        return resolve

    def resolvers(self) -> dict[str, Callable[..., Any]]:
        return dict(self._factory)

    def find(self, typename: str) -> tuple[str, Callable[..., Any]] | None:
        """The (prefix, resolver) of the longest registered prefix of `typename`."""
        try:
            return self._cache[typename]
        except KeyError:
            pass
        best = None
        for prefix, resolver in self._factory.items():
            if typename.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, resolver)
        self._cache[typename] = best
        return best

    def run(self, obj: Any, **kw: Any) -> Any:
        """Resolves `obj` (an Object or a Blob); an object without a resolver is returned as
        is, and one whose payload is on another instance gives None."""
        cls = type(obj)
        if cls is Blob:
            typename = BLOB_TYPENAME
        else:
            if cls is BlobElsewhere or (
                isinstance(obj, Object) and obj.has_remote_payload(direct=True)
            ):
                return None
            typename = obj.typename
        found = self.find(typename)
        if found is None:
            return obj
        try:
            return call_with_context(found[1], (obj,), "resolver", self, kw)
        except Exception:
            if isinstance(obj, Object) and obj.has_remote_payload(direct=False):
                return None  # a part lives elsewhere and the resolver cannot do without it
            raise

    __call__ = run

    def run_tree(self, tree: dict[str, Any], blobs: list[Blob]) -> Any:
        """The value of a fetched tree built by its resolver's tree form, or `NOT_FROM_TREE`
        when it has none or the tree needs the `Object` path."""
        found = self.find(tree.get("typename", ""))
        if found is None or JSON_FIELDS_KEY in tree:
            return NOT_FROM_TREE
        from_tree = _tree_resolvers.get(materialize(found[1]))
        if from_tree is None:
            return NOT_FROM_TREE
        mapped = {int(blob.id): blob for blob in blobs}
        return from_tree(tree, mapped)

    def extend(self, resolvers: Any = None) -> ResolverContext:
        """A child context holding these resolvers plus `resolvers` (a dict or pairs)."""
        child = ResolverContext(self)
        child._factory = dict(self._factory)
        for prefix, resolver in context_pairs(resolvers, lambda key: isinstance(key, str)):
            child.register(prefix, resolver)
        return child

    def __repr__(self) -> str:
        return f"ResolverContext({', '.join(sorted(self._factory))})"


default_resolver_context = ResolverContext()

_local = threading.local()


def get_current_resolvers() -> ResolverContext:
    """The resolver context in effect on this thread."""
    return getattr(_local, "resolvers", None) or default_resolver_context


@contextlib.contextmanager
def resolver_context(
    resolvers: Any = None, base: ResolverContext | None = None
) -> Generator[ResolverContext, None, None]:
    """Opens a context with extra resolvers, on top of `base` (default: the current one).

    Accepts a dict, or one pair as the seed writes it:
    `with resolver_context({'vineyard::Tensor', xgboost_resolver}): ...`. The context is
    thread-local, nestable, and restored on exit.
    """
    current = getattr(_local, "resolvers", None)
    context = (base if base is not None else get_current_resolvers()).extend(resolvers)
    _local.resolvers = context
    try:
        yield context
    finally:
        _local.resolvers = current


def get(
    client: Any,
    object_id: Any = None,
    name: str | None = None,
    resolver: Any = None,
    fetch: bool = False,
    **kwargs: Any,
) -> Any:
    """Reads an object (by id, or by name) and resolves it to a Python value."""
    if object_id is None:
        if name is None:
            raise ValueError("get() needs an object id or a name")
        object_id = client.get_name(name)
    if resolver is None and not kwargs and hasattr(client, "_fetch_value"):
        # The common case: one round trip; Arrow layouts resolved in Rust in the same call,
        # others by their resolver's tree form if it has one.
        context = get_current_resolvers()
        fetched = client._fetch_value(object_id, context)
        if fetched is not None:
            if fetched[0] == "arrow":
                return _arrow_value(fetched[1], fetched[2])
            _, trees, blobs = fetched
            value = context.run_tree(trees[0], blobs)
            if value is not NOT_FROM_TREE:
                return value
            return context.run(client._wrap_fetched(trees, blobs, fetch)[0])
    obj = client.get_object(object_id, fetch=fetch)
    if resolver is None:
        return get_current_resolvers().run(obj, **kwargs)
    if isinstance(resolver, ResolverContext):
        return resolver.run(obj, **kwargs)
    return call_with_context(resolver, (obj,), "resolver", get_current_resolvers(), kwargs)


def resolve_natively(obj: Any, context: ResolverContext | None = None) -> Any:
    """Resolves an `Object` of an Arrow layout in Rust (the `Object` path of `get`), with
    the Python resolvers of `context` (default: the current one) taking precedence."""
    client = getattr(obj, "_client", None)
    if client is None or not hasattr(client, "_fetch_value"):
        raise TypeError(
            f"{obj!r} did not come from an IPC client, so its Arrow data cannot be mapped "
            "here; read it with client.get_object(id) of a connected client"
        )
    fetched = client._fetch_value(obj.id, context or get_current_resolvers())
    if fetched is None or fetched[0] != "arrow":
        raise TypeError(
            f"{obj.typename} {obj.id} has no Arrow form here: its members are on other "
            "instances, or a Python resolver claims its typename"
        )
    return _arrow_value(fetched[1], fetched[2])
