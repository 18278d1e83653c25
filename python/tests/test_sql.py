"""SQL over what an instance holds: `client.sql` (IPC and remote clients), and real Flight SQL
clients (ADBC's DB-API) against `python -m vineyard`, with results checked against DuckDB
and datafusion-python over the same pyarrow table.

Servers bind `--rpc_socket_port 0` and require a token; the endpoint is `client.rpc_endpoint`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import numpy as np
import pytest
import vineyard
from support import Server, running_server

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")
duckdb = pytest.importorskip("duckdb")
datafusion = pytest.importorskip("datafusion")
adbc = pytest.importorskip("adbc_driver_flightsql.dbapi")
adbc_manager = pytest.importorskip("adbc_driver_manager")

TOKEN = "s3cret"
ANY_PORT = ("--rpc_socket_port", "0", "--rpc_token", TOKEN)


@pytest.fixture(scope="module")
def sql_server() -> Iterator[Server]:
    with running_server("512Mi", *ANY_PORT) as server:
        yield server


@pytest.fixture
def ipc(sql_server: Server) -> Iterator[vineyard.IPCClient]:
    with vineyard.connect(sql_server.socket) as client:
        yield client


def sample(rows: int = 10_000) -> pa.Table:
    """An int64 key with 100 values, a float64 value, a string with nulls."""
    index = np.arange(rows)
    return pa.table(
        {
            "k": pa.array(index % 100, pa.int64()),
            "v": pa.array(index * 0.5, pa.float64()),
            "s": pa.array([None if i % 7 == 0 else f"s{i}" for i in range(rows)], pa.string()),
        }
    )


def put_named(client, table: pa.Table, name: str) -> vineyard.ObjectID:
    object_id = client.put(table, persist=True)
    client.put_name(object_id, name)
    return object_id


def sql(client, query: str, *args, **kwargs):
    return client.sql(query, *args, token=TOKEN, **kwargs)


def sorted_table(table: pa.Table) -> pa.Table:
    return table.sort_by([(name, "ascending") for name in table.column_names])


def assert_same(ours: pa.Table, theirs: pa.Table) -> None:
    """Same columns and values (floats to rounding)."""
    assert ours.column_names == theirs.column_names
    for name in ours.column_names:
        mine, other = ours[name], theirs[name]
        if pa.types.is_floating(mine.type):
            np.testing.assert_allclose(mine.to_numpy(), other.to_numpy(), err_msg=name)
        else:
            assert mine.to_pylist() == other.to_pylist(), name


QUERIES = [
    "SELECT k, sum(v) AS total, count(*) AS n FROM sales GROUP BY k",
    "SELECT s, v FROM sales WHERE v > 4000 AND k = 3",
    "SELECT k, v, s FROM sales ORDER BY v DESC LIMIT 10",
]


@pytest.mark.parametrize("query", QUERIES)
def test_results_match_duckdb_and_datafusion(ipc, query):
    table = sample()
    put_named(ipc, table, "sales")
    ours = sorted_table(sql(ipc, query))

    sales = table  # noqa: F841 - DuckDB finds the table by its Python name
    assert_same(ours, sorted_table(duckdb.sql(query).arrow().read_all()))

    context = datafusion.SessionContext()
    context.register_record_batches("sales", [table.to_batches()])
    same_engine = sorted_table(context.sql(query).to_arrow_table())
    assert ours.equals(same_engine.cast(ours.schema)), (ours, same_engine)


def test_large_results_come_as_a_reader(ipc):
    put_named(ipc, sample(100_000), "big")
    reader = sql(ipc, "SELECT * FROM big", reader=True)
    assert isinstance(reader, pa.RecordBatchReader)
    batches = list(reader)
    assert len(batches) > 1
    assert sum(batch.num_rows for batch in batches) == 100_000


def test_results_are_stored_under_a_name_and_dropped(ipc):
    put_named(ipc, sample(), "sales")
    stored = sql(ipc, "SELECT k, count(*) AS n FROM sales GROUP BY k", name="counts")
    assert isinstance(stored, vineyard.ObjectID)
    assert ipc.get_name("counts") == stored
    counts = ipc.get(name="counts")
    assert isinstance(counts, pa.Table)
    assert sorted(counts["n"].to_pylist()) == [100] * 100
    with pytest.raises(vineyard.ObjectExistsException, match="already exists"):
        sql(ipc, "SELECT 1 AS one", name="counts")
    sql(ipc, "DROP TABLE counts")
    with pytest.raises(vineyard.ObjectNotExistsException):
        ipc.get_name("counts")


def test_parameters_fill_question_marks(ipc):
    put_named(ipc, sample(), "sales")
    rows = sql(ipc, "SELECT count(*) AS n FROM sales WHERE k = ? AND v < ?", [3, 1000.0])
    assert rows["n"].to_pylist() == [20]


def test_objects_of_every_arrow_shape_are_tables(ipc):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    put_named(ipc, frame, "frame")
    put_named(ipc, np.arange(10, dtype=np.int64), "numbers")
    unnamed = ipc.put(pa.table({"x": [1, 2, 3]}))
    assert sql(ipc, "SELECT sum(b) AS total FROM frame")["total"].to_pylist() == [4.5]
    assert sql(ipc, "SELECT sum(value) AS total FROM numbers")["total"].to_pylist() == [45]
    assert sql(ipc, f"SELECT max(x) AS top FROM {unnamed}")["top"].to_pylist() == [3]
    listed = sql(ipc, "SHOW TABLES")
    names = set(
        listed.filter(pa.compute.equal(listed["table_schema"], "public"))["table_name"].to_pylist()
    )
    assert {"frame", "numbers"} <= names
    assert str(unnamed) not in names


def test_remote_clients_query_too(ipc):
    put_named(ipc, sample(), "sales")
    with vineyard.connect(ipc.rpc_endpoint, token=TOKEN) as remote:
        rows = remote.sql("SELECT count(*) AS n FROM sales WHERE k < ?", [10])
        assert rows["n"].to_pylist() == [1000]
        stored = remote.sql("SELECT * FROM sales WHERE k = 1", name="ones")
        assert remote.get_name("ones") == stored


def test_bad_queries_raise_what_was_wrong_and_the_instance_serves_on(ipc):
    put_named(ipc, sample(100), "sales")
    ipc.put_name(ipc.put((1, "two"), persist=True), "pair")
    cases = [
        ("SELEC k FROM sales", vineyard.InvalidException, "SQL error"),
        ("SELECT * FROM nowhere", vineyard.ObjectNotExistsException, "nowhere"),
        ("SELECT nope FROM sales", vineyard.InvalidException, "nope"),
        ("SELECT * FROM pair", vineyard.InvalidException, "not Arrow-shaped"),
        ("SELECT s * 2 FROM sales", vineyard.InvalidException, "Utf8"),
        ("DELETE FROM sales", vineyard.NotImplementedException, "immutable"),
    ]
    for query, exception, words in cases:
        with pytest.raises(exception, match=words):
            sql(ipc, query)
        # A reader is only handed out once the query was planned: the error comes here too.
        with pytest.raises(exception, match=words):
            sql(ipc, query, reader=True)
    assert sql(ipc, "SELECT count(*) AS n FROM sales")["n"].to_pylist() == [100]


def test_without_the_token_sql_is_refused(ipc):
    with pytest.raises(vineyard.ConnectionFailedException, match="token"):
        ipc.sql("SELECT 1", token="wrong")


# -- ADBC (the Flight SQL driver, through its DB-API) ---------------------------------------


def adbc_connect(endpoint: str, token: str | None = TOKEN):
    options = {"adbc.flight.sql.authorization_header": f"Bearer {token}"} if token else {}
    return adbc.connect(f"grpc://{endpoint}", db_kwargs=options, autocommit=True)


def test_adbc_queries_with_parameters_and_metadata(ipc):
    table = sample()
    put_named(ipc, table, "sales")
    with adbc_connect(ipc.rpc_endpoint) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT k, count(*) AS n FROM sales GROUP BY k ORDER BY k")
        grouped = cursor.fetch_arrow_table()
        assert grouped["k"].to_pylist() == list(range(100))
        assert grouped["n"].to_pylist() == [100] * 100

        cursor.execute("SELECT v FROM sales WHERE k = ? ORDER BY v LIMIT 3", (7,))
        assert cursor.fetch_arrow_table()["v"].to_pylist() == [3.5, 53.5, 103.5]

        schema = connection.adbc_get_table_schema("sales")
        assert schema.names == ["k", "v", "s"]
        assert schema.field("v").type == pa.float64()
        objects = connection.adbc_get_objects(depth="tables").read_all().to_pylist()
        (catalog,) = objects
        assert catalog["catalog_name"] == "vineyard"
        tables = {
            table["table_name"]
            for schema in catalog["catalog_db_schemas"]
            if schema["db_schema_name"] == "public"
            for table in schema["db_schema_tables"]
        }
        assert "sales" in tables

        cursor.execute("CREATE TABLE sevens AS SELECT * FROM sales WHERE k = 7")
        cursor.fetchall()
    assert ipc.get(name="sevens").num_rows == 100


def test_adbc_errors_have_the_right_status(ipc):
    put_named(ipc, sample(100), "sales")
    status = adbc_manager.AdbcStatusCode
    with adbc_connect(ipc.rpc_endpoint) as connection, connection.cursor() as cursor:
        cases = [
            ("SELEC 1", status.INVALID_ARGUMENT),
            ("SELECT * FROM nowhere", status.NOT_FOUND),
            ("SELECT s * 2 FROM sales", status.INVALID_ARGUMENT),
            ("INSERT INTO sales VALUES (1, 1.0, 'x')", status.NOT_IMPLEMENTED),
        ]
        for query, code in cases:
            with pytest.raises(adbc_manager.Error) as raised:
                cursor.execute(query)
                cursor.fetchall()
            assert raised.value.status_code == code, (query, raised.value)
        cursor.execute("SELECT count(*) AS n FROM sales")
        assert cursor.fetchall() == [(100,)]


def test_adbc_without_the_token_is_refused(ipc):
    with adbc_connect(ipc.rpc_endpoint, token=None) as connection:
        with pytest.raises(adbc_manager.Error) as raised, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchall()
        assert raised.value.status_code == adbc_manager.AdbcStatusCode.UNAUTHENTICATED
        with pytest.raises(adbc_manager.Error) as raised:
            connection.adbc_get_objects(depth="tables").read_all()
        assert raised.value.status_code == adbc_manager.AdbcStatusCode.UNAUTHENTICATED


# -- limits and cancellation ----------------------------------------------------------------


def test_an_instance_without_rpc_says_sql_needs_it(start_server):
    server = start_server("64Mi", "--rpc=false")
    with vineyard.connect(server.socket) as client:
        with pytest.raises(vineyard.ConnectionErrorException, match="--rpc=true"):
            client.sql("SELECT 1")
        # The client goes on.
        assert client.get(client.put(7)) == 7


def test_a_query_past_the_memory_limit_fails_alone(start_server):
    server = start_server("512Mi", "--rpc_socket_port", "0", "--sql_memory_limit", "4Mi")
    with vineyard.connect(server.socket) as client:
        put_named(client, sample(200_000), "many")
        with pytest.raises(vineyard.NotEnoughMemoryException, match="--sql_memory_limit"):
            client.sql("SELECT s, count(*) FROM many GROUP BY s")
        assert client.sql("SELECT k, count(*) AS n FROM many GROUP BY k").num_rows == 100


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) process `pid` has used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_over(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def test_a_dropped_client_cancels_its_query(start_server):
    server = start_server("512Mi", "--rpc_socket_port", "0")
    with vineyard.connect(server.socket) as client:
        endpoint = client.rpc_endpoint
    # A query that would run for hours, from a client process that is then killed.
    script = textwrap.dedent(
        f"""
        import vineyard.core.sql, pyarrow.flight as flight
        client = flight.FlightClient("grpc+tcp://{endpoint}")
        vineyard.core.sql.run_sql(client, flight.FlightCallOptions(),
            "SELECT sum(value % 7) FROM generate_series(1, 1000000000000)")
        """
    )
    querying = subprocess.Popen([sys.executable, "-c", script])
    try:
        time.sleep(1.0)
        busy = cpu_over(server.process.pid, 1.0)
        assert busy > 0.5, f"the query should keep the instance busy, it used {busy:.2f} s"
    finally:
        querying.send_signal(signal.SIGKILL)
        querying.wait()
    time.sleep(0.5)
    idle = cpu_over(server.process.pid, 1.0)
    assert idle < 0.2, f"the instance still used {idle:.2f} s of CPU after the client died"
    with vineyard.connect(server.socket) as client:
        assert client.sql("SELECT 1 AS one")["one"].to_pylist() == [1]
