"""put/get time of vineyard for numpy arrays, bytes and pyarrow tables, beside memcpy,
multiprocessing.shared_memory and pickle protocol 5.

    python python/benchmarks/bench_put_get.py [--quick] [--json PATH]
    .venv/interop/bin/python python/benchmarks/bench_put_get.py --no-baselines \
        --server-cmd .venv/interop/lib/python3.11/site-packages/vineyard/bdist/vineyardd

Starts an instance (`--server-cmd` plus `--size 3Gi --meta local`; `--socket` uses a running
one instead), waits until its memory has settled, and measures, per kind and size (1 KiB to
1 GiB, `--quick`: up to 16 MiB), the median of several repetitions of:
- vineyard: `client.put(value)`, `client.get(id)` in this process, and `client.get(id)` in a
  second process that is already connected: once, right after it was idle (woken by the pipe),
  and back to back (after one more untimed `get`, the median of `get`s of the same object
  repeated there);
- pickle protocol 5: `dumps` and `loads` in band (one copy each), and a transfer to the second
  process out of band (the header and the buffers through a pipe, `loads` there);
- per size, on a uint8 array of that many bytes (not with `--no-baselines`): memcpy
  (`numpy.copyto` into touched memory), memcpy into new pages (a fresh anonymous mmap), and
  `SharedMemory(create=True)` plus a copy in, then attaching it in the second process; and
  the floor of any call there right after the same idle: `numpy.frombuffer` of 64 bytes.
Then small objects: puts and gets per second of small ints and of 16-byte `bytes`.
"""

from __future__ import annotations

import mmap
import multiprocessing
import pickle
import statistics
import sys
import time
from multiprocessing import shared_memory

import numpy as np
import vineyard
from common import (
    KINDS,
    MIB,
    QUICK_SIZES,
    SIZES,
    duration,
    human,
    make_value,
    parser,
    server_command,
    write_json,
)
from servers import instance, now, settle, stop_on_sigterm


def back_to_back(kind: str, size: int) -> int:
    """How many gets the second process repeats per object (fewer of large copies: `bytes`)."""
    return 5 if kind == "bytes" and size > MIB else 20


def repetitions(size: int, quick: bool) -> int:
    """How often each operation is timed at `size`."""
    if size >= 256 * MIB:
        return 3
    if size >= 16 * MIB:
        return 5 if quick else 10
    return 50 if quick else 200


# -- the second process ---------------------------------------------------------------------


# What the second process views for the floor measurement.
FLOOR_BYTES = bytes(64)


def serve_requests(socket: str, connection) -> None:
    """The second process: answers `get`, `attach` and `pickle` requests with the seconds they
    took (`pickle`: with the clock time at which the value was loaded)."""
    client = vineyard.connect(socket)
    while True:
        request = connection.recv()
        if request[0] == "stop":
            break
        if request[0] == "get":
            started = time.perf_counter()
            value = client.get(request[1])
            elapsed = time.perf_counter() - started
            del value
            connection.send(elapsed)
        elif request[0] == "get_repeated":
            client.get(request[1])  # untimed: the first get after idling is timed as "get"
            times = []
            for _ in range(request[2]):
                started = time.perf_counter()
                value = client.get(request[1])
                times.append(time.perf_counter() - started)
                del value
            connection.send(statistics.median(times))
        elif request[0] == "floor":
            started = time.perf_counter()
            value = np.frombuffer(FLOOR_BYTES, dtype=np.uint8)
            elapsed = time.perf_counter() - started
            del value
            connection.send(elapsed)
        elif request[0] == "attach":
            started = time.perf_counter()
            memory = shared_memory.SharedMemory(name=request[1])
            value = np.ndarray((request[2],), dtype=np.uint8, buffer=memory.buf)
            elapsed = time.perf_counter() - started
            del value
            memory.close()
            connection.send(elapsed)
        elif request[0] == "pickle":
            header = connection.recv_bytes()
            buffers = [connection.recv_bytes() for _ in range(request[1])]
            value = pickle.loads(header, buffers=buffers)
            loaded = now()
            del value, header, buffers
            connection.send(loaded)
    client.close()


class SecondProcess:
    """A second process connected to the same instance, driven through a pipe."""

    def __init__(self, socket: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, theirs = context.Pipe()
        self.process = context.Process(target=serve_requests, args=(socket, theirs), daemon=True)
        self.process.start()

    def ask(self, *request) -> float:
        """Sends a request; returns its answer."""
        self.connection.send(request)
        return self.connection.recv()

    def transfer(self, value) -> float:
        """Seconds from pickling `value` here until it is loaded in the second process."""
        started = now()
        buffers = []
        header = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
        self.connection.send(("pickle", len(buffers)))
        self.connection.send_bytes(header)
        for buffer in buffers:
            self.connection.send_bytes(buffer.raw())
        return self.connection.recv() - started

    def stop(self) -> None:
        """Asks the process to exit and waits for it (kills it if it does not)."""
        try:
            self.connection.send(("stop",))
            self.process.join(timeout=30)
        finally:
            if self.process.is_alive():
                self.process.kill()
                self.process.join()


# -- measurements -------------------------------------------------------------------------------


def timed(function, *args) -> tuple[float, object]:
    """Seconds `function(*args)` took, and its result."""
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def measure_vineyard(client, second: SecondProcess, value, count: int, repeats: int) -> dict:
    """Medians of put, get here and get in the second process (once, and back to back)."""
    puts, gets, remote_gets, repeated = [], [], [], []
    returned = None
    for _ in range(count):
        elapsed, object_id = timed(client.put, value)
        puts.append(elapsed)
        elapsed, result = timed(client.get, object_id)
        gets.append(elapsed)
        returned = type(result).__name__
        del result
        remote_gets.append(second.ask("get", object_id))
        repeated.append(second.ask("get_repeated", object_id, repeats))
        client.delete(object_id)
    return {
        "put": statistics.median(puts),
        "get": statistics.median(gets),
        "remote_get": statistics.median(remote_gets),
        "remote_get_repeated": statistics.median(repeated),
        "get_returns": returned,
    }


def measure_pickle(second: SecondProcess, value, count: int) -> dict:
    """Medians of pickle protocol 5: dumps and loads in band, and out of band to the second
    process."""
    dumps, loads, transfers = [], [], []
    for _ in range(count):
        elapsed, data = timed(pickle.dumps, value, 5)
        dumps.append(elapsed)
        elapsed, result = timed(pickle.loads, data)
        loads.append(elapsed)
        del result, data
        transfers.append(second.transfer(value))
    return {
        "pickle_dumps": statistics.median(dumps),
        "pickle_loads": statistics.median(loads),
        "pickle_transfer": statistics.median(transfers),
    }


def copy_to_new_pages(source: np.ndarray) -> float:
    """Seconds of a copy of `source` into a new anonymous mapping (every page faults)."""
    started = time.perf_counter()
    region = mmap.mmap(-1, source.nbytes)
    target = np.frombuffer(region, dtype=np.uint8)
    target[:] = source
    elapsed = time.perf_counter() - started
    del target
    region.close()
    return elapsed


def measure_copies(second: SecondProcess, size: int, count: int) -> dict:
    """Medians of memcpy (into touched memory and into new pages) and of shared_memory
    create+copy and attach, for `size` bytes."""
    source = np.frombuffer(np.random.default_rng(size).bytes(size), dtype=np.uint8)
    target = np.ones_like(source)  # touched: copying into it is a plain memcpy
    warm, fresh, creates, attaches, floors = [], [], [], [], []
    for _ in range(count):
        warm.append(timed(np.copyto, target, source)[0])
        fresh.append(copy_to_new_pages(source))
        started = time.perf_counter()
        memory = shared_memory.SharedMemory(create=True, size=size)
        np.ndarray((size,), dtype=np.uint8, buffer=memory.buf)[:] = source
        creates.append(time.perf_counter() - started)
        floors.append(second.ask("floor"))
        try:
            attaches.append(second.ask("attach", memory.name, size))
        finally:
            memory.close()
            memory.unlink()
    return {
        "size": size,
        "memcpy": statistics.median(warm),
        "memcpy_fresh": statistics.median(fresh),
        "shm_create": statistics.median(creates),
        "shm_attach": statistics.median(attaches),
        "idle_floor": statistics.median(floors),
    }


def small_objects(client, count: int) -> dict[str, float]:
    """Puts and gets per second of small ints and of 16-byte `bytes`."""
    rates = {}
    for label, values in (("int", list(range(count))), ("bytes[16]", [b"x" * 16] * count)):
        started = time.perf_counter()
        ids = [client.put(value) for value in values]
        rates[f"put {label}"] = count / (time.perf_counter() - started)
        started = time.perf_counter()
        for object_id in ids:
            client.get(object_id)
        rates[f"get {label}"] = count / (time.perf_counter() - started)
        client.delete(ids)
    return rates


def run(socket: str, args) -> dict:
    """All measurements against the instance at `socket`."""
    client = vineyard.connect(socket)
    second = SecondProcess(socket)
    try:
        second.ask("get", client.put(np.zeros(1)))  # maps the shared memory once
        rows, copies = [], []
        for size in QUICK_SIZES if args.quick else SIZES:
            count = repetitions(size, args.quick)
            for kind in KINDS:
                value = make_value(kind, size)
                row = {
                    "kind": kind,
                    "size": size,
                    **measure_vineyard(client, second, value, count, back_to_back(kind, size)),
                }
                if not args.no_baselines:
                    row.update(measure_pickle(second, value, count))
                rows.append(row)
                del value
            if not args.no_baselines:
                copies.append(measure_copies(second, size, count))
        small = small_objects(client, args.small)
    finally:
        second.stop()
    client.close()
    return {"rows": rows, "copies": copies, "small": small}


# -- output -------------------------------------------------------------------------------------


def print_results(results: dict) -> None:
    """The results as plain-text tables."""
    columns = [
        ("put", "put"),
        ("get", "get"),
        ("get 2nd proc", "remote_get"),
        ("2nd, repeated", "remote_get_repeated"),
        ("pickle dumps", "pickle_dumps"),
        ("pickle loads", "pickle_loads"),
        ("pickle to 2nd", "pickle_transfer"),
    ]
    print(f"{'value':<6} {'size':>8} " + " ".join(f"{title:>13}" for title, _ in columns))
    for row in results["rows"]:
        cells = [duration(row[key]) if key in row else "-" for _, key in columns]
        print(f"{row['kind']:<6} {human(row['size']):>8} " + " ".join(f"{c:>13}" for c in cells))
    if results["copies"]:
        print()
        titles = ("memcpy", "memcpy new pages", "shm create+copy", "shm attach", "idle floor")
        keys = ("memcpy", "memcpy_fresh", "shm_create", "shm_attach", "idle_floor")
        print(f"{'size':>8} " + " ".join(f"{title:>15}" for title in titles))
        for row in results["copies"]:
            cells = [duration(row[key]) for key in keys]
            print(f"{human(row['size']):>8} " + " ".join(f"{cell:>15}" for cell in cells))
    print()
    for label, rate in results["small"].items():
        print(f"small objects: {label:<16} {rate:>10,.0f} per second")


def main() -> None:
    """Runs the benchmark, prints it and writes `--json`."""
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--socket", help="a running instance (default: start one)")
    arguments.add_argument("--size", default="3Gi", help="--size of the instance started")
    arguments.add_argument("--small", type=int, default=20000, help="small objects to put")
    arguments.add_argument(
        "--no-baselines", action="store_true", help="skip memcpy, shared_memory and pickle"
    )
    args = arguments.parse_args()
    if args.quick:
        args.small = min(args.small, 5000)
    stop_on_sigterm()
    if args.socket:
        results = run(args.socket, args)
    else:
        with instance(server_command(args), size=args.size) as server:
            settle(server.process.pid)
            results = run(server.socket, args)
    print(f"{args.label}: vineyard {vineyard.__version__}, Python {sys.version.split()[0]}\n")
    print_results(results)
    write_json(args.json, "put_get", args, results)


if __name__ == "__main__":
    main()
