"""Rust and Python read each other's objects, zero-copy, through one metadata layout.

- A table put by the Rust builders (the example `put_arrow`) comes back from `client.get` as a
  pyarrow Table with the expected values, its buffers in the shared memory.
- A pyarrow table, arrays, numpy tensors and a pandas DataFrame put from Python are resolved
  by the Rust resolvers (the example `read_arrow`), whose canonical summary must match what
  pyarrow and numpy say.

The binaries come from `VINEYARD_EXAMPLES_DIR` if set, else `cargo build` builds them into the
target directory (`CARGO_TARGET_DIR` or `target/`).
"""

from __future__ import annotations

import base64
import decimal
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import vineyard

REPO = Path(__file__).resolve().parents[2]
BINARIES = ("put_arrow", "read_arrow")
RUN_TIMEOUT = 60
BUILD_TIMEOUT = 1800


@pytest.fixture(scope="module")
def examples_dir() -> Path:
    configured = os.environ.get("VINEYARD_EXAMPLES_DIR")
    if configured:
        directory = Path(configured)
    else:
        cargo = shutil.which("cargo")
        if cargo is None:
            pytest.skip("cargo is not installed and VINEYARD_EXAMPLES_DIR is not set")
        command = [cargo, "build", "--quiet", "-p", "vineyard-examples"]
        for binary in BINARIES:
            command += ["--bin", binary]
        subprocess.run(command, cwd=REPO, check=True, timeout=BUILD_TIMEOUT)
        directory = REPO / os.environ.get("CARGO_TARGET_DIR", "target") / "debug"
    for binary in BINARIES:
        assert (directory / binary).is_file(), f"{binary} is not in {directory}"
    return directory


def run_example(examples_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(examples_dir / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def read_in_rust(examples_dir: Path, socket: str, object_id: Any) -> dict[str, Any]:
    done = run_example(examples_dir, "read_arrow", socket, str(object_id))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- zero copy ----------------------------------------------------------------------------------


def memfd_ranges() -> list[tuple[int, int]]:
    """Address ranges of this process's memfd mappings (the vineyard arenas)."""
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith("/memfd:"):
                start, end = (int(part, 16) for part in fields[0].split("-"))
                ranges.append((start, end))
    return ranges


def buffers_of(array: pa.Array) -> list[pa.Buffer]:
    """Every non-empty buffer of an array, its children's and its dictionary's."""
    found = [buffer for buffer in array.buffers() if buffer is not None and buffer.size]
    if isinstance(array, pa.DictionaryArray):
        found += buffers_of(array.dictionary)
    return found


def assert_in_shared_memory(table: pa.Table) -> None:
    ranges = memfd_ranges()
    for name, column in zip(table.column_names, table.columns, strict=True):
        for chunk in column.chunks:
            for buffer in buffers_of(chunk):
                start, end = buffer.address, buffer.address + buffer.size
                assert any(low <= start and end <= high for low, high in ranges), (
                    f"a buffer of column {name!r} is not in the shared memory"
                )


# -- Rust puts, Python reads --------------------------------------------------------------------


def rust_table(rows: int = 20) -> pa.Table:
    """The table `put_arrow` puts (see its documentation), built with pyarrow."""
    index = range(rows)
    point_fields = [pa.field("a", pa.int64()), pa.field("b", pa.string())]
    columns = {
        "id": pa.array(index, pa.int64()),
        "score": pa.array([None if i % 5 == 4 else i * 0.5 for i in index], pa.float64()),
        "half": pa.array(np.array([i / 4 for i in index], dtype=np.float16), pa.float16()),
        "name": pa.array([None if i % 3 == 1 else f"name{i}" for i in index], pa.string()),
        "note": pa.array(["ñ" * (i % 3) for i in index], pa.large_string()),
        "flag": pa.array([None if i % 7 == 6 else i % 2 == 0 for i in index], pa.bool_()),
        "small": pa.array([i * 3 % 256 for i in index], pa.uint8()),
        "at": pa.array([1_600_000_000_000 + i * 1000 for i in index], pa.timestamp("ms", tz="UTC")),
        "day": pa.array([18_000 + i for i in index], pa.date32()),
        "tags": pa.array(
            [None if i % 4 == 3 else [i + k for k in range(i % 3)] for i in index],
            pa.list_(pa.int32()),
        ),
        "point": pa.StructArray.from_arrays(
            [
                pa.array([i * 10 for i in index], pa.int64()),
                pa.array([f"p{i}" for i in index], pa.string()),
            ],
            fields=point_fields,
            mask=pa.array([i % 6 == 5 for i in index], pa.bool_()),
        ),
        "kind": pa.DictionaryArray.from_arrays(
            pa.array([i % 3 for i in index], pa.int32()), pa.array(["red", "green", "blue"])
        ),
        "raw": pa.array([bytes([i, i + 1]) for i in index], pa.binary()),
        "code": pa.array([bytes([i] * 4) for i in index], pa.binary(4)),
        "price": pa.array(
            [decimal.Decimal(i * 101).scaleb(-2) for i in index], pa.decimal128(10, 2)
        ),
        "nothing": pa.nulls(rows),
    }
    schema = pa.schema(
        [pa.field(name, array.type, nullable=name != "id") for name, array in columns.items()]
    )
    return pa.table(list(columns.values()), schema=schema)


def test_a_table_put_from_rust_reads_in_python(client, vineyard_socket, examples_dir):
    done = run_example(examples_dir, "put_arrow", vineyard_socket)
    assert done.returncode == 0, done.stderr
    object_id = vineyard.ObjectID(done.stdout.strip())
    assert client.get_meta(object_id).typename == "vineyard::Table"
    table = client.get(object_id)
    assert isinstance(table, pa.Table)
    expected = rust_table()
    assert table.schema.equals(expected.schema), f"{table.schema}\n!=\n{expected.schema}"
    assert table.equals(expected), f"{table.to_pydict()}\n!=\n{expected.to_pydict()}"
    # The second batch was a slice of a longer batch: stored compacted, read back whole.
    assert [batch.num_rows for batch in table.to_batches()] == [7, 13]
    assert_in_shared_memory(table)


def test_rust_tables_of_any_length(client, vineyard_socket, examples_dir):
    for rows in (0, 3, 64):
        done = run_example(examples_dir, "put_arrow", vineyard_socket, str(rows))
        assert done.returncode == 0, done.stderr
        table = client.get(vineyard.ObjectID(done.stdout.strip()))
        assert table.equals(rust_table(rows)), rows


def test_tensors_put_from_rust_read_in_python(client, vineyard_socket, examples_dir):
    done = run_example(examples_dir, "put_arrow", vineyard_socket, "tensors")
    assert done.returncode == 0, done.stderr
    c_id, f_id = (vineyard.ObjectID(line) for line in done.stdout.split())
    ints = client.get(c_id)
    np.testing.assert_array_equal(ints, np.arange(6, dtype=np.int32).reshape(2, 3))
    assert ints.dtype == np.int32 and ints.flags.c_contiguous
    ranges = memfd_ranges()
    address = ints.__array_interface__["data"][0]
    assert any(low <= address and address + ints.nbytes <= high for low, high in ranges)
    doubles = client.get(f_id)
    np.testing.assert_array_equal(doubles, np.arange(6.0).reshape(3, 2))
    assert doubles.dtype == np.float64 and doubles.flags.f_contiguous


# -- Python puts, Rust reads --------------------------------------------------------------------


def canonical(values: pa.Array | pa.ChunkedArray) -> list[Any]:
    """The values as `read_arrow` prints them (see its documentation)."""
    if isinstance(values, pa.ChunkedArray):
        return [item for chunk in values.chunks for item in canonical(chunk)]
    kind = values.type
    if pa.types.is_dictionary(kind):
        return canonical(values.dictionary_decode())
    if pa.types.is_date32(kind) or pa.types.is_time32(kind):
        return values.cast(pa.int32()).to_pylist()
    if pa.types.is_temporal(kind):
        return values.cast(pa.int64()).to_pylist()
    if pa.types.is_floating(kind):
        return [None if item is None else canonical_float(float(item)) for item in values]
    if pa.types.is_decimal(kind):
        return [None if item is None else str(item) for item in values.to_pylist()]
    if (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
    ):
        return [None if item is None else item.hex() for item in values.to_pylist()]
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return [None if not item.is_valid else canonical(item.values) for item in values]
    if pa.types.is_struct(kind):
        children = {kind.field(i).name: canonical(values.field(i)) for i in range(kind.num_fields)}
        return [
            {name: child[row] for name, child in children.items()} if values[row].is_valid else None
            for row in range(len(values))
        ]
    return values.to_pylist()


def canonical_float(value: float) -> float | str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return value


def python_table() -> pa.Table:
    rows = 23
    index = range(rows)
    batch = pa.record_batch(
        {
            "i8": pa.array([i - 10 for i in index], pa.int8()),
            "i16": pa.array([None if i % 4 == 0 else i * 300 for i in index], pa.int16()),
            "i32": pa.array([i * 70_000 for i in index], pa.int32()),
            "u16": pa.array([i for i in index], pa.uint16()),
            "u32": pa.array([i * 3 for i in index], pa.uint32()),
            "u64": pa.array([2**63 + i for i in index], pa.uint64()),
            "f32": pa.array([i / 8 for i in index], pa.float32()),
            "f64": pa.array([float("nan") if i == 5 else i / 3 for i in index]),
            "text": pa.array([None if i % 3 == 0 else f"t{i}" * (i % 4) for i in index]),
            "large": pa.array([f"ü{i}" for i in index], pa.large_string()),
            "bytes": pa.array([bytes([i]) * (i % 3) for i in index], pa.large_binary()),
            "flags": pa.array([None if i % 5 == 1 else i % 3 == 0 for i in index]),
            "date": pa.array([i * 86_400_000 for i in index], pa.date64()),
            "clock": pa.array([i * 1000 for i in index], pa.time64("us")),
            "ns": pa.array([i * 10**9 for i in index], pa.timestamp("ns", tz="Asia/Shanghai")),
            "span": pa.array([i for i in index], pa.duration("s")),
            "big": pa.array([decimal.Decimal(i).scaleb(-3) for i in index], pa.decimal256(40, 3)),
            "lists": pa.array(
                [None if i % 6 == 2 else [f"x{k}" for k in range(i % 4)] for i in index],
                pa.large_list(pa.string()),
            ),
            "record": pa.array(
                [None if i % 7 == 3 else {"x": i, "y": [i, -i]} for i in index],
                pa.struct([("x", pa.int32()), ("y", pa.list_(pa.int64()))]),
            ),
            "category": pa.array([["lo", "hi"][i % 2] for i in index]).dictionary_encode(),
            "nothing": pa.nulls(rows),
        },
        metadata={"origin": "python"},
    )
    # Slices keep their parent's buffers and an `offset_` in the Python layout.
    return pa.Table.from_batches([batch.slice(0, 9), batch.slice(9, 0), batch.slice(9, 14)])


def check_summary(summary: dict[str, Any], table: pa.Table) -> None:
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(summary["schema_ipc"])))
    assert schema.equals(table.schema, check_metadata=True), f"{schema}\n!=\n{table.schema}"
    assert summary["num_rows"] == table.num_rows
    expected = [[name, canonical(table.column(name))] for name in table.column_names]
    assert summary["columns"] == expected


def test_a_pyarrow_table_put_from_python_resolves_in_rust(client, vineyard_socket, examples_dir):
    table = python_table()
    summary = read_in_rust(examples_dir, vineyard_socket, client.put(table))
    assert (summary["typename"], summary["kind"]) == ("vineyard::Table", "a table")
    assert summary["num_batches"] == 3
    check_summary(summary, table)
    assert all(shared for _, shared in summary["zero_copy"]), summary["zero_copy"]


def test_pyarrow_batches_arrays_and_chunked_arrays_resolve_in_rust(
    client, vineyard_socket, examples_dir
):
    batch = python_table().to_batches()[0]
    summary = read_in_rust(examples_dir, vineyard_socket, client.put(batch))
    assert summary["kind"] == "a record batch"
    check_summary(summary, pa.Table.from_batches([batch]))

    array = pa.array([1, None, 3, 4, None], pa.int64()).slice(1, 3)
    summary = read_in_rust(examples_dir, vineyard_socket, client.put(array))
    assert summary["kind"] == "an array"
    assert summary["columns"] == [["value", [None, 3, 4]]]

    chunked = pa.chunked_array([["a", None], [], ["b"]])
    summary = read_in_rust(examples_dir, vineyard_socket, client.put(chunked))
    assert (summary["kind"], summary["num_batches"]) == ("a table", 3)
    assert summary["columns"] == [["value", ["a", None, "b"]]]


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float64).reshape(3, 4).T,
        np.arange(24, dtype=np.int32).reshape(2, 3, 4),
        np.arange(6, dtype=np.uint16).reshape(2, 3)[:, ::2],
        np.asfortranarray(np.arange(6, dtype=np.int8).reshape(3, 2)),
        np.linspace(-1, 1, 7, dtype=np.float32),
        np.array([[1.5, -2.25]], dtype=np.float16),
        np.array([True, False, True]).reshape(3, 1),
        np.arange(4, dtype=np.int64).astype("datetime64[ms]"),
        np.zeros((0, 3), dtype=np.float64),
    ],
    ids=lambda array: f"{array.dtype}{list(array.shape)}",
)
def test_numpy_tensors_put_from_python_resolve_in_rust(
    client, vineyard_socket, examples_dir, array
):
    meta = client.get_meta(client.put(array))
    summary = read_in_rust(examples_dir, vineyard_socket, meta.id)
    assert summary["typename"] == meta.typename
    assert summary["kind"] == "a tensor"
    assert json.loads(summary["metadata"]["vineyard.shape"]) == list(array.shape)
    order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    assert summary["metadata"]["vineyard.order"] == order
    flat = pa.array(np.ascontiguousarray(array).reshape(-1))
    assert summary["columns"] == [["value", canonical(flat)]]
    # Booleans are bit-packed for Arrow (a copy); every other dtype is a view.
    shared = dict(summary["zero_copy"])["value"]
    assert shared == (array.dtype != np.bool_ or array.size == 0)


def test_a_pandas_data_frame_put_from_python_resolves_in_rust(
    client, vineyard_socket, examples_dir
):
    frame = pd.DataFrame(
        {
            "a": np.arange(5, dtype=np.int64),
            "b": np.linspace(0, 1, 5),
            "c": [True, False, True, True, False],
            "when": pd.date_range("2024-01-01", periods=5, freq="D"),
            7: np.arange(5, dtype=np.uint8),
        },
        index=pd.RangeIndex(10, 15),
    )
    summary = read_in_rust(examples_dir, vineyard_socket, client.put(frame))
    assert (summary["typename"], summary["kind"]) == ("vineyard::DataFrame", "a record batch")
    columns = {str(name): pa.array(frame[name].to_numpy()) for name in frame.columns}
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(summary["schema_ipc"])))
    assert [(field.name, field.type) for field in schema] == [
        (name, array.type) for name, array in columns.items()
    ]
    assert summary["columns"] == [[name, canonical(array)] for name, array in columns.items()]
    shared = dict(summary["zero_copy"])
    assert shared == {"a": True, "b": True, "c": False, "when": True, "7": True}


def test_pickled_pandas_columns_get_a_clear_error_in_rust(client, vineyard_socket, examples_dir):
    frame = pd.DataFrame({"n": [1, 2], "s": ["x", "y"]})
    object_id = client.put(frame)
    done = run_example(examples_dir, "read_arrow", vineyard_socket, str(object_id))
    assert done.returncode != 0
    assert "column `s` is pickled" in done.stderr, done.stderr


# -- the light client ----------------------------------------------------------------------------


def test_a_program_built_on_the_light_client_puts_what_python_reads(client, vineyard_socket):
    """`examples/light-client` depends on vineyard-core without its server feature."""
    configured = os.environ.get("VINEYARD_EXAMPLES_DIR")
    if configured:
        binary = Path(configured) / "light_client"
    else:
        cargo = shutil.which("cargo")
        if cargo is None:
            pytest.skip("cargo is not installed and VINEYARD_EXAMPLES_DIR is not set")
        command = [cargo, "build", "--quiet", "-p", "vineyard-example-light-client"]
        subprocess.run(command, cwd=REPO, check=True, timeout=BUILD_TIMEOUT)
        binary = REPO / os.environ.get("CARGO_TARGET_DIR", "target") / "debug" / "light_client"
    done = subprocess.run(
        [str(binary), vineyard_socket, "from the light client"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["size"] == len("from the light client")
    assert summary["text"] == "from the light client"
    assert summary["instance_id"] == client.instance_id
    blob = client.get_object(vineyard.ObjectID(summary["id"]))
    assert bytes(memoryview(blob)) == b"from the light client"
    missing = subprocess.run(
        [str(binary), vineyard_socket + ".missing"], capture_output=True, text=True
    )
    assert missing.returncode == 1 and "is vineyardd running there?" in missing.stderr
