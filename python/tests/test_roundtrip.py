"""Every built-in type comes back from `get(put(value))` as the same type with the same value."""

from __future__ import annotations

import collections
import datetime
import enum
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import vineyard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_same(expected, actual, path="value"):
    """Equal values of exactly the same types (numpy arrays: same dtype and shape)."""
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), f"{path}: {type(actual)} is not an ndarray"
        assert actual.dtype == expected.dtype, f"{path}: dtype {actual.dtype} != {expected.dtype}"
        assert actual.shape == expected.shape, f"{path}: shape {actual.shape} != {expected.shape}"
        if expected.dtype.kind == "V" and expected.dtype.fields is None:
            assert actual.tobytes() == expected.tobytes(), path
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=path)
        return
    if type(expected) is bytes:
        # bytes come back as a read-only zero-copy view, as from Vineyard's client
        assert type(actual) is memoryview, f"{path}: {type(actual)} is not a memoryview"
        assert actual.readonly and bytes(actual) == expected, path
        return
    assert type(actual) is type(expected), f"{path}: {type(actual)} is not {type(expected)}"
    if isinstance(expected, float):
        if math.isnan(expected):
            assert math.isnan(actual), path
        else:
            assert actual == expected and math.copysign(1, actual) == math.copysign(1, expected)
    elif isinstance(expected, np.generic):
        assert actual.dtype == expected.dtype, path
        assert np.array_equal(np.asarray(actual), np.asarray(expected), equal_nan=True), path
    elif isinstance(expected, memoryview):
        assert actual.tobytes() == expected.tobytes(), path
        assert (actual.format, actual.shape) == (expected.format, expected.shape), path
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), path
        for index, (one, other) in enumerate(zip(expected, actual, strict=True)):
            assert_same(one, other, f"{path}[{index}]")
    elif isinstance(expected, dict):
        assert list(actual) == list(expected), f"{path}: keys differ"
        for key in expected:
            assert_same(expected[key], actual[key], f"{path}[{key!r}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def roundtrip(client, value):
    return client.get(client.put(value))


# -- Python scalars and containers -----------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.binary(max_size=64)
)
keys = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
containers = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=12,
)


@SETTINGS
@given(value=scalars)
def test_scalars(client, value):
    assert_same(value, roundtrip(client, value))


@SETTINGS
@given(value=containers)
def test_containers(client, value):
    assert_same(value, roundtrip(client, value))


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -1, 2**63, -(2**63) - 1, 10**40, 0.0, -0.0, float("inf"), "", "é\ud800"],
)
def test_scalar_edges(client, value):
    assert_same(value, roundtrip(client, value))


def test_typenames(client):
    assert client.get_meta(client.put(None)).typename == "vineyard::Scalar<None>"
    # Vineyard's typenames, so that resolvers registered for them apply to ours too.
    assert client.get_meta(client.put(True)).typename == "vineyard::Scalar<int>"
    assert client.get_meta(client.put(True))["type_"] == "bool"
    assert client.get_meta(client.put(1)).typename == "vineyard::Scalar<int>"
    assert client.get_meta(client.put(1.5)).typename == "vineyard::Scalar<double>"
    assert client.get_meta(client.put("x")).typename == "vineyard::Scalar<std::string>"
    assert client.get_meta(client.put([1])).typename == "vineyard::Sequence"
    assert client.get_meta(client.put((1,))).typename == "vineyard::Sequence"
    assert client.get_meta(client.put((1, 2, 3)))["type_"] == "tuple"
    assert client.get_meta(client.put([1, 2, 3]))["type_"] == "list"
    assert client.get_meta(client.put({1: 2})).typename == "vineyard::Dict"
    pair = client.get_object(client.put((1, "a")))
    assert pair.typename == "vineyard::Pair"
    assert pair.first.typename == "vineyard::Scalar<int>"
    assert pair.second.typename == "vineyard::Scalar<std::string>"
    assert client.get_object(client.put(b"abc")).typename == "vineyard::Blob"
    # A view of plain bytes is a bare blob, as Vineyard stores it; a typed or shaped view
    # keeps its format and shape in a vineyard::MemoryView.
    assert client.get_object(client.put(memoryview(b"abc"))).typename == "vineyard::Blob"
    assert client.get_object(client.put(memoryview(b"abcd")[::2])).typename == "vineyard::Blob"
    shaped = memoryview(np.arange(6, dtype=np.int32).reshape(2, 3))
    assert client.get_object(client.put(shaped)).typename == "vineyard::MemoryView"


def test_bytes_and_memoryview(client):
    assert_same(b"", roundtrip(client, b""))
    assert_same(b"\x00" * 1000, roundtrip(client, b"\x00" * 1000))
    view = memoryview(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert_same(view, roundtrip(client, view))
    assert_same(memoryview(b"xyz"), roundtrip(client, memoryview(b"xyz")))
    assert_same(memoryview(b""), roundtrip(client, memoryview(b"")))
    assert_same(memoryview(b"abcdef")[::2], roundtrip(client, memoryview(b"abcdef")[::2]))


class Color(enum.IntEnum):
    RED = 1


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize(
    "value",
    [
        Color.RED,
        Point(1, 2),
        collections.OrderedDict(a=1),
        collections.defaultdict(int, a=1),
        bytearray(b"ab"),
        {1, 2, 3},
        frozenset({"a"}),
        complex(1, 2),
        datetime.date(2020, 1, 2),
        range(3),
    ],
    ids=lambda value: type(value).__name__,
)
def test_pickle_fallback(client, value):
    result = roundtrip(client, value)
    assert type(result) is type(value) and result == value


def test_pickle_typename(client):
    assert client.get_meta(client.put({1, 2})).typename == "vineyard::PickleBuffer"


# -- numpy ------------------------------------------------------------------------------------

numpy_dtypes = (
    hnp.boolean_dtypes()
    | hnp.integer_dtypes()
    | hnp.unsigned_integer_dtypes()
    | hnp.floating_dtypes()
    | hnp.complex_number_dtypes()
    | hnp.datetime64_dtypes()
    | hnp.timedelta64_dtypes()
    | hnp.byte_string_dtypes(max_len=4)
    | hnp.unicode_string_dtypes(max_len=4)
)
numpy_arrays = hnp.arrays(
    numpy_dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)
)


@SETTINGS
@given(array=numpy_arrays, fortran=st.booleans())
def test_numpy_arrays(client, array, fortran):
    if fortran:
        array = np.asfortranarray(array)
    result = roundtrip(client, array)
    assert_same(array, result)
    if fortran and array.ndim > 1 and not array.flags.c_contiguous:
        assert result.flags.f_contiguous


@SETTINGS
@given(value=hnp.from_dtype(np.dtype("float64")) | hnp.from_dtype(np.dtype("int16")))
def test_numpy_scalars(client, value):
    assert_same(value, roundtrip(client, value))


def test_numpy_layouts(client):
    one_d = client.get_meta(client.put(np.zeros(8)))
    assert one_d.typename == "vineyard::Array"
    assert (one_d["size_"], one_d["value_type_"], one_d.nbytes) == (8, "float64", 64)
    two_d = client.get_meta(client.put(np.zeros((2, 4), dtype=np.int32)))
    assert two_d.typename == "vineyard::Tensor<int>"
    assert (two_d["shape_"], two_d["order_"], two_d["value_type_"]) == ("[2, 4]", '"C"', "int32")
    assert client.get_meta(client.put(np.zeros(3, dtype=object))).typename == (
        "vineyard::Tensor<object>"
    )


@pytest.mark.parametrize(
    "array",
    [
        np.array(5.0),
        np.zeros((0,)),
        np.zeros((3, 0, 2)),
        np.arange(24).reshape(2, 3, 4)[:, ::2],
        np.array([1, "a", None, (2, 3)], dtype=object),
        np.array([[{"a": 1}], [[1, 2]]], dtype=object),
        np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "<i4"), ("b", "<f8")]),
        np.array(["2020-01-01", "NaT"], dtype="datetime64[ns]"),
        np.arange(10, dtype=">i8"),
    ],
    ids=["0-d", "empty", "empty-3d", "strided", "object", "object-2d", "structured", "nat", "be"],
)
def test_numpy_edges(client, array):
    assert_same(array, roundtrip(client, array))


# -- pandas -----------------------------------------------------------------------------------


def frames():
    yield pd.DataFrame({"a": [1, 2, 3], "b": [1.5, np.nan, 3.0], "c": [True, False, True]})
    yield pd.DataFrame(
        {
            "text": ["x", "y", None],
            "when": pd.to_datetime(["2020-01-01", "2021-06-01", None]),
            "tz": pd.date_range("2020", periods=3, freq="h", tz="Europe/Paris"),
            "category": pd.Categorical(["a", "b", "a"]),
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "objects": pd.Series([1, "two", (3,)], dtype=object),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )
    yield pd.DataFrame(np.arange(12.0).reshape(4, 3))
    yield pd.DataFrame({"x": [1, 2]}, index=pd.date_range("2020-01-01", periods=2, freq="D"))
    yield pd.DataFrame({"x": [1, 2]}, index=pd.MultiIndex.from_tuples([(1, "a"), (2, "b")]))
    yield pd.DataFrame(index=pd.RangeIndex(3))
    yield pd.DataFrame([[1, 2]], columns=["dup", "dup"])


@pytest.mark.parametrize("frame", list(frames()), ids=lambda f: "x".join(map(str, f.shape)))
def test_dataframes(client, frame):
    result = roundtrip(client, frame)
    assert type(result) is pd.DataFrame
    pd.testing.assert_frame_equal(result, frame, check_exact=True)


def test_dataframe_layout(client):
    meta = client.get_meta(client.put(pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})))
    assert meta.typename == "vineyard::DataFrame"
    assert meta["columns_"] == '["a", "b"]'
    assert meta["__values_-size"] == 2
    assert meta.member("__values_-value-0").typename == "vineyard::Tensor<int64>"
    assert meta.member("index_").typename == "vineyard::RangeIndex"


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1, 2, 3], name="n"),
        pd.Series(["a", None, "c"], index=[10, 20, 30]),
        pd.Series(pd.to_datetime(["2020-01-01", None]), name=("tuple", "name")),
        pd.Series([], dtype="float32"),
    ],
    ids=["int", "str", "datetime", "empty"],
)
def test_series(client, series):
    result = roundtrip(client, series)
    assert type(result) is pd.Series
    pd.testing.assert_series_equal(result, series, check_exact=True)


@pytest.mark.parametrize(
    "index",
    [
        pd.RangeIndex(2, 20, 3, name="r"),
        pd.Index([1.5, 2.5]),
        pd.Index(["a", "b"], name="letters"),
        pd.date_range("2020-01-01", periods=4, freq="D", name="days"),
        pd.MultiIndex.from_product([[1, 2], ["a", "b"]]),
        pd.CategoricalIndex(["x", "y", "x"]),
    ],
    ids=["range", "float", "str", "dates", "multi", "categorical"],
)
def test_indexes(client, index):
    result = roundtrip(client, index)
    assert type(result) is type(index)
    pd.testing.assert_index_equal(result, index, exact=True)
    if hasattr(index, "freq"):
        assert result.freq == index.freq


# -- pyarrow ----------------------------------------------------------------------------------


def arrow_arrays():
    yield pa.array([1, 2, None, 4], type=pa.int64())
    yield pa.array([1.5, None], type=pa.float32())
    yield pa.array(np.arange(5, dtype=np.float16))
    yield pa.array([True, None, False])
    yield pa.array(["a", None, "ccc"], type=pa.string())
    yield pa.array(["a", None, "ccc"], type=pa.large_string())
    yield pa.array([b"x", None, b"yz"], type=pa.binary())
    yield pa.array([b"x", None, b"yz"], type=pa.large_binary())
    yield pa.array([b"ab", None], type=pa.binary(2))
    yield pa.array([[1, 2], None, [3]], type=pa.list_(pa.int32()))
    yield pa.array([[1, 2], [], [3]], type=pa.large_list(pa.field("v", pa.int8(), False)))
    yield pa.array([{"x": 1, "y": "a"}, None, {"x": 3, "y": None}])
    yield pa.array(["a", "b", "a", None]).dictionary_encode()
    yield pa.nulls(3)
    yield pa.array([1, 2], type=pa.timestamp("ns", tz="UTC"))
    yield pa.array([datetime.date(2020, 1, 1)], type=pa.date32())
    yield pa.array([1, 2, 3, 4, 5]).slice(2, 2)
    yield pa.array(["a", "b", "c", None]).slice(1)
    yield pa.array([[1], [2, 3], None, [4]]).slice(1, 2)
    yield pa.array([{"x": 1}, {"x": 2}, None]).slice(1)
    yield pa.array([True, False, True, None] * 3).slice(3, 5)
    yield pa.array([], type=pa.string())
    yield pa.array([], type=pa.list_(pa.int64()))


@pytest.mark.parametrize("array", list(arrow_arrays()), ids=lambda a: str(a.type))
def test_arrow_arrays(client, array):
    result = roundtrip(client, array)
    assert type(result) is type(array)
    assert result.type == array.type
    assert result.equals(array), f"{result} != {array}"


def test_arrow_typenames(client):
    def typename(value):
        return client.get_meta(client.put(value)).typename

    assert typename(pa.array([1], pa.int64())) == "vineyard::NumericArray<int64>"
    assert typename(pa.array([1.0])) == "vineyard::NumericArray<double>"
    assert typename(pa.array([True])) == "vineyard::BooleanArray"
    assert typename(pa.array(["a"])) == "vineyard::BaseBinaryArray<arrow::StringArray>"
    assert typename(pa.array(["a"], pa.large_string())) == (
        "vineyard::BaseBinaryArray<arrow::LargeStringArray>"
    )
    meta = client.get_meta(client.put(pa.array([1, None], pa.int32())))
    assert (meta["length_"], meta["null_count_"], meta["offset_"]) == (2, 1, 0)
    assert {name for name, _ in meta.members()} == {"buffer_", "null_bitmap_"}


def test_arrow_containers(client):
    chunked = pa.chunked_array([[1, 2], [3]], type=pa.int16())
    result = roundtrip(client, chunked)
    assert isinstance(result, pa.ChunkedArray) and result.equals(chunked)
    empty_chunked = pa.chunked_array([], type=pa.string())
    assert roundtrip(client, empty_chunked).equals(empty_chunked)

    batch = pa.record_batch({"a": [1, 2], "b": ["x", None], "c": [[1], None]})
    result = roundtrip(client, batch)
    assert isinstance(result, pa.RecordBatch) and result.equals(batch)
    assert client.get_meta(client.put(batch)).typename == "vineyard::RecordBatch"

    table = pa.concat_tables(
        [
            pa.table({"a": [1, 2], "s": ["x", "y"]}),
            pa.table({"a": [3], "s": pa.array([None], pa.string())}),
        ]
    )
    result = roundtrip(client, table)
    assert isinstance(result, pa.Table)
    assert result.schema == table.schema and result.equals(table)
    meta = client.get_meta(client.put(table))
    assert (meta.typename, meta["batch_num_"], meta["num_rows_"]) == ("vineyard::Table", 2, 3)
    empty = pa.table({"a": pa.array([], pa.int8())})
    assert roundtrip(client, empty).equals(empty)


def test_objects_inside_containers_are_references(client):
    inner = client.put(np.arange(3))
    obj = client.get_object(inner)
    pair = client.get_object(client.put((obj, inner)))
    assert pair.first.id == inner and pair.second.id == inner
    first, second = client.get(pair.id)
    np.testing.assert_array_equal(first, np.arange(3))
    np.testing.assert_array_equal(second, np.arange(3))


def test_module_level_put_get(vineyard_socket, monkeypatch):
    monkeypatch.setenv("VINEYARD_IPC_SOCKET", vineyard_socket)
    monkeypatch.setattr(vineyard, "_default_client", None)
    object_id = vineyard.put({"a": [1, 2]})
    assert vineyard.get(object_id) == {"a": [1, 2]}
    assert vineyard.get_current_client().ipc_socket == vineyard_socket
