"""Errors are typed VineyardException subclasses whose messages say what was wrong."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import numpy as np
import pytest
import vineyard
from vineyard import ObjectID, ObjectMeta
from vineyard.core.exceptions import native_exceptions

MISSING = ObjectID(0x0000123456789ABC)
MISSING_BLOB = ObjectID(0x8000123456789ABC)


def test_exception_hierarchy():
    names = [name for name in vineyard.__all__ if name.endswith("Exception")]
    assert "ObjectNotExistsException" in names and "NotEnoughMemoryException" in names
    for name in names:
        cls = getattr(vineyard, name)
        assert issubclass(cls, vineyard.VineyardException), name
    assert vineyard.ObjectNotExistsException.code == 12
    assert vineyard.NotEnoughMemoryException.code == 41


@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.get(MISSING),
        lambda client: client.get_object(MISSING),
        lambda client: client.get_meta(MISSING),
        lambda client: client.get_metas([MISSING]),
        lambda client: client.get_blob(MISSING_BLOB),
        lambda client: client.get(MISSING_BLOB),
    ],
    ids=["get", "get_object", "get_meta", "get_metas", "get_blob", "get-blob"],
)
def test_missing_objects(client, call):
    with pytest.raises(vineyard.ObjectNotExistsException) as caught:
        call(client)
    assert "123456789abc" in str(caught.value)
    assert not client.exists(MISSING)


def test_missing_name(client):
    name = f"no-such-name-{uuid.uuid4().hex}"
    with pytest.raises(vineyard.ObjectNotExistsException, match=name):
        client.get(name=name)


def test_not_enough_memory(start_server):
    server = start_server("16Mi")
    with vineyard.connect(server.socket) as client:
        with pytest.raises(vineyard.NotEnoughMemoryException) as caught:
            client.put(np.zeros(4 << 20))  # 32 MiB
        error = caught.value
        assert error.requested == 32 << 20 and error.available <= 16 << 20
        assert str(32 << 20) in str(error) or "32" in str(error)
        # the client is still usable, and nothing leaked
        assert client.get(client.put(np.ones(8))).sum() == 8
        assert client.status.memory_usage < 1 << 20
        with pytest.raises(vineyard.NotEnoughMemoryException):
            client.create_blob(64 << 20)


def test_names_need_persisted_objects(client):
    object_id = client.put("transient")
    with pytest.raises(vineyard.VineyardException, match="transient") as caught:
        client.put_name(object_id, "transient-name")
    assert "persist" in str(caught.value)
    blob_id = client.put(b"blob")
    with pytest.raises(vineyard.VineyardException, match="(?i)blob"):
        client.put_name(blob_id, "blob-name")
    with pytest.raises(vineyard.VineyardException, match="(?i)blob"):
        client.persist(blob_id)


def test_invalid_metadata(client):
    meta = ObjectMeta(typename="test::Broken")
    meta.add_member("missing", MISSING)
    with pytest.raises(vineyard.VineyardException, match="missing") as caught:
        client.create_metadata(meta)
    assert str(MISSING) in str(caught.value)
    blob_meta = ObjectMeta(typename="vineyard::Blob")
    with pytest.raises(vineyard.VineyardException, match="Blob"):
        client.create_metadata(blob_meta)


def test_resolver_errors_keep_their_type(client):
    object_id = client.put(1)

    def broken(obj):
        raise LookupError("resolver failed")

    with pytest.raises(LookupError, match="resolver failed"):
        client.get(object_id, resolver=broken)


def test_bad_arguments(client):
    with pytest.raises(TypeError, match="object id"):
        client.get_meta(1.5)
    with pytest.raises(TypeError, match="JSON|store"):
        ObjectMeta()["x"] = object()
    with pytest.raises(TypeError, match="ObjectMeta"):
        client.create_metadata({"typename": "x"})


def test_unpicklable_value(client):
    with pytest.raises(Exception, match="(?i)pickle"):
        client.put(lambda: None)


def _coded_classes() -> list[type]:
    return [
        cls
        for cls in native_exceptions().values()
        if cls is not vineyard.VineyardException and cls.__dict__.get("code")
    ]


def test_every_status_code_has_its_own_class():
    classes = _coded_classes()
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)) > 30
    for cls in classes:
        assert issubclass(cls, vineyard.VineyardException) and issubclass(cls, RuntimeError)
        assert cls.__module__ == "vineyard._native"
        assert getattr(vineyard, cls.__name__) is cls


def test_the_stub_lists_every_native_exception():
    stub = (Path(vineyard.__file__).parent / "_native.pyi").read_text()
    listed = set(re.findall(r"^class (\w+Exception)\(", stub, re.MULTILINE))
    assert listed == set(native_exceptions())


def test_every_code_reaches_ipc_and_flight_clients_as_the_same_class(start_server):
    server = start_server("64Mi", "--rpc_socket_port", "0")
    with vineyard.connect(server.socket) as ipc, vineyard.connect(ipc.rpc_endpoint) as rpc:
        for cls in _coded_classes():
            for client in (ipc, rpc):
                with pytest.raises(vineyard.VineyardException) as caught:
                    client.debug({"raise": cls.code})
                assert type(caught.value) is cls, (client, cls, caught.value)
                assert caught.value.code == cls.code
                assert f"status code {cls.code}" in str(caught.value)
        assert ipc.debug({"echo": [1, 2]}) == {"echo": [1, 2]}
        assert rpc.debug({"echo": [1, 2]}) == {"echo": [1, 2]}
        unknown = 200
        for client in (ipc, rpc):
            with pytest.raises(vineyard.UnknownErrorException):
                client.debug({"raise": unknown})
