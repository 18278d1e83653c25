"""SQL over a stored table: `client.sql` (the query runs in the instance, over its shared
memory) beside datafusion-python and DuckDB over the same pyarrow table in the client's
memory; ADBC's Flight SQL driver end to end beside a plain Flight `do_get` of the whole table
followed by the same query run locally (datafusion-python); and the time to the first batch
of `SELECT * ... LIMIT 10`.

    python python/benchmarks/bench_sql.py [--rows 10000000,100000000] [--repeat 5] [--quick]
        [--json PATH] [--server-cmd CMD]

The table: `k` int64 with 1,000 distinct values, `v` float64, `s` a string (`s<i % 100000>`),
in batches of 1,000,000 rows. Queries: `SELECT k, sum(v), count(*) ... GROUP BY k`; a
selective filter with a projection (`SELECT k, v ... WHERE k = 7 AND v < ...`, 0.01% of the
rows); `SELECT k, v ... ORDER BY v DESC LIMIT 10`. datafusion-python gets the batches split
into as many partitions as there are cores (its best case), DuckDB scans the pyarrow table in
place. Prints the best of `--repeat` runs (after one warm-up) per query and engine, and the
ratios (other / ours: above 1 means ours is faster).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight
import vineyard
from common import parser, server_command, write_json
from servers import instance, stop_on_sigterm

BATCH_ROWS = 1_000_000
KEYS = 1_000
QUERIES = {
    "group": "SELECT k, sum(v) AS total, count(*) AS n FROM {t} GROUP BY k",
    "filter": "SELECT k, v FROM {t} WHERE k = 7 AND v < {cut}",
    "top": "SELECT k, v FROM {t} ORDER BY v DESC LIMIT 10",
}
FIRST = "SELECT * FROM {t} LIMIT 10"


def make_table(rows: int) -> pa.Table:
    """The benchmark's table: keys spread over the rows, values in row order."""
    batches = []
    for start in range(0, rows, BATCH_ROWS):
        index = np.arange(start, min(rows, start + BATCH_ROWS), dtype=np.int64)
        labels = pc.cast(pa.array(index % 100_000), pa.string())
        batches.append(
            pa.record_batch(
                {
                    "k": pa.array(index * 7919 % KEYS),
                    "v": pa.array(index * 0.5),
                    "s": pc.binary_join_element_wise("s", labels, ""),
                }
            )
        )
    return pa.Table.from_batches(batches)


def best(repeat: int, run) -> float:
    """The shortest time of `repeat` calls of `run()` (after one warm-up call)."""
    times = []
    for attempt in range(repeat + 1):
        started = time.perf_counter()
        run()
        if attempt:
            times.append(time.perf_counter() - started)
    return min(times)


def datafusion_context(table: pa.Table):
    """datafusion-python with `table` registered as `t`, split into a partition per core."""
    import datafusion

    context = datafusion.SessionContext()
    batches = table.to_batches()
    parts = max(1, min(os.cpu_count() or 1, len(batches)))
    context.register_record_batches("t", [batches[index::parts] for index in range(parts)])
    return context


def first_batch(client, query: str) -> float:
    """Seconds until the first batch of `query` (through `client.sql`, as a reader)."""
    started = time.perf_counter()
    reader = client.sql(query, reader=True)
    reader.read_next_batch()
    elapsed = time.perf_counter() - started
    reader.close()
    return elapsed


def measure_rows(client, rows: int, repeat: int) -> list[dict]:
    """Every query on a table of `rows` rows, on each engine."""
    import adbc_driver_flightsql.dbapi as adbc
    import duckdb

    table = make_table(rows)
    name = f"t{rows}"
    object_id = client.put(table, persist=True)
    client.put_name(object_id, name)
    cut = rows * 0.5 * 0.001  # v < cut keeps the first 0.1% of rows, k = 7 a tenth of those
    context = datafusion_context(table)
    duck = duckdb.connect()
    duck.register("t", table)
    plain = flight.FlightClient(f"grpc+tcp://{client.rpc_endpoint}")
    results = []
    try:
        with adbc.connect(f"grpc://{client.rpc_endpoint}", autocommit=True) as connection:
            cursor = connection.cursor()
            for kind, template in QUERIES.items():
                ours = template.format(t=name, cut=cut)
                local = template.format(t="t", cut=cut)
                expected = client.sql(ours).num_rows

                def adbc_run(query=ours):
                    cursor.execute(query)
                    cursor.fetch_arrow_table()

                def flight_then_local(query=local):
                    fetched = plain.do_get(flight.Ticket(name.encode())).read_all()
                    datafusion_context(fetched).sql(query).to_arrow_table()

                row = {
                    "rows": rows,
                    "query": kind,
                    "result_rows": expected,
                    "ours": best(repeat, lambda q=ours: client.sql(q)),
                    "datafusion": best(repeat, lambda q=local: context.sql(q).to_arrow_table()),
                    "duckdb": best(repeat, lambda q=local: duck.sql(q).to_arrow_table()),
                    "adbc": best(repeat, adbc_run),
                    "flight_then_local": best(max(1, repeat // 2), flight_then_local),
                }
                results.append(row)
                print_row(row, flush=True)
            cursor.close()
        first = min(first_batch(client, FIRST.format(t=name)) for _ in range(repeat + 1))
        results.append({"rows": rows, "query": "first_batch", "ours": first})
        print(f"{rows:>11,} first batch of SELECT * LIMIT 10: {first * 1e3:8.2f} ms", flush=True)
    finally:
        plain.close()
        duck.close()
        client.drop_name(name)
        client.delete(object_id)
    return results


def print_row(row: dict, flush: bool = False) -> None:
    engines = ("ours", "datafusion", "duckdb", "adbc", "flight_then_local")
    ms = {key: row[key] * 1e3 for key in engines}
    print(
        f"{row['rows']:>11,} {row['query']:>6} | ours {ms['ours']:8.1f} ms | datafusion "
        f"{ms['datafusion']:8.1f} ({row['datafusion'] / row['ours']:5.2f}x) | duckdb "
        f"{ms['duckdb']:8.1f} ({row['duckdb'] / row['ours']:5.2f}x) | adbc {ms['adbc']:8.1f} | "
        f"do_get+local {ms['flight_then_local']:8.1f} "
        f"({row['flight_then_local'] / row['adbc']:5.2f}x)",
        flush=flush,
    )


def main() -> None:
    """Runs the benchmark, prints it and writes `--json`."""
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--rows", help="table rows (default 10000000,100000000; quick 1000000)")
    arguments.add_argument("--repeat", type=int, help="runs per query (default 5, quick 2)")
    args = arguments.parse_args()
    sizes = [
        int(text)
        for text in (args.rows or ("1000000" if args.quick else "10000000,100000000")).split(",")
    ]
    repeat = args.repeat or (2 if args.quick else 5)
    stop_on_sigterm()
    # The largest table, with room for the smaller ones and what queries store.
    store = f"{max(sizes) * 32 + (512 << 20)}"
    results = []
    with instance(server_command(args), size=store, rpc=True) as server:
        client = vineyard.connect(server.socket)
        for rows in sizes:
            results += measure_rows(client, rows, repeat)
        client.close()
    write_json(args.json, "sql", args, {"repeat": repeat, "rows": results})


if __name__ == "__main__":
    main()
