"""`get` reads the server's metadata index without asking the server. Reader processes get
the newest array while this process keeps putting arrays and deleting the previous one in a
store so small that memory is reused at once: every view a reader holds must keep its own
values, and once the readers are gone every byte is freed."""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
import vineyard
from stress import record
from support import spawn_server, wait_until

ROUNDS = 1500
ELEMENTS = 32 * 1024  # 256 KiB of float64
READERS = 2
KEPT = 3


def read_newest(socket: str, newest, stop, results) -> None:
    """Gets the newest array over and over, keeping a few views a while; reports how many
    views it checked and how many had changed under it."""
    client = vineyard.connect(socket)
    kept: list[np.ndarray] = []
    checked = changed = 0
    while not stop.is_set():
        try:
            array = client.get(vineyard.ObjectID(newest.value))
        except vineyard.ObjectNotExistsException:
            continue  # deleted meanwhile
        kept.append(array)
        if len(kept) > KEPT:
            oldest = kept.pop(0)
            checked += 1
            changed += int(not (oldest == oldest[0]).all())
    client.close()
    results.put((checked, changed))


def test_views_from_the_index_survive_a_writer_reusing_memory(tmp_path):
    server = spawn_server(str(tmp_path), "4Mi", "--meta", "local")
    try:
        writer = vineyard.connect(server.socket)
        baseline = writer.status.memory_usage
        context = multiprocessing.get_context("fork")
        first = writer.put(np.full(ELEMENTS, 1.0))
        newest, stop, results = context.Value("Q", int(first)), context.Event(), context.Queue()
        readers = [
            context.Process(target=read_newest, args=(server.socket, newest, stop, results))
            for _ in range(READERS)
        ]
        for reader in readers:
            reader.start()
        started = time.monotonic()
        previous = first
        for round_number in range(2, ROUNDS + 2):
            current = writer.put(np.full(ELEMENTS, float(round_number)))
            newest.value = int(current)
            writer.delete(previous)
            previous = current
        took = time.monotonic() - started
        stop.set()
        outcomes = [results.get(timeout=30) for _ in readers]
        for reader in readers:
            reader.join(timeout=30)
            assert reader.exitcode == 0
        checked = sum(count for count, _ in outcomes)
        changed = sum(count for _, count in outcomes)
        assert checked > 0, "no reader kept a view long enough to check it"
        assert changed == 0, f"{changed} of {checked} views changed under their reader"
        writer.delete(previous)
        wait_until("all memory freed", lambda: writer.status.memory_usage == baseline)
        record("index_churn", rounds=ROUNDS, views_checked=checked, seconds=round(took, 3))
        writer.close()
    finally:
        assert server.stop() == 0, server.output()
