"""Remote put/get through an instance's RPC endpoint (loopback): a numpy array and a pyarrow
table of each size, and small objects per second; for the reference, pyarrow Flight's own
`do_get` of the same table from pyarrow's Flight server.

    python python/benchmarks/bench_remote.py [--sizes 16Mi,256Mi,1Gi] [--repeat 3] [--quick]
        [--server-cmd CMD] [--label NAME] [--no-baselines] [--json PATH]

Run with this package's interpreter it measures our remote client (`vineyard.connect(host,
port)`, Arrow Flight); run with Vineyard 0.24.2's interpreter and `--server-cmd` its
vineyardd, Vineyard's RPC client against its own server (with its default: zstd compression
on); with Vineyard's interpreter and our vineyardd, Vineyard's RPC client against our port.
- put: `client.put(value)` until it returns (the value stored in the instance's memory);
- get: `client.get(id)` until the value is here (a numpy array, a pyarrow Table);
- small: puts and gets of a small value (an int) per second, one at a time.
Prints the best of `--repeat` (after a warm-up; more for small values: `repeat_for`) in GB/s
(10^9 bytes per second).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pyarrow.flight as flight
import vineyard
from bench_flight import parse_size, pyarrow_server
from common import make_table, parser, repeat_for, server_command, write_json
from servers import stop_on_sigterm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))
from support import free_port, running_server  # noqa: E402

SMALL_SECONDS = 1.0


def best(repeat: int, work) -> tuple[float, object]:
    """The shortest time of `repeat` calls of `work()` after a warm-up, and its last result."""
    times, result = [], None
    for attempt in range(repeat + 1):
        started = time.perf_counter()
        result = work()
        if attempt:
            times.append(time.perf_counter() - started)
    return min(times), result


def measure_value(client, value, nbytes: int, repeat: int) -> dict:
    ids = []

    def put():
        object_id = client.put(value)
        ids.append(object_id)
        return object_id

    put_time, object_id = best(repeat, put)
    get_time, got = best(repeat, lambda: client.get(object_id))
    assert got is not None
    for one in ids:
        client.delete(one)
    return {"put": put_time, "get": get_time, "nbytes": nbytes}


def small_rates(client) -> dict:
    """Puts and gets of an int per second."""
    rates = {}
    ids = []
    deadline = time.perf_counter() + SMALL_SECONDS
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        ids.append(client.put(1))
    rates["put_per_s"] = len(ids) / (time.perf_counter() - started)
    count = 0
    started = time.perf_counter()
    deadline = started + SMALL_SECONDS
    while time.perf_counter() < deadline:
        client.get(ids[count % len(ids)])
        count += 1
    rates["get_per_s"] = count / (time.perf_counter() - started)
    client.delete(ids)
    return rates


def flight_get(sizes: list[int], repeat: int) -> dict[int, float]:
    """pyarrow Flight's `do_get` of each table from pyarrow's own server."""
    times = {}
    with pyarrow_server(sizes) as endpoint:
        client = flight.FlightClient(f"grpc+tcp://{endpoint}")
        for size in sizes:
            ticket = flight.Ticket(str(size).encode())
            times[size], _ = best(
                repeat_for(size, repeat), lambda t=ticket: client.do_get(t).read_all()
            )
        client.close()
    return times


def measure(args, sizes: list[int], repeat: int) -> dict:
    port = free_port()
    # A value's puts are all kept until its gets are timed: the warm-up and its transfers.
    store = f"{max((repeat_for(size, repeat) + 2) * size for size in sizes) + (512 << 20)}"
    flags = ["--meta=local", "--rpc=true", f"--rpc_socket_port={port}", "--reserve_memory=false"]
    rows = []
    with running_server(store, *flags, command=server_command(args), check_stop=False):
        client = vineyard.connect("127.0.0.1", port)
        for size in sizes:
            array = np.random.default_rng(size).random(size // 8)
            table = make_table(size, seed=size)
            row = {"size": size}
            transfers = repeat_for(size, repeat)
            row["numpy"] = measure_value(client, array, array.nbytes, transfers)
            row["table"] = measure_value(client, table, table.nbytes, transfers)
            rows.append(row)
            del array, table
        small = small_rates(client)
    return {"rows": rows, "small": small}


def print_results(label: str, results: dict, repeat: int) -> None:
    print(f"Remote put/get, {label}, best of {repeat} (GB/s = 10^9 bytes/s)")
    print(
        f"{'size':>8} | {'numpy put':>9} {'get':>7} | {'table put':>9} {'get':>7} | flight do_get"
    )
    for row in results["rows"]:
        line = f"{row['size'] / (1 << 20):>6g}Mi |"
        for kind in ("numpy", "table"):
            figures = row[kind]
            put = figures["nbytes"] / figures["put"] / 1e9
            get = figures["nbytes"] / figures["get"] / 1e9
            line += f" {put:>9.2f} {get:>7.2f} |"
        if "flight_do_get" in row:
            line += f" {row['table']['nbytes'] / row['flight_do_get'] / 1e9:>7.2f}"
        print(line)
    small = results["small"]
    print(f"small objects: {small['put_per_s']:.0f} puts/s, {small['get_per_s']:.0f} gets/s")


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--sizes", help="value sizes (default 16Mi,256Mi,1Gi; quick 1Mi,16Mi)")
    arguments.add_argument("--repeat", type=int, help="transfers per size (default 3, quick 2)")
    arguments.add_argument(
        "--no-baselines", action="store_true", help="skip pyarrow Flight's own do_get"
    )
    args = arguments.parse_args()
    sizes = [
        parse_size(text)
        for text in (args.sizes or ("1Mi,16Mi" if args.quick else "16Mi,256Mi,1Gi")).split(",")
    ]
    repeat = args.repeat or (2 if args.quick else 3)
    stop_on_sigterm()
    results = measure(args, sizes, repeat)
    if not args.no_baselines:
        reference = flight_get(sizes, repeat)
        for row in results["rows"]:
            row["flight_do_get"] = reference[row["size"]]
    print_results(args.label, results, repeat)
    write_json(args.json, "remote", args, {"repeat": repeat, **results})


if __name__ == "__main__":
    main()
