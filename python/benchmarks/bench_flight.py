"""Flight `do_get` throughput: a table stored in vineyard, served by the instance's Flight
service, beside pyarrow's own Flight server serving the same table from its memory.

    python python/benchmarks/bench_flight.py [--sizes 16Mi,256Mi,1Gi] [--repeat 5]

Each server runs in a process of its own; the client (`pyarrow.flight.FlightClient`, in this
process) reads the whole table with `read_all()`. The table has four 8-byte columns (int64 and
float64, no nulls) in batches of at most 16 MiB, the same batches for both servers. Prints the
best of `--repeat` reads per size and server, in GB/s (10^9 bytes per second), and the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import vineyard

UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
BATCH_BYTES = 16 << 20
COLUMNS = 4


def parse_size(text: str) -> int:
    for unit, factor in UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def make_table(nbytes: int, seed: int = 7) -> pa.Table:
    """`nbytes` of int64/float64 columns in batches of at most `BATCH_BYTES`."""
    rows = nbytes // (8 * COLUMNS)
    per_batch = max(1, BATCH_BYTES // (8 * COLUMNS))
    rng = np.random.default_rng(seed)
    batches = []
    for start in range(0, rows, per_batch):
        count = min(per_batch, rows - start)
        columns = {
            f"c{index}": (rng.integers(0, 1 << 40, count) if index % 2 == 0 else rng.random(count))
            for index in range(COLUMNS)
        }
        batches.append(pa.RecordBatch.from_pydict(columns))
    return pa.Table.from_batches(batches)


# The reference: pyarrow's Flight server with the table in its own memory.
PYARROW_SERVER = textwrap.dedent(
    """
    import sys
    import pyarrow.flight as flight
    sys.path.insert(0, {here!r})
    from bench_flight import make_table

    tables = {{size: make_table(size) for size in {sizes!r}}}

    class TableServer(flight.FlightServerBase):
        def do_get(self, context, ticket):
            return flight.RecordBatchStream(tables[int(ticket.ticket.decode())])

    server = TableServer("grpc+tcp://127.0.0.1:0")
    print(server.port, flush=True)
    server.serve()
    """
)


@contextlib.contextmanager
def pyarrow_server(sizes: list[int]) -> Iterator[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    code = PYARROW_SERVER.format(here=here, sizes=sizes)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        yield f"127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def vineyard_server(size: int) -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="vy-bench-")
    socket = os.path.join(directory, "vineyard.sock")
    command = [
        sys.executable, "-m", "vineyard", "--socket", socket, "--size", str(size),
        "--meta", "local", "--rpc_socket_port", "0",
    ]  # fmt: skip
    log = open(os.path.join(directory, "server.log"), "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(socket):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(open(log.name).read())
            time.sleep(0.02)
        yield socket
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


def best_read(endpoint: str, ticket: bytes, expected_rows: int, repeat: int) -> float:
    """The shortest time of `repeat` full reads (after one warm-up read)."""
    client = flight.FlightClient(f"grpc+tcp://{endpoint}")
    try:
        times = []
        for attempt in range(repeat + 1):
            started = time.perf_counter()
            table = client.do_get(flight.Ticket(ticket)).read_all()
            elapsed = time.perf_counter() - started
            assert table.num_rows == expected_rows, (table.num_rows, expected_rows)
            del table
            if attempt:
                times.append(elapsed)
        return min(times)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16Mi,256Mi,1Gi")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [parse_size(text) for text in args.sizes.split(",")]

    results = []
    with pyarrow_server(sizes) as reference, vineyard_server(2 * sum(sizes) + (256 << 20)) as sock:
        client = vineyard.connect(sock)
        endpoint = client.rpc_endpoint
        for size in sizes:
            table = make_table(size)
            object_id = client.put(table)
            nbytes = table.nbytes
            rows = table.num_rows
            del table
            ours = best_read(endpoint, str(object_id).encode(), rows, args.repeat)
            theirs = best_read(reference, str(size).encode(), rows, args.repeat)
            results.append((size, nbytes, ours, theirs))
            client.delete(object_id)

    print(f"do_get throughput, best of {args.repeat} (GB/s = 10^9 bytes/s)")
    print(f"{'table':>8} | {'vineyard':>9} | {'pyarrow':>9} | {'ratio':>6}")
    print(f"{'-' * 8}-+-{'-' * 9}-+-{'-' * 9}-+-{'-' * 6}")
    for size, nbytes, ours, theirs in results:
        label = next(
            (
                f"{size // factor}{unit}"
                for unit, factor in reversed(UNITS.items())
                if size % factor == 0
            ),
            str(size),
        )
        ours_rate, theirs_rate = nbytes / ours / 1e9, nbytes / theirs / 1e9
        ratio = ours_rate / theirs_rate
        print(f"{label:>8} | {ours_rate:>9.2f} | {theirs_rate:>9.2f} | {ratio:>6.2f}")


if __name__ == "__main__":
    main()
