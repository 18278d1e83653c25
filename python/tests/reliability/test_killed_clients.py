"""Clients killed with SIGKILL release everything they held: unsealed blobs (mid-create), the
blobs behind their numpy views (mid-get), and deleted objects they still had mapped. The
server's memory in use returns to what it was, and a bystander's values stay intact."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
import vineyard
from stress import (
    ChildClient,
    memory_usage,
    record,
    reference_array,
    reference_sum,
    wait_for_memory,
)
from support import running_server

MiB = 1 << 20


@pytest.fixture(scope="module")
def server():
    with running_server("256Mi", "--meta", "local") as running:
        yield running


@pytest.fixture
def bystander(server):
    """A client with values of its own, checked after every kill."""
    with vineyard.connect(server.socket) as client:
        values = {client.put(reference_array(50_000, 3)): reference_array(50_000, 3)}
        blob = client.create_blob(MiB)
        memoryview(blob)[:] = bytes(range(256)) * (MiB // 256)
        values[blob.seal()] = bytes(range(256)) * (MiB // 256)
        values[client.put(b"bystander" * 1000)] = b"bystander" * 1000

        def check() -> None:
            for object_id, expected in values.items():
                if object_id.is_blob:
                    got = bytes(memoryview(client.get_blob(object_id)))
                else:
                    got = client.get(object_id)
                if isinstance(expected, bytes):
                    assert bytes(got) == expected, f"{object_id} changed"
                else:
                    assert np.array_equal(got, expected), f"{object_id} changed"

        client.check_values = check
        yield client
        client.delete(list(values))


def test_killed_mid_create(server, bystander):
    """Blobs created and half written, never sealed: freed when their creator dies."""
    baseline = memory_usage(bystander)
    children = [ChildClient("create-unsealed", server.socket, 3 * MiB, 4) for _ in range(6)]
    for child in children:
        assert len(child.wait_ready().split()) == 4
    assert memory_usage(bystander) >= baseline + 6 * 4 * 3 * MiB
    started = time.monotonic()
    for child in children:
        child.kill()
    settle = wait_for_memory(bystander, baseline)
    bystander.check_values()
    record(
        "killed_mid_create",
        clients_killed=len(children),
        unsealed_bytes=6 * 4 * 3 * MiB,
        released_within_s=round(time.monotonic() - started, 3),
        settle_s=round(settle, 3),
        bytes_leaked=memory_usage(bystander) - baseline,
    )


def test_killed_mid_get_and_holding_deleted_objects(server, bystander):
    """Children hold numpy views and blob views of the parent's arrays. The parent deletes
    half of them: their memory stays until the readers die, then all of it is released."""
    baseline = memory_usage(bystander)
    references = [(100_000, 1), (300_000, 2), (7, 5)]
    deleted = [(1_000_000, 3), (20_000, 4)]
    ids = {key: bystander.put(reference_array(*key)) for key in references}
    with_references = memory_usage(bystander)
    ids.update({key: bystander.put(reference_array(*key)) for key in deleted})
    with_objects = memory_usage(bystander)
    specs = [f"{ids[key]}:{key[0]}:{key[1]}" for key in ids]
    children = [ChildClient("hold-views", server.socket, *specs) for _ in range(6)]
    for child in children:
        assert child.wait_ready() == str(len(specs))
    # Deleted while mapped by six readers: the memory stays in use until they let go.
    bystander.delete([ids[key] for key in deleted])
    assert not any(bystander.exists(ids[key]) for key in deleted)
    assert memory_usage(bystander) == with_objects
    for child in children:
        child.kill()
    wait_for_memory(bystander, with_references)
    for key in references:
        assert int(bystander.get(ids[key]).sum()) == reference_sum(*key)
    bystander.delete([ids[key] for key in references])
    wait_for_memory(bystander, baseline)
    bystander.check_values()
    record(
        "killed_holding_views",
        clients_killed=len(children),
        objects_held_per_client=len(specs),
        deleted_while_held=len(deleted),
        bytes_in_use_while_held=with_objects - baseline,
        bytes_leaked=memory_usage(bystander) - baseline,
    )


def delete_what_the_dead_sealed(client, known: set) -> int:
    """Deletes the objects and blobs that are not in `known`; returns how many there were."""
    left = [meta.id for meta in client.list_metadatas("*", limit=1 << 20) if meta.id not in known]
    client.delete([object_id for object_id in left if not object_id.is_blob], force=True)
    client.delete([object_id for object_id in left if object_id.is_blob], force=True)
    return len(left)


def test_killed_at_random_points(server, bystander):
    """Children doing random work (unsealed and sealed blobs, puts, checked gets, deletes)
    killed after random delays. What they sealed is theirs to delete, so it is data, not a
    leak: after each round the test deletes it, and the memory in use must be what it was."""
    rng = random.Random(6)
    reference = bystander.put(reference_array(200_000, 9))
    spec = f"{reference}:200000:9"
    known = {meta.id for meta in bystander.list_metadatas("*", limit=1 << 20)}
    baseline = memory_usage(bystander)
    rounds, killed, left = 4, 0, 0
    for round_number in range(rounds):
        children = [
            ChildClient("churn", server.socket, round_number * 100 + index, spec)
            for index in range(6)
        ]
        for child in children:
            child.wait_ready()
        for child in children:
            time.sleep(rng.uniform(0.0, 0.4))
            child.kill()
            killed += 1
        assert int(bystander.get(reference).sum()) == reference_sum(200_000, 9)
        bystander.check_values()
        left += delete_what_the_dead_sealed(bystander, known)
        wait_for_memory(bystander, baseline)
    record(
        "killed_at_random_points",
        clients_killed=killed,
        sealed_objects_left_by_the_dead=left,
        bytes_leaked=memory_usage(bystander) - baseline,
    )
    bystander.delete(reference)
