"""Raw blobs: create, write, seal, read from other processes, and frees deferred by holders."""

import hashlib
import os
import time

import numpy as np
import pytest
import vineyard
from conftest import PeerError

EMPTY_BLOB_ID = 0x8000000000000000


def digest(data) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


def test_create_write_seal_and_read_from_another_process(client, peer):
    payload = os.urandom(100_000)
    builder = client.create_blob(len(payload))
    assert builder.size == len(payload)
    assert int(builder.id) >= 1 << 63
    builder.copy(0, payload[:60_000])
    np.frombuffer(memoryview(builder), dtype=np.uint8)[60_000:] = np.frombuffer(
        payload[60_000:], dtype=np.uint8
    )

    # Before the seal, readers are refused unless they ask for unsafe access.
    with pytest.raises(PeerError) as raised:
        peer.call("get_blob", id=int(builder.id))
    assert raised.value.kind == "ObjectNotSealedException"
    assert peer.call("get_blob", id=int(builder.id), unsafe=True)["sha256"] == digest(payload)

    blob = builder.seal(client)
    assert blob.id == builder.id
    assert blob.size == len(payload)

    view = peer.call("get_blob", id=int(blob.id))
    assert view["size"] == len(payload)
    assert view["sha256"] == digest(payload)
    assert "memfd:" in view["mapping"]
    assert bytes(client.get_blob(blob.id)) == payload
    assert bytes(client.get(blob.id)) == payload

    meta = client.get_meta(blob.id)
    assert meta.typename == "vineyard::Blob"
    assert meta.nbytes == len(payload)


def test_create_blobs_in_one_request(client, peer):
    payloads = [b"first", b"second blob", os.urandom(4096)]
    builders = client.create_blob([len(payload) for payload in payloads])
    assert len(builders) == len(payloads)
    for builder, payload in zip(builders, payloads, strict=True):
        builder.copy(0, payload)
        builder.seal(client)
    for builder, payload in zip(builders, payloads, strict=True):
        assert peer.call("get_blob", id=int(builder.id))["sha256"] == digest(payload)


def test_empty_blob(client, peer):
    builder = client.create_blob(0)
    assert int(builder.id) == EMPTY_BLOB_ID
    blob = builder.seal(client)
    assert blob.is_empty
    assert blob.size == 0
    assert peer.call("get_blob", id=EMPTY_BLOB_ID)["size"] == 0


def test_aborted_blob_is_gone(client):
    builder = client.create_blob(1024)
    blob_id = builder.id
    builder.abort(client.ipc_client)
    assert not client.exists(blob_id)


def test_out_of_memory_is_reported(client):
    with pytest.raises(vineyard.NotEnoughMemoryException):
        client.create_blob(512 * 1024 * 1024)
    # The store still works afterwards.
    assert bytes(client.get(client.put(b"ok"))) == b"ok"


def test_deleted_blob_stays_readable_while_another_client_holds_it(client, peer_factory):
    size = 4 * 1024 * 1024
    payload = os.urandom(size)

    # The creator puts the blob and leaves, so only the holder below keeps it in use.
    creator = peer_factory()
    blob_id = creator.call("put_bytes", hex=payload.hex())
    creator.close()

    holder = peer_factory()
    assert holder.call("get_blob", id=blob_id, hold=True)["sha256"] == digest(payload)
    usage_while_held = client.status.memory_usage

    client.delete(vineyard.ObjectID(blob_id))
    assert not client.exists(vineyard.ObjectID(blob_id))
    assert client.get_blob(vineyard.ObjectID(blob_id)) is None

    # Fresh allocations must not reuse the held bytes.
    for fill in range(1, 5):
        client.put(bytes([fill]) * size)
    assert holder.call("read_held", id=blob_id)["sha256"] == digest(payload)

    # Once the holder disconnects, the deferred free happens.
    usage_before_release = client.status.memory_usage
    assert usage_before_release >= usage_while_held
    holder.close()
    deadline = time.monotonic() + 5
    while client.status.memory_usage > usage_before_release - size:
        assert time.monotonic() < deadline, "the deleted blob was never freed"
        time.sleep(0.05)
