"""Arrow data through Rust: `get` of every Arrow layout is resolved by vineyard-resolvers and
comes back as pyarrow values over the shared memory; objects of Arrow types export the Arrow
PyCapsule protocol themselves; Python resolvers still take precedence; put reuses blobs."""

from __future__ import annotations

import datetime
import decimal
import gc
import time

import numpy as np
import pyarrow as pa
import pytest
import vineyard
from memfd import data_buffers_shared, in_shared_memory
from vineyard.core.resolver import NATIVE_ARROW, default_resolver_context
from vineyard.data.layout import TABLE

ARRAYS = {
    "int8": pa.array([1, None, -3], pa.int8()),
    "uint64": pa.array([1, 2**63, None], pa.uint64()),
    "float16": pa.array(np.array([1.5, 2.5], np.float16)),
    "double": pa.array([0.5, None, float("inf")]),
    "bool": pa.array([True, None, False, True]),
    "string": pa.array(["a", None, "ccc"]),
    "large_string": pa.array(["x", "yy"], pa.large_string()),
    "binary": pa.array([b"\x00", None], pa.binary()),
    "large_binary": pa.array([b"ab"], pa.large_binary()),
    "fixed": pa.array([b"abc", b"def"], pa.binary(3)),
    "decimal": pa.array([decimal.Decimal("1.25"), None], pa.decimal128(5, 2)),
    "timestamp": pa.array([datetime.datetime(2024, 1, 1)], pa.timestamp("us", tz="UTC")),
    "date": pa.array([datetime.date(2024, 1, 2)], pa.date32()),
    "duration": pa.array([5, None], pa.duration("ms")),
    "list": pa.array([[1, 2], None, []], pa.list_(pa.int32())),
    "large_list": pa.array([["a"], ["b", None]], pa.large_list(pa.string())),
    "struct": pa.array(
        [{"x": 1, "y": "a"}, None], pa.struct([("x", pa.int64()), ("y", pa.string())])
    ),
    "dictionary": pa.array(["lo", "hi", "lo", None]).dictionary_encode(),
    "null": pa.nulls(3),
    "empty": pa.array([], pa.string()),
    "sliced": pa.array(np.arange(100)).slice(10, 20),
    "sliced_strings": pa.array([f"s{i}" for i in range(50)]).slice(5, 10),
}


def numbers_table(rows: int = 1000, batches: int = 1) -> pa.Table:
    """Integers, floats, strings and booleans in `batches` record batches."""
    per = max(1, rows // batches)
    parts = []
    for start in range(0, rows, per):
        index = np.arange(start, min(rows, start + per))
        columns = {
            "i": pa.array(index, pa.int64()),
            "f": pa.array(index * 0.5),
            "s": pa.array([f"s{i}" for i in index]),
            "b": pa.array(index % 3 == 0),
        }
        parts.append(pa.record_batch(columns))
    return pa.Table.from_batches(parts)


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_every_array_layout_comes_back_equal(client, name):
    array = ARRAYS[name]
    result = client.get(client.put(array))
    assert isinstance(result, pa.Array)
    assert result.type == array.type and result.equals(array), f"{result} != {array}"


def test_chunked_arrays_schemas_batches_and_tables(client):
    chunked = pa.chunked_array([["a", None], [], ["b"]])
    result = client.get(client.put(chunked))
    assert isinstance(result, pa.ChunkedArray) and result.equals(chunked)
    assert result.num_chunks == 3
    table = numbers_table(100, batches=4)
    schema = table.schema.with_metadata({"origin": "test"})
    assert client.get(client.put(schema)).equals(schema, check_metadata=True)
    batch = table.to_batches()[1]
    got = client.get(client.put(batch))
    assert isinstance(got, pa.RecordBatch) and got.equals(batch)
    got = client.get(client.put(table))
    assert isinstance(got, pa.Table) and got.equals(table)
    assert [len(b) for b in got.to_batches()] == [len(b) for b in table.to_batches()]
    empty = table.schema.empty_table()
    assert client.get(client.put(empty)).equals(empty)


def test_get_is_zero_copy_and_holds_the_blobs(client):
    table = numbers_table(10_000, batches=3)
    object_id = client.put(table)
    result = client.get(object_id)
    for column in result.columns:
        assert data_buffers_shared(column), column.type
    client.delete(object_id)
    for _ in range(4):  # would reuse the memory, were it freed
        client.put(pa.table({"z": np.zeros(30_000)}))
    assert result.equals(table)
    del result
    gc.collect()


def test_put_again_reuses_the_blobs_of_a_table_from_get(client):
    first = client.put(numbers_table(5_000))
    again = client.put(client.get(first))
    assert again != first
    one, two = client.get_meta(first), client.get_meta(again)
    column = "__columns_-0"
    batch = "partitions_-0"
    assert (
        one.member(batch).member(column).member("buffer_").id
        == two.member(batch).member(column).member("buffer_").id
    )


def test_arrow_layouts_resolve_natively_by_default():
    prefixes = set(vineyard._native.ARROW_PREFIXES)
    assert TABLE.typename in prefixes
    registered = default_resolver_context.resolvers()
    assert all(registered[prefix] is NATIVE_ARROW for prefix in prefixes)
    assert default_resolver_context.python_prefixes() == ()  # nothing claims Arrow typenames


def test_a_python_resolver_of_a_member_takes_precedence(client):
    table = numbers_table(10)
    object_id = client.put(table)

    def doubled(obj):
        return pa.compute.multiply(pa.array(obj), 2)  # the object exports its Arrow array

    with vineyard.resolver_context({"vineyard::NumericArray<int64>": doubled}):
        result = client.get(object_id)
    assert result.column("i").to_pylist() == [2 * i for i in range(10)]
    assert result.column("f").equals(table.column("f"))
    assert client.get(object_id).equals(table)  # the context is gone


def test_a_python_resolver_of_the_root_takes_precedence(client):
    object_id = client.put(numbers_table(10))
    with vineyard.resolver_context({TABLE.typename: lambda obj: ("mine", obj.typename)}):
        assert client.get(object_id) == ("mine", TABLE.typename)


def test_a_member_resolver_must_give_an_arrow_array(client):
    object_id = client.put(numbers_table(10))
    with vineyard.resolver_context({"vineyard::NumericArray<int64>": lambda obj: [1, 2]}):
        with pytest.raises(vineyard.VineyardException, match="__arrow_c_array__"):
            client.get(object_id)


def test_objects_of_arrow_types_export_the_pycapsule_protocol(client):
    table = numbers_table(1000, batches=2)
    obj = client.get_object(client.put(table))
    assert hasattr(obj, "__arrow_c_stream__") and not hasattr(obj, "__arrow_c_array__")
    read = pa.table(obj)
    assert read.equals(table) and data_buffers_shared(read.column("f"))
    assert pa.schema(obj).equals(table.schema)
    array = client.get_object(client.put(ARRAYS["string"]))
    assert pa.array(array).equals(ARRAYS["string"])
    batch = client.get_object(client.put(table.to_batches()[0]))
    assert pa.record_batch(batch).equals(table.to_batches()[0])
    assert pa.RecordBatchReader.from_stream(batch).read_all().num_rows == 500
    chunked = client.get_object(client.put(pa.chunked_array([[1, 2], [3]])))
    assert pa.chunked_array(chunked).to_pylist() == [1, 2, 3]


def test_members_of_containers_resolve_natively_too(client):
    array = ARRAYS["list"]
    table = numbers_table(20)
    first, second = client.get(client.put((array, table)))
    assert first.equals(array) and second.equals(table)
    assert data_buffers_shared(second.column("i"))


def test_blob_ids_and_bytes_get_a_read_only_view(client):
    payload = bytes(range(256)) * 4096
    value = client.get(client.put(payload))
    assert type(value) is memoryview and value.readonly
    address = np.frombuffer(value, np.uint8).__array_interface__["data"][0]
    assert in_shared_memory(address, len(payload))
    assert bytes(value) == payload
    with pytest.raises(TypeError):
        value[0] = 1
    assert client.get(client.put(b"")) == b""


def test_the_blobs_of_a_table_are_released_once_its_last_buffer_goes(client):
    baseline = client.status.memory_usage
    object_id = client.put(numbers_table(50_000, batches=4))
    table = client.get(object_id)
    column = table.column("f")
    client.delete(object_id)
    del table
    gc.collect()
    assert client.status.memory_usage > baseline  # a column still views the blobs
    assert column.to_numpy()[-1] == 49_999 * 0.5
    del column
    gc.collect()
    deadline = time.monotonic() + 10
    while client.status.memory_usage > baseline:  # releases are not awaited
        assert time.monotonic() < deadline, "the blobs were never released"
        time.sleep(0.01)


def test_views_are_stored_as_strings_and_binaries(client):
    views = pa.array(["a", None, "a longer string than twelve bytes"], pa.string_view())
    result = client.get(client.put(views))
    assert result.type == pa.string() and result.to_pylist() == views.to_pylist()
    nested = pa.array([[b"x"], None, [b"yy", None]], pa.list_(pa.binary_view()))
    result = client.get(client.put(nested))
    assert result.type == pa.list_(pa.binary()) and result.to_pylist() == nested.to_pylist()
    table = pa.table({"s": views, "i": [1, 2, 3]})
    result = client.get(client.put(table))
    assert result.schema.field("s").type == pa.string()
    assert result.column("s").to_pylist() == views.to_pylist()


def test_a_process_that_only_reads_tables_does_not_import_pandas(client, vineyard_socket):
    # `pa.table(stream)` asks pandas whether the value is a DataFrame first: importing pandas
    # took a fresh reader's first table get from 0.1 to 0.4 s.
    import subprocess
    import sys

    table_id = client.put(pa.table({"k": [1, 2, 3], "v": [0.5, 1.5, 2.5]}))
    chunked_id = client.put(pa.chunked_array([[1, 2], [3]]))
    reader = (
        "import sys, vineyard\n"
        f"client = vineyard.connect({vineyard_socket!r})\n"
        f"table = client.get(vineyard.ObjectID({int(table_id)}))\n"
        f"chunked = client.get(vineyard.ObjectID({int(chunked_id)}))\n"
        "print(table.column('v').to_pylist(), chunked.to_pylist(), 'pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", reader], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[0.5, 1.5, 2.5] [1, 2, 3] False", done.stderr
    client.delete([table_id, chunked_id])
