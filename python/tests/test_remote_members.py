"""Members whose payload lives on another instance: metadata yes, payload None.

Two real instances forming a cluster need issue 4; here the tree of a local pair is edited so
that one element claims another instance, which is what the client sees in a cluster.
"""

from __future__ import annotations

import numpy as np
import pytest
import vineyard
from vineyard.core.meta import ObjectMeta

OTHER_INSTANCE = 7


def move_to(meta: ObjectMeta, instance: int) -> None:
    meta._tree["instance_id"] = instance
    for _, member in meta.members():
        move_to(member, instance)


def remote_pair(client):
    pair_id = client.put((np.zeros(8), np.ones(4)))
    meta = client.get_meta(pair_id)
    move_to(meta.member("first"), OTHER_INSTANCE)
    return meta


def test_remote_member_metadata_is_readable(client):
    meta = remote_pair(client)
    obj = client._objects([meta], fetch=False)[0]
    first, second = obj.first, obj.second
    assert not first.islocal and second.islocal
    assert (first.typename, first.size(), second.size()) == ("vineyard::Array", 8, 4)
    assert isinstance(first.member("buffer_"), vineyard.Object)
    assert not isinstance(first.member("buffer_"), vineyard.Blob)
    assert first.member("buffer_").size >= 0
    with pytest.raises(ValueError, match="instance 7"):
        first.member("buffer_").address  # noqa: B018
    assert isinstance(second.member("buffer_"), vineyard.Blob)


def test_remote_member_resolves_to_none(client, capsys):
    meta = remote_pair(client)
    obj = client._objects([meta], fetch=False)[0]
    value_pair = vineyard.core.resolver.get_current_resolvers().run(obj)
    print(value_pair)
    assert capsys.readouterr().out == "(None, [1, 1, 1, 1])\n"
    first, second = value_pair
    assert first is None
    np.testing.assert_array_equal(second, np.ones(4))


def test_fetching_from_an_instance_outside_the_cluster_says_so(client):
    meta = remote_pair(client)
    with pytest.raises(vineyard.ObjectNotExistsException, match="instance 7"):
        client._objects([meta], fetch=True)


def test_remote_blob_is_not_requested(client):
    meta = remote_pair(client)
    calls = []

    class Spy:
        def __init__(self, native):
            self._native = native

        def get_blobs(self, ids):
            calls.append([str(vineyard.ObjectID(one)) for one in ids])
            return self._native.get_blobs(ids)

        def __getattr__(self, name):
            return getattr(self._native, name)

    original = client._native
    client._native = Spy(original)
    try:
        client._objects([meta], fetch=False)
    finally:
        client._native = original
    remote_blob = str(meta.member("first").member("buffer_").id)
    local_blob = str(meta.member("second").member("buffer_").id)
    assert calls == [[local_blob]] and remote_blob not in calls[0]
