"""Bad Arrow input is a clear error and leaves the store as it was: malformed C Data exports
(wrong buffer or child counts, negative lengths, offsets past the end of a child), a stream
whose batches disagree with its schema, and a record batch of more columns than the server
takes; memory in use and the objects listed are back to what they were."""

from __future__ import annotations

import ctypes

import numpy as np
import pyarrow as pa
import pytest
import vineyard
from vineyard.data.arrow import array_builder, table_builder


class ArrowSchema(ctypes.Structure):
    _fields_ = [
        ("format", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("metadata", ctypes.c_char_p),
        ("flags", ctypes.c_int64),
        ("n_children", ctypes.c_int64),
        ("children", ctypes.c_void_p),
        ("dictionary", ctypes.c_void_p),
        ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]


class ArrowArray(ctypes.Structure):
    _fields_ = [
        ("length", ctypes.c_int64),
        ("null_count", ctypes.c_int64),
        ("offset", ctypes.c_int64),
        ("n_buffers", ctypes.c_int64),
        ("n_children", ctypes.c_int64),
        ("buffers", ctypes.c_void_p),
        ("children", ctypes.c_void_p),
        ("dictionary", ctypes.c_void_p),
        ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


def child(array: ArrowArray, index: int) -> ArrowArray:
    pointers = ctypes.cast(array.children, ctypes.POINTER(ctypes.c_void_p))
    return ArrowArray.from_address(pointers[index])


class Tampered:
    """Exports `source` through pyarrow's C Data export, then lets `tamper` change it."""

    def __init__(self, source: pa.Array, tamper) -> None:
        self.source, self.tamper = source, tamper

    def __arrow_c_array__(self, requested_schema=None):
        self.schema, self.array = ArrowSchema(), ArrowArray()  # alive as long as self
        self.source._export_to_c(ctypes.addressof(self.array), ctypes.addressof(self.schema))
        self.tamper(self.array)
        return (
            _capsule_new(ctypes.addressof(self.schema), b"arrow_schema", None),
            _capsule_new(ctypes.addressof(self.array), b"arrow_array", None),
        )


def store_state(client) -> tuple[int, int]:
    return client.status.memory_usage, len(client.list_metadatas("*", limit=1 << 20))


def set_field(name, value):
    def tamper(array):
        setattr(array, name, value)

    return tamper


def shorten_child(array):
    child(array, 0).length = 1


BIG = pa.array(np.arange(100_000, dtype=np.int64))  # large enough to be allocated, not sent
CASES = {
    "too many buffers": (BIG, set_field("n_buffers", 3), "3 buffers, its type has 2"),
    "too few buffers": (BIG, set_field("n_buffers", 1), "1 buffers, its type has 2"),
    "negative length": (BIG, set_field("length", -5), "must not be negative"),
    "offset past the end": (
        pa.array([[1, 2], [3, 4, 5]] * 5000),
        shorten_child,
        "Last offset 25000 of List.* is larger than values length 1",
    ),
    "children missing": (
        pa.array([{"x": 1, "y": 2}] * 10),
        set_field("n_children", 1),
        "1 children, its type has 2",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_export_is_a_clear_error_and_writes_nothing(client, case):
    source, tamper, message = CASES[case]
    client.put(np.zeros(1))  # the connection's first requests are done
    before = store_state(client)
    with pytest.raises(vineyard.ArrowErrorException, match=message) as raised:
        client.put(Tampered(source, tamper), builder=array_builder)
    assert "cannot put this Arrow value" in str(raised.value)
    assert store_state(client) == before


def test_a_stream_whose_batches_disagree_with_its_schema(client):
    schema = pa.schema([("a", pa.string()), ("b", pa.int64())])
    batch = pa.record_batch([pa.array(np.arange(100_000))], names=["a"])
    before = store_state(client)
    reader = pa.RecordBatchReader.from_batches(schema, [batch])
    mismatch = r"batch 0 \(Struct.*1 children, its type has 2"
    with pytest.raises(vineyard.ArrowErrorException, match=mismatch):
        client.put(reader, builder=table_builder)
    assert store_state(client) == before


def wide_batch(columns: int) -> pa.RecordBatch:
    values = pa.array(np.arange(1000, dtype=np.int64))  # 8000 bytes: a blob sent at once
    return pa.record_batch([values] * columns, names=[f"c{i}" for i in range(columns)])


def test_a_record_batch_of_ten_thousand_columns_round_trips(client):
    batch = wide_batch(10_000)
    result = client.get(client.put(batch))
    assert result.num_columns == 10_000 and result.equals(batch)


def test_a_batch_over_the_member_limit_is_undone(start_server):
    server = start_server("256Mi", "--max_members", "1000")
    with vineyard.connect(server.socket) as client:
        client.put(np.zeros(1))
        before = store_state(client)
        table = pa.Table.from_batches([wide_batch(1_200)] * 2)
        with pytest.raises(vineyard.VineyardException, match="--max_members"):
            client.put(table)
        assert store_state(client) == before
        assert client.get(client.put(wide_batch(900))).num_columns == 900
