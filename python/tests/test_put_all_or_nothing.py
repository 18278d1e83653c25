"""A `put` is all or nothing: when it fails half-way (the store is full, a builder raises, the
name is refused) every object and blob it created is removed, and the store is as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import vineyard
from vineyard.core.builder import builder_context

MIB = 1 << 20


@pytest.fixture
def small(start_server):
    server = start_server("64Mi", "--meta", "local", "--max_name_length", "64")
    with vineyard.connect(server.socket) as client:
        yield client


def snapshot(client: vineyard.IPCClient) -> tuple[int, list[str]]:
    """Memory in use, and the ids of every object and blob, after the server settled."""
    client._native.flush()
    objects = client.list_metadatas("*", limit=10_000)
    return client.status.memory_usage, sorted(str(meta.id) for meta in objects)


@pytest.mark.parametrize(
    "value",
    [
        (np.ones(20 * MIB // 8), np.ones(20 * MIB // 8), np.ones(30 * MIB // 8)),
        [np.ones(30 * MIB // 8), b"x" * (40 * MIB)],
        {"a": np.ones(30 * MIB // 8), "b": np.ones(40 * MIB // 8)},
        pd.DataFrame({"a": np.ones(4 * MIB), "b": np.ones(4 * MIB)}),
    ],
    ids=["tuple", "list", "dict", "dataframe"],
)
def test_a_put_that_fills_the_store_leaves_nothing(small, value):
    kept = small.put(np.arange(1000))
    before = snapshot(small)
    with pytest.raises(vineyard.NotEnoughMemoryException):
        small.put(value)
    assert snapshot(small) == before
    # The store is usable at once: what fits goes in.
    small.put(np.ones(MIB))
    assert small.get(kept)[999] == 999


def test_a_builder_that_raises_leaves_nothing(small):
    class Exploding:
        pass

    def half_then_fail(client, value, **kwargs):
        client.put(np.ones(MIB))
        client.put(b"partial")
        raise RuntimeError("the builder gave up half-way")

    before = snapshot(small)
    with builder_context({Exploding: half_then_fail}):
        with pytest.raises(RuntimeError, match="half-way"):
            small.put(Exploding())
    assert snapshot(small) == before


def test_a_refused_name_leaves_nothing(small):
    before = snapshot(small)
    with pytest.raises(vineyard.InvalidException, match="--max_name_length"):
        small.put(np.ones(1000), persist=True, name="n" * 65)
    assert snapshot(small) == before
    object_id = small.put(np.ones(1000), persist=True, name="n" * 64)
    assert small.get_name("n" * 64) == object_id
