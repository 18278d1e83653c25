"""Server start-up time, the first put into a new instance, and the memory each small object
costs the server.

    python python/benchmarks/bench_server.py [--quick] [--json PATH] [--server-cmd CMD]

- start-up: from spawning `--server-cmd` with `--size 3Gi --meta local --rpc=false` until
  its socket accepts a connection, `--starts` times;
- first put: after each start, once the server's resident memory has stopped growing (ours
  faults its memory in at start-up), one `client.put` of a float64 array of 256 MiB (16 MiB
  with `--quick`): the first put into the instance's memory;
- memory per object: on one more instance, how much the server's resident memory (VmRSS, and
  RssAnon: its heap) and `status.memory_usage` (shared memory in use) grow per object while
  `--objects` small ints, then as many float64[8] arrays, are put and kept.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import vineyard
from common import MIB, duration, parser, server_command, write_json
from servers import instance, memory_of, settle, stop_on_sigterm

INSTANCE_SIZE = "3Gi"


def first_put(socket: str, size: int) -> float:
    """Seconds of one put of a float64 array of `size` bytes (client connected first)."""
    value = np.random.default_rng(size).random(size // 8)
    client = vineyard.connect(socket)
    started = time.perf_counter()
    client.put(value)
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def starts(command: list[str], count: int, put_size: int) -> dict:
    """Start-up times, and the first put after each start."""
    startups, puts = [], []
    for _ in range(count):
        with instance(command, size=INSTANCE_SIZE) as server:
            startups.append(server.startup)
            settle(server.process.pid)
            puts.append(first_put(server.socket, put_size))
    return {"startup": startups, "first_put": {"size": put_size, "times": puts}}


def snapshot(client, pid: int) -> dict[str, int]:
    """The server's resident memory and its shared memory in use."""
    return {**memory_of(pid), "usage": client.status.memory_usage}


def memory_per_object(command: list[str], objects: int) -> list[dict]:
    """Growth per object of the server's memory figures, for small ints and float64[8]."""
    makers = (("int", int), ("float64[8]", lambda index: np.full(8, float(index))))
    rows = []
    with instance(command, size=INSTANCE_SIZE) as server:
        settle(server.process.pid)
        client = vineyard.connect(server.socket)
        kept = []
        for kind, make in makers:
            before = snapshot(client, server.process.pid)
            kept += [client.put(make(index)) for index in range(objects)]
            time.sleep(0.5)
            after = snapshot(client, server.process.pid)
            growth = {key: (after[key] - before[key]) / objects for key in before}
            rows.append({"kind": kind, **growth})
        client.close()
    return rows


def main() -> None:
    """Runs the measurements, prints them and writes `--json`."""
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--starts", type=int, help="start-ups to time (default 5, quick 3)")
    arguments.add_argument("--objects", type=int, help="small objects to put (20000, quick 5000)")
    args = arguments.parse_args()
    count = args.starts or (3 if args.quick else 5)
    objects = args.objects or (5000 if args.quick else 20000)
    put_size = (16 if args.quick else 256) * MIB
    stop_on_sigterm()
    command = server_command(args)
    results = starts(command, count, put_size)
    results["memory"] = {"objects": objects, "rows": memory_per_object(command, objects)}

    print(f"{args.label}: {args.server_cmd}")
    print(f"start-up, median of {count}: {duration(statistics.median(results['startup']))}")
    first = statistics.median(results["first_put"]["times"])
    print(f"first put of {put_size // MIB} MiB, median of {count}: {duration(first)}")
    for row in results["memory"]["rows"]:
        figures = ", ".join(f"{key} {row[key]:,.0f} B" for key in ("VmRSS", "RssAnon", "usage"))
        print(f"per {row['kind']} object: {figures}")
    write_json(args.json, "server", args, results)


if __name__ == "__main__":
    main()
