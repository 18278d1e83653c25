"""ObjectMeta: fields keep their types, dicts do not turn into members, members are trees."""

from __future__ import annotations

import json
import math

import pytest
import vineyard
from hypothesis import given, settings
from hypothesis import strategies as st
from vineyard import ObjectID, ObjectMeta, ObjectName
from vineyard.core.meta import JSON_FIELDS_KEY

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=10,
)


def no_json_objects(tree):
    """Every dict in a wire tree is a member (has an id or is a blob/placeholder)."""
    for key, value in tree.items():
        if isinstance(value, dict):
            yield key


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_fields_round_trip_in_memory_and_as_json(value):
    meta = ObjectMeta()
    meta["typename"] = "test::Thing"
    meta["field"] = value
    assert meta["field"] == value
    assert type(meta["field"]) is type(value)
    wire = json.loads(meta.to_json())
    assert not list(no_json_objects(wire))
    again = ObjectMeta.from_json(json.dumps(wire))
    assert again["field"] == value and type(again["field"]) is type(value)


def test_special_values():
    meta = ObjectMeta()
    meta["nan"] = float("nan")
    meta["inf"] = float("-inf")
    meta["big"] = 2**100
    meta["surrogate"] = "\ud800"
    meta["tuple"] = (1, 2)
    again = ObjectMeta.from_json(meta.to_json())
    assert math.isnan(again["nan"]) and again["inf"] == float("-inf")
    assert again["big"] == 2**100 and again["surrogate"] == "\ud800"
    assert again["tuple"] == [1, 2]


def test_dict_fields_are_hidden_text():
    meta = ObjectMeta()
    meta["config"] = {"a": {"b": [1, 2]}}
    meta["shape_"] = "[8]"
    tree = meta.to_tree()
    assert tree["config"] == '{"a": {"b": [1, 2]}}'
    assert tree[JSON_FIELDS_KEY] == ["config"]
    assert meta["config"] == {"a": {"b": [1, 2]}}
    assert meta["shape_"] == "[8]"
    assert JSON_FIELDS_KEY not in meta and JSON_FIELDS_KEY not in meta.keys()
    meta["config"] = "plain"
    assert JSON_FIELDS_KEY not in meta.to_tree() and meta["config"] == "plain"
    with pytest.raises(TypeError, match="keys must be strings"):
        meta["bad"] = {1: 2}
    with pytest.raises(TypeError, match="cannot store a set"):
        meta["bad"] = {1, 2}


def test_members_and_properties():
    member = ObjectMeta(typename="test::Member")
    member._tree["id"] = "o0000000000000abc"
    meta = ObjectMeta(global_=True)
    meta.typename = "test::Parent"
    meta.nbytes = 10
    meta.add_member("child", member)
    meta.add_member("linked", ObjectID(0x123))
    assert meta.member("child") is member and meta["child"] is member
    assert meta.get_member("linked").is_placeholder
    assert meta.member("linked").id == ObjectID(0x123)
    assert meta.isglobal and meta.transient and meta.islocal
    assert (meta.typename, meta.nbytes, meta.id) == ("test::Parent", 10, None)
    assert set(meta) == {"global", "transient", "typename", "nbytes", "child", "linked"}
    assert dict(meta.items())["nbytes"] == 10
    with pytest.raises(KeyError, match="no member"):
        meta.member("missing")
    with pytest.raises(KeyError, match="field, not a member"):
        meta.member("nbytes")
    with pytest.raises(KeyError, match="no key"):
        meta["missing"]
    assert meta.get("missing", 5) == 5
    assert '"typename": "test::Parent"' in repr(meta) and repr(meta) == str(meta)
    meta.set_global(False)
    assert not meta.isglobal


def test_object_name():
    name = ObjectName("numbers")
    assert name == "numbers" and isinstance(name, str)
    assert repr(name) == 'ObjectName <"numbers">'


def test_create_metadata_with_every_field_type(client):
    meta = ObjectMeta()
    meta["typename"] = "test::Fields"
    values = {
        "int": 3,
        "float": 0.1,
        "bool": True,
        "none": None,
        "text": "é",
        "list": [1, [2.5, "x"], None],
        "dict": {"nested": {"x": [1]}},
        "shape_": "[8]",
        "big": 2**70,
    }
    for key, value in values.items():
        meta[key] = value
    created = client.create_metadata(meta)
    assert created is meta and isinstance(meta.id, ObjectID)
    assert meta.instance_id == client.instance_id and meta.signature is not None
    fetched = client.get_meta(meta.id)
    for key, value in values.items():
        assert fetched[key] == value and type(fetched[key]) is type(value), key
    assert fetched.typename == "test::Fields" and fetched.islocal


def test_create_metadata_creates_new_members_first(client):
    child = ObjectMeta(typename="test::Child", value_=1)
    parent = ObjectMeta(typename="test::Parent")
    parent.add_member("child", child)
    blob_id = client.put(b"payload")
    parent.add_member("blob", blob_id)
    client.create_metadata(parent)
    assert child.id is not None
    fetched = client.get_meta(parent.id)
    assert fetched.member("child")["value_"] == 1
    assert fetched.member("blob").id == blob_id
    obj = client.get_object(parent.id)
    assert bytes(memoryview(obj.blob)) == b"payload"
    assert obj.child.typename == "test::Child"
    with pytest.raises(vineyard.VineyardException, match="typename"):
        client.create_metadata(ObjectMeta())
