"""Time to the first query result over a table in vineyard, read by pyarrow, polars and DuckDB,
beside the same table read from an Arrow IPC file through a memory map.

    python python/benchmarks/bench_arrow.py [--quick] [--json PATH]

Starts an instance (`--size 3Gi --meta local`), puts a table of 4 int64/float64 columns in
16 MiB record batches per size (1 MiB to 1 GiB; `--quick`: up to 16 MiB) and writes the same
table to an Arrow IPC file (in /dev/shm when there is one). A second process, connected and
warmed up once, then times, back to back (the median of several), from nothing to the
result of `sum(c0)`:
- ours: `client.get(id)`, then the sum in pyarrow (`pyarrow.compute.sum`), in polars
  (`pl.from_arrow(table)["c0"].sum()`) and in DuckDB (`SELECT sum(c0) FROM tbl` on the
  value);
- the baseline: `pa.ipc.open_file(pa.memory_map(path)).read_all()`, then the same sums.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import statistics
import sys
import tempfile
import time

import vineyard
from common import GIB, MIB, duration, human, make_table, parser, server_command, write_json
from servers import instance, settle, stop_on_sigterm

SIZES = [MIB, 16 * MIB, 256 * MIB, GIB]
QUICK_SIZES = [MIB, 16 * MIB]
CONSUMERS = ("pyarrow", "polars", "duckdb")


def first_result(consumer: str, read) -> int:
    """The sum of column `c0` of the table `read()` gives, computed by `consumer`."""
    if consumer == "pyarrow":
        import pyarrow.compute as pc

        return pc.sum(read().column("c0")).as_py()
    if consumer == "polars":
        import polars as pl

        return pl.from_arrow(read())["c0"].sum()
    import duckdb

    tbl = read()  # noqa: F841 - DuckDB finds it by name
    return duckdb.sql("SELECT sum(c0) FROM tbl").fetchall()[0][0]


def read_ipc(pa, path: str):
    """The table of an Arrow IPC file, through a memory map (no copy)."""
    return pa.ipc.open_file(pa.memory_map(path)).read_all()


def reader(socket: str, connection) -> None:
    """The second process: times `(source, consumer, what, repeats)` requests."""
    import pyarrow as pa

    client = vineyard.connect(socket)
    while True:
        request = connection.recv()
        if request[0] == "stop":
            break
        source, consumer, what, repeats = request
        if source == "vineyard":
            read = functools.partial(client.get, vineyard.ObjectID(what))
        else:
            read = functools.partial(read_ipc, pa, what)

        expected = first_result(consumer, read)  # untimed: imports, caches, warm pages
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            found = first_result(consumer, read)
            times.append(time.perf_counter() - started)
            assert found == expected, (found, expected)
        connection.send(statistics.median(times))
    client.close()


def run(socket: str, args, directory: str) -> list[dict]:
    """Every size and consumer, ours and the IPC file's."""
    import pyarrow as pa

    client = vineyard.connect(socket)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=reader, args=(socket, theirs), daemon=True)
    process.start()
    theirs.close()  # the reader's end: if it dies, `recv` here fails instead of waiting
    rows = []
    try:
        for size in QUICK_SIZES if args.quick else SIZES:
            table = make_table(size, seed=size)
            object_id = client.put(table)
            path = os.path.join(directory, f"table-{size}.arrow")
            with pa.ipc.new_file(path, table.schema) as writer:
                writer.write_table(table)
            repeats = 5 if size >= 256 * MIB else 20
            for consumer in CONSUMERS:
                row = {"size": size, "consumer": consumer}
                for source, what in (("vineyard", str(object_id)), ("ipc", path)):
                    ours.send((source, consumer, what, repeats))
                    row[source] = ours.recv()
                rows.append(row)
                print(
                    f"{human(size):>8} {consumer:<8} vineyard {duration(row['vineyard']):>9}"
                    f"   ipc mmap {duration(row['ipc']):>9}",
                    flush=True,
                )
            client.delete(object_id)
            os.unlink(path)
            del table
    finally:
        ours.send(("stop",))
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
        client.close()
    return rows


def main() -> None:
    """Runs the measurements, prints them and writes `--json`."""
    arguments = parser(__doc__.splitlines()[0])
    args = arguments.parse_args()
    stop_on_sigterm()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm) as directory:
        with instance(server_command(args), size="3Gi") as server:
            settle(server.process.pid)
            rows = run(server.socket, args, directory)
    print(f"{args.label}: vineyard {vineyard.__version__}, Python {sys.version.split()[0]}")
    write_json(args.json, "arrow", args, {"rows": rows})


if __name__ == "__main__":
    main()
