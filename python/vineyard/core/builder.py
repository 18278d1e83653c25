"""Builders: from Python values to vineyard objects.

A `BuilderContext` maps Python types to builder functions `fn(client, value, builder=None,
**kw)` that store the value and return its `ObjectMeta` (or `ObjectID`). `run` picks the
builder along the value's MRO, most specific class first; a registration for `object` is the
fallback. Keys may also be written `'module:Name'` (e.g. `'pandas:DataFrame'`): the type is
looked up once its module is imported, so registering does not import it.

`builder_context(...)` opens a thread-local context, nested in the current one, that is
restored on exit; `put` uses the current context.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import warnings
from collections.abc import Callable, Generator, Iterable
from typing import Any

from vineyard._native import Blob, ObjectID
from vineyard.core.calling import call_with_context
from vineyard.core.meta import ObjectMeta

__all__ = [
    "BuilderContext",
    "builder_context",
    "default_builder_context",
    "get_current_builders",
    "put",
    "context_pairs",
    "seal_blob",
]

_sequence = itertools.count()


class BuilderContext:
    """Builders by Python type; the later registration of the same type wins."""

    def __init__(self, parent_context: BuilderContext | None = None) -> None:
        # type -> (builder, registration number)
        self._factory: dict[type, tuple[Callable[..., Any], int]] = {}
        # 'module:Name' -> (builder, registration number), until the module is imported
        self._lazy: dict[str, tuple[Callable[..., Any], int]] = {}
        self._parent_context = parent_context if parent_context is not None else self
        self._cache: dict[type, Callable[..., Any] | None] = {}
        self._modules_seen = -1  # len(sys.modules) when lazy keys were last tried

    @property
    def parent_context(self) -> BuilderContext:
        return self._parent_context

    def register(self, type_id: type | str, builder: Callable[..., Any]) -> None:
        """Registers `builder` for values of `type_id` (a type, or `'module:Name'`)."""
        if not callable(builder):
            raise TypeError(f"a builder must be callable, got {builder!r}")
        entry = (builder, next(_sequence))
        if isinstance(type_id, str):
            self._lazy[type_id] = entry
            self._modules_seen = -1
            self._resolve_lazy()
        elif isinstance(type_id, type):
            self._factory[type_id] = entry
        else:
            raise TypeError(f"builders are registered for types, got {type_id!r}")
        self._cache.clear()

    def _resolve_lazy(self) -> None:
        if self._modules_seen == len(sys.modules):
            return
        self._modules_seen = len(sys.modules)
        for key in list(self._lazy):
            module_name, _, name = key.rpartition(":") if ":" in key else key.rpartition(".")
            module = sys.modules.get(module_name)
            if module is None:
                continue
            entry = self._lazy.pop(key)
            found = module
            for part in name.split("."):
                found = getattr(found, part, None)
            if not isinstance(found, type):
                continue
            current = self._factory.get(found)
            if current is None or current[1] < entry[1]:
                self._factory[found] = entry
            self._cache.clear()

    def builders(self) -> dict[Any, Callable[..., Any]]:
        """The registered builders, by type (and by name for types not imported yet)."""
        found: dict[Any, Callable[..., Any]] = {key: fn for key, (fn, _) in self._factory.items()}
        found.update((key, fn) for key, (fn, _) in self._lazy.items())
        return found

    def find(self, value_type: type) -> Callable[..., Any] | None:
        """The builder for values of `value_type`, or None."""
        if self._lazy:
            self._resolve_lazy()
        try:
            return self._cache[value_type]
        except KeyError:
            pass
        factory = self._factory
        found = None
        for cls in value_type.__mro__:
            if cls is object:
                break
            entry = factory.get(cls)
            if entry is not None:
                found = entry[0]
                break
        if found is None:
            # virtual subclasses (abc.ABC.register), latest registration first
            candidates = [
                (seq, fn)
                for registered, (fn, seq) in factory.items()
                if registered is not object and issubclass(value_type, registered)
            ]
            if candidates:
                found = max(candidates, key=lambda item: item[0])[1]
            elif object in factory:
                found = factory[object][0]
        self._cache[value_type] = found
        return found

    def run(self, client: Any, value: Any, **kw: Any) -> Any:
        """Builds `value` with the builder registered for its type; returns its meta or id."""
        builder = self.find(type(value))
        if builder is None:
            raise TypeError(
                f"no builder for {type(value).__module__}.{type(value).__qualname__} values: "
                "register one with builder_context / BuilderContext.register"
            )
        return call_with_context(builder, (client, value), "builder", self, kw)

    __call__ = run

    def extend(self, builders: Any = None) -> BuilderContext:
        """A child context holding these builders plus `builders` (a dict or pairs)."""
        child = BuilderContext(self)
        child._factory = dict(self._factory)
        child._lazy = dict(self._lazy)
        for type_id, builder in context_pairs(builders, _is_builder_key):
            child.register(type_id, builder)
        return child

    def __repr__(self) -> str:
        names = sorted(
            key if isinstance(key, str) else f"{key.__module__}.{key.__qualname__}"
            for key in self.builders()
        )
        return f"BuilderContext({', '.join(names)})"


def _is_builder_key(value: Any) -> bool:
    return isinstance(value, (type, str))


def context_pairs(entries: Any, is_key: Callable[[Any], bool]) -> list[tuple[Any, Any]]:
    """(key, function) pairs from a dict, one pair given as a set or tuple (the seed's
    `{'vineyard::Tensor', fn}`), or an iterable of pairs."""
    if entries is None:
        return []
    if isinstance(entries, dict):
        return list(entries.items())
    if not isinstance(entries, Iterable) or isinstance(entries, (str, bytes)):
        raise TypeError(f"expected a dict of (key, function) entries, got {entries!r}")
    items = list(entries)
    if len(items) == 2:
        first, second = items
        if isinstance(entries, (tuple, list)):
            if is_key(first) and callable(second):
                return [(first, second)]
        elif is_key(first) and callable(second) and not is_key(second):
            return [(first, second)]
        elif is_key(second) and callable(first) and not is_key(first):
            return [(second, first)]
    pairs = []
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 2 and is_key(item[0]):
            pairs.append((item[0], item[1]))
        else:
            raise TypeError(
                f"cannot read {item!r} as a (key, function) pair; pass a dict such as "
                "{'vineyard::Tensor': fn}"
            )
    return pairs


default_builder_context = BuilderContext()

_local = threading.local()


def get_current_builders() -> BuilderContext:
    """The builder context in effect on this thread."""
    return getattr(_local, "builders", None) or default_builder_context


@contextlib.contextmanager
def builder_context(
    builders: Any = None, base: BuilderContext | None = None
) -> Generator[BuilderContext, None, None]:
    """Opens a context with extra builders, on top of `base` (default: the current one).

    The context is thread-local, nestable, and restored on exit.
    """
    current = getattr(_local, "builders", None)
    context = (base if base is not None else get_current_builders()).extend(builders)
    _local.builders = context
    try:
        yield context
    finally:
        _local.builders = current


def inside_put() -> bool:
    """True while a `put` runs on this thread: its requests are then sent without waiting."""
    return bool(getattr(_local, "putting", 0))


def seal_blob(writer: Any) -> ObjectID:
    """Seals a blob a builder filled: without waiting inside `put`, else at once."""
    if inside_put():
        return writer.seal_before_next_request()
    return writer.seal()


def _result_id(result: Any) -> ObjectID:
    if isinstance(result, ObjectID):
        return result
    if isinstance(result, (ObjectMeta, Blob)) or hasattr(result, "id"):
        object_id = result.id
        if isinstance(object_id, ObjectID):
            return object_id
    raise TypeError(
        f"a builder must return an ObjectMeta (from client.create_metadata) or an ObjectID, "
        f"got {type(result).__name__}"
    )


def put(
    client: Any,
    value: Any,
    builder: Any = None,
    persist: bool = False,
    name: str | None = None,
    **kwargs: Any,
) -> ObjectID:
    """Stores `value` with the current builders (or `builder`: a context or a function).

    Seals and creates inside are sent without waiting for their replies, so `put` returns
    as soon as its requests are written. The id is usable at once by every client: the
    server answers requests for it after the create (a server without reserved ids, such as
    Vineyard's, is waited for instead). An error in one of them fails this client's next
    request that waits for its reply (or `client.flush()`, or `close()`).

    A put is all or nothing: if a builder (or the persist, or the name) fails, every object
    and blob the put created is deleted before the error is raised.
    """
    depth = getattr(_local, "putting", 0)
    native = client._native
    if depth == 0:
        native.begin_write()
    _local.putting = depth + 1
    failed = True
    try:
        if builder is None:
            result = get_current_builders().run(client, value, **kwargs)
        elif isinstance(builder, BuilderContext):
            result = builder.run(client, value, **kwargs)
        else:
            result = call_with_context(
                builder, (client, value), "builder", get_current_builders(), kwargs
            )
        _local.putting = depth
        if depth > 0:
            failed = False
            return _result_id(result)
        native.finish_put()
        object_id = _result_id(result)
        if persist:
            client.persist(object_id)
        if name is not None:
            if persist:
                client.put_name(object_id, name)
            else:
                warnings.warn(
                    f"object {object_id} is not persisted, so the name {name!r} was not given "
                    "to it: put(..., persist=True, name=...)",
                    UserWarning,
                    stacklevel=2,
                )
        failed = False
        return object_id
    finally:
        _local.putting = depth
        if depth == 0:
            # A put that fails removes whatever it created (all or nothing).
            native.end_write(failed)
