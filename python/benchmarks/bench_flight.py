"""Flight `do_get` and `do_put` throughput of an instance's Flight service, beside pyarrow's own
Flight server doing the same with the table in its memory.

    python python/benchmarks/bench_flight.py [--sizes 16Mi,256Mi,1Gi] [--repeat 5] [--quick]
        [--json PATH]

Each server runs in a process of its own; the client (`pyarrow.flight.FlightClient`, in this
process) writes and reads whole tables. The table has four 8-byte columns (int64 and float64,
no nulls) in batches of at most 16 MiB, the same batches for both servers.
- do_get: `do_get(ticket).read_all()` of the stored table (ours: the object id as the ticket);
- do_put: writing the table and closing the stream, until the server has it (ours: a new
  `vineyard::Table` in shared memory, deleted again; pyarrow's: `read_all()` in its memory).
Prints the best of `--repeat` transfers (after one warm-up; more for small tables: `repeat_for`)
per size and server, in GB/s (10^9 bytes per second), and the ratio. Our do_put's reply
names the new table, which is deleted after the timed transfer.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pyarrow.flight as flight
import vineyard
from common import (
    TABLE_BATCH_BYTES,
    TABLE_COLUMNS,
    make_table,
    parser,
    repeat_for,
    server_command,
    write_json,
)
from servers import instance, stop, stop_on_sigterm

UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}

# The reference: pyarrow's Flight server with the tables in its own memory.
PYARROW_SERVER = textwrap.dedent(
    """
    import sys
    import pyarrow.flight as flight
    sys.path.insert(0, {here!r})
    from common import make_table

    tables = {{size: make_table(size) for size in {sizes!r}}}

    class TableServer(flight.FlightServerBase):
        def do_get(self, context, ticket):
            return flight.RecordBatchStream(tables[int(ticket.ticket.decode())])

        def do_put(self, context, descriptor, reader, writer):
            reader.read_all()

    server = TableServer("grpc+tcp://127.0.0.1:0")
    print(server.port, flush=True)
    server.serve()
    """
)


def parse_size(text: str) -> int:
    """`16Mi`, `1Gi`, `4096` as bytes."""
    for unit, factor in UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


@contextlib.contextmanager
def pyarrow_server(sizes: list[int]) -> Iterator[str]:
    """pyarrow's Flight server, in a process of its own, serving a table of each size."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = PYARROW_SERVER.format(here=here, sizes=sizes)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        yield f"127.0.0.1:{port}"
    finally:
        stop(process, timeout=10)
        process.stdout.close()


def best(repeat: int, transfer, *args, after=None) -> float:
    """The shortest time of `repeat` calls of `transfer(*args)` (after one warm-up call);
    `after`, if given, gets each call's result, outside the timing."""
    times = []
    for attempt in range(repeat + 1):
        started = time.perf_counter()
        result = transfer(*args)
        elapsed = time.perf_counter() - started
        if after is not None:
            after(result)
        if attempt:
            times.append(elapsed)
    return min(times)


def read(client: flight.FlightClient, ticket: bytes, rows: int) -> None:
    """`do_get` of a whole table."""
    table = client.do_get(flight.Ticket(ticket)).read_all()
    assert table.num_rows == rows, (table.num_rows, rows)


def write(client: flight.FlightClient, table, reply: bool = False):
    """`do_put` of a whole table; the server's reply if `reply`."""
    descriptor = flight.FlightDescriptor.for_command(b'{"kind": "table"}')
    writer, reader = client.do_put(descriptor, table.schema)
    writer.write_table(table, max_chunksize=TABLE_BATCH_BYTES // (8 * TABLE_COLUMNS))
    writer.done_writing()
    answer = reader.read() if reply else None
    writer.close()
    return answer


def measure_size(client, ours, theirs, size: int, repeat: int) -> dict:
    """do_get and do_put times of a table of `size` bytes, ours and pyarrow's."""
    repeat = repeat_for(size, repeat)
    table = make_table(size)
    object_id = client.put(table)

    def drop(reply) -> None:
        client.delete(vineyard.ObjectID(reply.to_pybytes().decode()))

    try:
        return {
            "size": size,
            "nbytes": table.nbytes,
            "do_get": best(repeat, read, ours, str(object_id).encode(), table.num_rows),
            "do_get_pyarrow": best(repeat, read, theirs, str(size).encode(), table.num_rows),
            "do_put": best(repeat, write, ours, table, True, after=drop),
            "do_put_pyarrow": best(repeat, write, theirs, table),
        }
    finally:
        client.delete(object_id)


def measure(sizes: list[int], repeat: int, command: list[str]) -> list[dict]:
    """do_get and do_put times per size, ours and pyarrow's."""
    store = f"{2 * max(sizes) + (256 << 20)}"
    with (
        pyarrow_server(sizes) as reference,
        instance(command, size=store, rpc=True) as server,
    ):
        client = vineyard.connect(server.socket)
        ours = flight.FlightClient(f"grpc+tcp://{client.rpc_endpoint}")
        theirs = flight.FlightClient(f"grpc+tcp://{reference}")
        rows = [measure_size(client, ours, theirs, size, repeat) for size in sizes]
        ours.close()
        theirs.close()
        client.close()
    return rows


def print_rows(rows: list[dict], repeat: int) -> None:
    """GB/s per size and server, and the ratios."""
    print(f"Flight throughput, best of {repeat} (GB/s = 10^9 bytes/s)")
    header = f"{'table':>8} | {'get ours':>9} {'pyarrow':>9} {'ratio':>6} "
    print(header + f"| {'put ours':>9} {'pyarrow':>9} {'ratio':>6}")
    for row in rows:
        line = f"{row['size'] / (1 << 20):>6g}Mi |"
        for key in ("do_get", "do_put"):
            ours = row["nbytes"] / row[key] / 1e9
            theirs = row["nbytes"] / row[f"{key}_pyarrow"] / 1e9
            line += f" {ours:>9.2f} {theirs:>9.2f} {ours / theirs:>6.2f} |"
        print(line.rstrip(" |"))


def main() -> None:
    """Runs the benchmark, prints it and writes `--json`."""
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--sizes", help="table sizes (default 16Mi,256Mi,1Gi; quick 1Mi,16Mi)")
    arguments.add_argument("--repeat", type=int, help="transfers per size (default 5, quick 3)")
    args = arguments.parse_args()
    sizes = [
        parse_size(text)
        for text in (args.sizes or ("1Mi,16Mi" if args.quick else "16Mi,256Mi,1Gi")).split(",")
    ]
    repeat = args.repeat or (3 if args.quick else 5)
    stop_on_sigterm()
    rows = measure(sizes, repeat, server_command(args))
    print_rows(rows, repeat)
    write_json(args.json, "flight", args, {"repeat": repeat, "rows": rows})


if __name__ == "__main__":
    main()
