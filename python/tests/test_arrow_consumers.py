"""Arrow data from vineyard read by other libraries through the Arrow PyCapsule protocol:
polars, DuckDB, DataFusion and pandas read what `get` returns, and the vineyard `Object` of a
table itself, without a pyarrow round trip; where the library keeps Arrow memory as it is
(polars, DataFusion, pandas' `split_blocks`), its columns are the store's shared memory."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from memfd import in_shared_memory

ROWS = 100_000


@pytest.fixture
def stored(client):
    """A table put into vineyard: (the table, its value from `get`, its `Object`)."""
    index = np.arange(ROWS)
    table = pa.table({"i": index, "f": index * 0.5, "s": [f"s{i % 100}" for i in index]})
    object_id = client.put(table)
    return table, client.get(object_id), client.get_object(object_id)


def address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def test_polars_reads_without_a_copy(stored):
    import polars as pl

    table, value, obj = stored
    for frame in (pl.from_arrow(value), pl.DataFrame(obj)):
        assert frame.shape == (ROWS, 3)
        assert frame["i"].sum() == table.column("i").to_numpy().sum()
        floats = frame["f"].to_numpy(allow_copy=False)
        assert in_shared_memory(address(floats), floats.nbytes)


def test_polars_frames_and_series_are_put_through_their_arrow_streams(client):
    import polars as pl

    frame = pl.DataFrame({"a": [1, 2, None], "b": ["x", "y", "z"]})
    table = client.get(client.put(frame))
    assert isinstance(table, pa.Table) and pl.from_arrow(table).equals(frame)
    series = pl.Series("c", [1.5, None, 3.0])
    chunked = client.get(client.put(series))
    assert isinstance(chunked, pa.ChunkedArray) and chunked.to_pylist() == [1.5, None, 3.0]


def test_duckdb_queries_the_value_and_the_object(stored):
    import duckdb

    table, value, obj = stored
    expected = [(int(table.column("i").to_numpy().sum()), ROWS, 100)]
    for tbl in (value, obj):  # noqa: B007 - DuckDB finds `tbl` by its name
        query = "SELECT sum(i), count(*), count(DISTINCT s) FROM tbl"
        assert duckdb.sql(query).fetchall() == expected


def test_datafusion_reads_without_a_copy(stored):
    import datafusion

    table, value, obj = stored
    context = datafusion.SessionContext()
    for source in (value, obj):
        batches = context.from_arrow(source).collect()
        assert sum(batch.num_rows for batch in batches) == ROWS
        floats = batches[0].column(1)
        assert in_shared_memory(floats.buffers()[1].address, floats.nbytes)
        aggregated = context.from_arrow(source).aggregate(
            [], [datafusion.functions.sum(datafusion.col("i"))]
        )
        assert aggregated.collect()[0].column(0)[0].as_py() == table.column("i").to_numpy().sum()


def test_pandas_reads_the_value_and_the_object(stored):
    import pandas as pd

    table, value, obj = stored
    for source in (value, obj):
        frame = pd.DataFrame.from_arrow(source)  # pandas consolidates: a copy
        assert frame.shape == (ROWS, 3) and frame["i"].sum() == table.column("i").to_numpy().sum()
    frame = value.to_pandas(split_blocks=True)  # numeric columns kept as they are
    floats = frame["f"].to_numpy()
    assert in_shared_memory(address(floats), floats.nbytes)
