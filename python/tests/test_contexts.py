"""Builder and resolver contexts: matching, precedence, nesting, restore, threads."""

from __future__ import annotations

import abc
import sys
import threading
import types
import uuid

import numpy as np
import pytest
import vineyard
from vineyard import ObjectMeta
from vineyard.core.builder import (
    BuilderContext,
    builder_context,
    default_builder_context,
    get_current_builders,
)
from vineyard.core.resolver import (
    ResolverContext,
    default_resolver_context,
    get_current_resolvers,
    resolver_context,
)


def tag(name):
    def builder(client, value, builder=None, **kw):
        return name

    builder.__name__ = f"builder_{name}"
    return builder


class Base:
    pass


class Middle(Base):
    pass


class Leaf(Middle):
    pass


# -- builders (no server needed: the builders only return tags) -------------------------------


def test_builder_follows_the_mro():
    context = BuilderContext()
    context.register(object, tag("object"))
    context.register(Base, tag("base"))
    assert context.run(None, Leaf()) == "base"
    context.register(Middle, tag("middle"))
    assert context.run(None, Leaf()) == "middle"
    assert context.run(None, Base()) == "base"
    assert context.run(None, 3) == "object"


def test_later_builder_registration_wins():
    context = BuilderContext()
    context.register(int, tag("first"))
    context.register(int, tag("second"))
    assert context.run(None, 1) == "second"


def test_builder_for_virtual_subclasses():
    class Protocol(abc.ABC):  # noqa: B024
        pass

    class Plain:
        pass

    Protocol.register(Plain)
    context = BuilderContext()
    context.register(object, tag("object"))
    context.register(Protocol, tag("protocol"))
    assert context.run(None, Plain()) == "protocol"


def test_builder_without_match_is_a_type_error():
    with pytest.raises(TypeError, match="no builder for"):
        BuilderContext().run(None, 1)


def test_builder_keys_by_module_name_resolve_on_import():
    context = BuilderContext()
    context.register(object, tag("object"))
    context.register("vy_lazy_module:Thing", tag("lazy"))
    module = types.ModuleType("vy_lazy_module")

    class Thing:
        pass

    module.Thing = Thing
    sys.modules["vy_lazy_module"] = module
    try:
        assert context.run(None, Thing()) == "lazy"
        context.register(Thing, tag("direct"))
        assert context.run(None, Thing()) == "direct"
    finally:
        del sys.modules["vy_lazy_module"]


def test_builder_gets_only_the_arguments_it_accepts():
    seen = {}

    def plain(client, value):
        seen["plain"] = value
        return "plain"

    def with_builder(client, value, builder):
        seen["builder"] = builder
        return "with_builder"

    def with_option(client, value, option=None):
        seen["option"] = option
        return "with_option"

    def with_kw(client, value, **kw):
        seen["kw"] = kw
        return "with_kw"

    context = BuilderContext()
    for cls, fn in [(int, plain), (float, with_builder), (str, with_option), (bytes, with_kw)]:
        context.register(cls, fn)
    assert context.run(None, 1, option=2) == "plain"
    assert context.run(None, 1.0) == "with_builder" and seen["builder"] is context
    assert context.run(None, "x", option=3, other=4) == "with_option" and seen["option"] == 3
    assert context.run(None, b"", option=5) == "with_kw"
    assert seen["kw"] == {"builder": context, "option": 5}


def test_builder_context_nests_and_restores():
    assert get_current_builders() is default_builder_context
    with builder_context({Leaf: tag("outer")}) as outer:
        assert get_current_builders() is outer
        assert outer.run(None, Leaf()) == "outer"
        with builder_context({Leaf: tag("inner")}) as inner:
            assert get_current_builders() is inner
            assert inner.run(None, Leaf()) == "inner"
        assert get_current_builders() is outer
    assert get_current_builders() is default_builder_context
    assert Leaf not in default_builder_context.builders()


def test_builder_context_restores_after_an_error():
    with pytest.raises(RuntimeError):
        with builder_context({Leaf: tag("x")}):
            raise RuntimeError("boom")
    assert get_current_builders() is default_builder_context


def test_builder_context_accepts_pairs_and_a_base():
    fn = tag("pair")
    for entries in ({Leaf, fn}, (Leaf, fn), [(Leaf, fn)]):
        with builder_context(entries) as context:
            assert context.run(None, Leaf()) == "pair"
    base = BuilderContext()
    base.register(object, tag("base-object"))
    with builder_context(base=base) as context:
        assert context.run(None, 1) == "base-object"
    with pytest.raises(TypeError):
        with builder_context([1, 2, 3]):
            pass


def test_builder_context_is_thread_local():
    seen = []
    entered = threading.Event()
    release = threading.Event()

    def other_thread():
        entered.wait()
        seen.append(get_current_builders())
        release.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with builder_context({Leaf: tag("mine")}) as mine:
        entered.set()
        release.wait()
        assert get_current_builders() is mine
    thread.join()
    assert seen == [default_builder_context]


# -- resolvers ----------------------------------------------------------------------------------


class FakeObject:
    def __init__(self, typename):
        self.typename = typename
        self.meta = ObjectMeta(typename=typename)


def resolved(name):
    def resolver(obj):
        return name

    return resolver


def test_most_precise_prefix_wins():
    context = ResolverContext()
    context.register("vineyard::", resolved("any"))
    context.register("vineyard::Tensor", resolved("tensor"))
    context.register("vineyard::Tensor<double>", resolved("double"))
    assert context.run(FakeObject("vineyard::Tensor<int>")) == "tensor"
    assert context.run(FakeObject("vineyard::Tensor<double>")) == "double"
    assert context.run(FakeObject("vineyard::Other")) == "any"
    unknown = FakeObject("other::Thing")
    assert context.run(unknown) is unknown


def test_later_resolver_registration_wins():
    context = ResolverContext()
    context.register("vineyard::Tensor", resolved("numpy"))
    context.register("vineyard::Tensor", resolved("xgboost"))
    assert context.run(FakeObject("vineyard::Tensor<double>")) == "xgboost"


def test_resolver_signatures():
    context = ResolverContext()
    context.register("a", lambda obj: ("plain", obj.typename))
    context.register("b", lambda obj, resolver: ("resolver", resolver))
    context.register("c", lambda obj, **kw: ("kw", kw))
    context.register("d", lambda obj, option=None: ("option", option))
    assert context.run(FakeObject("a"), option=1) == ("plain", "a")
    assert context.run(FakeObject("b")) == ("resolver", context)
    assert context.run(FakeObject("c"), option=1) == ("kw", {"resolver": context, "option": 1})
    assert context.run(FakeObject("d"), option=2, other=3) == ("option", 2)


def test_resolver_context_seed_form_nests_and_restores():
    def xgboost_resolver(obj):
        return "dmatrix"

    assert get_current_resolvers() is default_resolver_context
    with resolver_context({"vineyard::Tensor", xgboost_resolver}) as outer:
        assert outer.run(FakeObject("vineyard::Tensor<double>")) == "dmatrix"
        with resolver_context({"vineyard::Tensor": resolved("inner")}) as inner:
            assert get_current_resolvers() is inner
            assert inner.run(FakeObject("vineyard::Tensor<double>")) == "inner"
        assert get_current_resolvers() is outer
    assert get_current_resolvers() is default_resolver_context
    assert default_resolver_context.find("vineyard::Tensor<double>")[1] is not xgboost_resolver


def test_resolver_context_is_thread_local():
    seen = []
    with resolver_context({"x": resolved("x")}):
        thread = threading.Thread(target=lambda: seen.append(get_current_resolvers()))
        thread.start()
        thread.join()
    assert seen == [default_resolver_context]


# -- with a server --------------------------------------------------------------------------------


def test_seed_style_resolver_context_with_get(client):
    object_id = client.put(np.ones((2, 3)))

    def xgboost_resolver(obj):
        return ("DMatrix", obj.typename)

    with resolver_context({"vineyard::Tensor", xgboost_resolver}):
        assert client.get(object_id) == ("DMatrix", "vineyard::Tensor<double>")
    np.testing.assert_array_equal(client.get(object_id), np.ones((2, 3)))


def test_builder_context_with_put(client):
    def as_text(client, value, builder):
        return builder.run(client, f"leaf:{id(value)}")

    value = Leaf()
    with builder_context({Base: as_text}):
        object_id = client.put(value)
    assert client.get(object_id) == f"leaf:{id(value)}"
    assert client.get_meta(client.put(Leaf())).typename == "vineyard::PickleBuffer"


def test_put_and_get_take_a_builder_and_a_resolver(client):
    def builder(client, value, builder=None):
        meta = ObjectMeta()
        meta["typename"] = "test::Doubled"
        meta["value_"] = value * 2
        return client.create_metadata(meta)

    object_id = client.put(21, builder=builder)
    assert client.get_meta(object_id)["value_"] == 42
    assert client.get(object_id, resolver=lambda obj: obj.meta["value_"] + 1) == 43
    unresolved = client.get(object_id)
    assert isinstance(unresolved, vineyard.Object) and unresolved.typename == "test::Doubled"
    context = ResolverContext()
    context.register("test::", lambda obj: "context")
    assert client.get(object_id, resolver=context) == "context"


def test_put_persist_and_name(client):
    name = f"test-contexts-{uuid.uuid4().hex}"
    object_id = client.put([1, 2, 3], persist=True, name=name)
    assert client.get(name=name) == [1, 2, 3]
    assert client.get_object(object_id).ispersist
    with pytest.warns(UserWarning, match="not persisted"):
        client.put(1, name=f"{name}-never-given")
    with pytest.raises(vineyard.ObjectNotExistsException):
        client.get_name(f"{name}-never-given")
