"""put/get throughput and latency of vineyard, beside memcpy and multiprocessing.shared_memory.

    python benchmarks/bench_put_get.py                 # starts its own instance (--size 3Gi)
    python benchmarks/bench_put_get.py --quick         # sizes up to 16 MiB, fewer repetitions
    python benchmarks/bench_put_get.py --socket PATH   # use a running instance

Measured, per size (1 KiB to 1 GiB):
- put: `client.put(value)` for numpy float64 arrays and for bytes (the first put into fresh
  memory, and the median of the following ones);
- get: `client.get(id)` in this process, and in a second process that is already connected
  (the view of an array; bytes are copied out, as `bytes` must be);
- memcpy: `numpy.copy()` of the same array (allocation and first touch included), and
  `numpy.copyto()` into an array already touched (a plain memcpy); `memcpy/put` is the put
  speed relative to the latter;
- shared_memory: `SharedMemory(create=True)` plus a copy in, and attaching it (plus a numpy
  view) in the second process.
Then small objects: puts and gets per second of small ints and short bytes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import shared_memory

import numpy as np
import vineyard

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30
SIZES = [KIB, 64 * KIB, MIB, 16 * MIB, 256 * MIB, GIB]
QUICK_SIZES = [KIB, 64 * KIB, MIB, 16 * MIB]


def human(size: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} B"


def duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def repetitions(size: int, quick: bool) -> int:
    if size >= 256 * MIB:
        return 3
    if size >= 16 * MIB:
        return 5 if quick else 10
    return 50 if quick else 200


# -- the second process ---------------------------------------------------------------------


def reader(socket: str, connection) -> None:
    """Answers ('get', id) and ('attach', name, size) with the seconds each took."""
    client = vineyard.connect(socket)
    while True:
        request = connection.recv()
        if request[0] == "stop":
            break
        if request[0] == "get":
            object_id = vineyard.ObjectID(request[1])
            started = time.perf_counter()
            value = client.get(object_id)
            elapsed = time.perf_counter() - started
            del value
            connection.send(elapsed)
        elif request[0] == "attach":
            started = time.perf_counter()
            memory = shared_memory.SharedMemory(name=request[1])
            array = np.ndarray((request[2],), dtype=np.uint8, buffer=memory.buf)
            elapsed = time.perf_counter() - started
            del array
            memory.close()
            connection.send(elapsed)
    client.close()


class Reader:
    def __init__(self, socket: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, theirs = context.Pipe()
        self.process = context.Process(target=reader, args=(socket, theirs), daemon=True)
        self.process.start()

    def ask(self, *request) -> float:
        self.connection.send(request)
        return self.connection.recv()

    def stop(self) -> None:
        self.connection.send(("stop",))
        self.process.join(timeout=30)


# -- measurements -------------------------------------------------------------------------------


def measure_size(client, reader_process: Reader, size: int, kind: str, quick: bool) -> dict:
    count = repetitions(size, quick)
    if kind == "numpy":
        value = np.random.default_rng(size).random(size // 8)
    else:
        value = np.random.default_rng(size).bytes(size)
    puts, gets, remote_gets = [], [], []
    for _ in range(count):
        started = time.perf_counter()
        object_id = client.put(value)
        puts.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = client.get(object_id)
        gets.append(time.perf_counter() - started)
        del result
        remote_gets.append(reader_process.ask("get", str(object_id)))
        client.delete(object_id)
    row = {
        "kind": kind,
        "size": size,
        "put_first": puts[0],
        "put": statistics.median(puts[1:] or puts),
        "get": statistics.median(gets),
        "remote_get": statistics.median(remote_gets),
    }
    if kind == "numpy":
        copies, warm_copies, creates, attaches = [], [], [], []
        target = np.empty_like(value)
        target[:] = 0  # touched: copying into it is a plain memcpy
        for _ in range(count):
            started = time.perf_counter()
            copied = value.copy()
            copies.append(time.perf_counter() - started)
            del copied
            started = time.perf_counter()
            np.copyto(target, value)
            warm_copies.append(time.perf_counter() - started)
            started = time.perf_counter()
            memory = shared_memory.SharedMemory(create=True, size=size)
            np.ndarray(value.shape, dtype=value.dtype, buffer=memory.buf)[:] = value
            creates.append(time.perf_counter() - started)
            attaches.append(reader_process.ask("attach", memory.name, size))
            memory.close()
            memory.unlink()
        del target
        row.update(
            memcpy=statistics.median(copies),
            memcpy_warm=statistics.median(warm_copies),
            shm_create=statistics.median(creates),
            shm_attach=statistics.median(attaches),
        )
    return row


def small_objects(client, count: int) -> list[tuple[str, float]]:
    results = []
    for label, values in (("int", list(range(count))), ("bytes[16]", [b"x" * 16] * count)):
        started = time.perf_counter()
        ids = [client.put(value) for value in values]
        elapsed = time.perf_counter() - started
        results.append((f"put {label}", count / elapsed))
        started = time.perf_counter()
        for object_id in ids:
            client.get(object_id)
        elapsed = time.perf_counter() - started
        results.append((f"get {label}", count / elapsed))
        client.delete(ids)
    return results


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'value':<6} {'size':>8} | {'put (first)':>12} {'put':>10} {'GB/s':>6} "
        f"| {'get':>9} {'get 2nd proc':>12} | {'copy (new)':>10} {'copy (warm)':>11} "
        f"{'GB/s':>6} {'memcpy/put':>10} | {'shm create+copy':>15} {'shm attach':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        size = row["size"]
        line = (
            f"{row['kind']:<6} {human(size):>8} | {duration(row['put_first']):>12} "
            f"{duration(row['put']):>10} {size / row['put'] / 1e9:>6.2f} "
            f"| {duration(row['get']):>9} {duration(row['remote_get']):>12} |"
        )
        if "memcpy" in row:
            # put speed relative to a plain copy into touched memory (1.0: as fast as memcpy)
            ratio = row["memcpy_warm"] / row["put"]
            line += (
                f" {duration(row['memcpy']):>10} {duration(row['memcpy_warm']):>11} "
                f"{size / row['memcpy_warm'] / 1e9:>6.2f} {ratio:>10.2f} "
                f"| {duration(row['shm_create']):>15} {duration(row['shm_attach']):>10}"
            )
        print(line)


def start_instance(size: str) -> tuple[subprocess.Popen, str, str]:
    directory = tempfile.mkdtemp(prefix="vy-bench-")
    socket = os.path.join(directory, "vineyard.sock")
    # Local metadata: put/get never touch etcd, and no shared etcd is left running.
    command = [
        sys.executable, "-m", "vineyard", "--socket", socket, "--size", size, "--meta", "local",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not os.path.exists(socket):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"could not start `{' '.join(command)}`")
        time.sleep(0.01)
    return process, socket, directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", help="a running instance (default: start one)")
    parser.add_argument("--size", default="3Gi", help="--size of the instance started")
    parser.add_argument("--quick", action="store_true", help="sizes up to 16 MiB")
    parser.add_argument("--small", type=int, default=20000, help="small objects to put")
    args = parser.parse_args()

    process = directory = None
    socket = args.socket
    if socket is None:
        process, socket, directory = start_instance(args.size)
    try:
        client = vineyard.connect(socket)
        reader_process = Reader(socket)
        reader_process.ask("get", str(client.put(np.zeros(1))))  # maps the arena once
        rows = []
        for size in QUICK_SIZES if args.quick else SIZES:
            for kind in ("numpy", "bytes"):
                rows.append(measure_size(client, reader_process, size, kind, args.quick))
        print(
            f"vineyard {vineyard.__version__}, instance {socket}, Python {sys.version.split()[0]}"
        )
        print()
        print_table(rows)
        print()
        for label, rate in small_objects(client, args.small):
            print(f"small objects: {label:<16} {rate:>10,.0f} per second")
        reader_process.stop()
        client.close()
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            if directory:
                shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
