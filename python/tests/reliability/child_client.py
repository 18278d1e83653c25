"""Client processes for the reliability suite: `python child_client.py ROLE SOCKET ARGS...`.

Roles that are meant to be killed print `ready ...` once they hold what the test wants to see
released, then sleep; `load` runs for a while and prints its tally as JSON.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time

import numpy as np
import vineyard


def sleep_forever() -> None:
    while True:
        time.sleep(60)


def announce(*words: object) -> None:
    print("ready", *words, flush=True)


def parse_references(specs: list[str]) -> list[tuple[vineyard.ObjectID, int, int]]:
    """`id:length:factor` triples naming arrays `arange(length) * factor` the parent put."""
    references = []
    for spec in specs:
        text, length, factor = spec.split(":")
        references.append((vineyard.ObjectID(text), int(length), int(factor)))
    return references


def check_reference(client, reference) -> np.ndarray:
    object_id, length, factor = reference
    array = client.get(object_id)
    expected = factor * length * (length - 1) // 2
    if array.shape != (length,) or int(array.sum()) != expected:
        raise AssertionError(f"reference {object_id} reads wrong: {array[:4]}...")
    return array


def create_unsealed(socket: str, size: str, count: str) -> None:
    """Creates `count` blobs of `size` bytes, writes half of each, never seals them."""
    client = vineyard.connect(socket)
    builders = []
    for index in range(int(count)):
        builder = client.create_blob(int(size))
        view = memoryview(builder)
        view[: len(view) // 2] = bytes([index % 251 + 1]) * (len(view) // 2)
        builders.append((builder, view))
    announce(" ".join(str(builder.id) for builder, _ in builders))
    sleep_forever()


def hold_views(socket: str, *specs: str) -> None:
    """Gets the reference arrays (numpy views of shared memory) and blob views; holds them."""
    client = vineyard.connect(socket)
    held = []
    for reference in parse_references(list(specs)):
        array = check_reference(client, reference)
        blob = client.get_blob(client.get_meta(reference[0])["buffer_"].id)
        held.append((array, memoryview(blob)))
    announce(len(held))
    sleep_forever()


def churn(socket: str, seed: str, *specs: str) -> None:
    """Random work until killed: unsealed and sealed blobs, puts, gets of the parent's
    references (checked), deletes; announces itself after the first round."""
    rng = random.Random(int(seed))
    client = vineyard.connect(socket)
    references = parse_references(list(specs))
    held: list[object] = []
    mine: list[vineyard.ObjectID] = []
    announced = False
    while True:
        action = rng.randrange(6)
        if len(mine) > 32:
            action = 4  # bounded: a killed churner leaves at most 33 objects behind
        if action == 0:
            builder = client.create_blob(rng.randrange(1, 256 << 10))
            view = memoryview(builder)
            view[: len(view) // 2] = b"\x5a" * (len(view) // 2)
            held.append((builder, view))
        elif action == 1:
            builder = client.create_blob(rng.randrange(1, 64 << 10))
            memoryview(builder)[:] = b"\xa5" * len(builder)
            mine.append(builder.seal())
        elif action == 2:
            mine.append(client.put(np.full(rng.randrange(1, 32 << 10), 7, dtype=np.int32)))
        elif action == 3 and references:
            held.append(check_reference(client, rng.choice(references)))
        elif action == 4 and mine:
            client.delete(mine.pop(rng.randrange(len(mine))))
        elif action == 5 or len(held) > 8:
            held.clear()
        if not announced:
            announce()
            announced = True


KEPT_PER_THREAD = 16


def load(socket: str, seed: str, seconds: str, threads: str, *specs: str) -> None:
    """`threads` threads, each with its own connection (half by `fork()`, half by `connect`),
    put/get/delete numpy arrays and bytes for `seconds`, checking every value; prints the
    tally. Every thread deletes what it put before it stops."""
    references = parse_references(list(specs))
    base = vineyard.connect(socket)
    deadline = time.monotonic() + float(seconds)
    tallies = []
    lock = threading.Lock()

    def work(index: int) -> None:
        rng = np.random.default_rng([int(seed), index])
        client = base.fork() if index % 2 else vineyard.connect(socket)
        tally = {"ops": 0, "errors": 0, "wrong": 0, "bytes_put": 0, "messages": []}
        kept: dict[vineyard.ObjectID, object] = {}
        while time.monotonic() < deadline:
            try:
                roll = rng.integers(10)
                if len(kept) >= KEPT_PER_THREAD:
                    roll = 9  # delete: bounded memory (64 × 16 × 512 KiB at most)
                if roll < 3:
                    value = rng.standard_normal(int(rng.integers(1, 64 << 10)))
                    kept[client.put(value)] = value
                    tally["bytes_put"] += value.nbytes
                elif roll < 5:
                    value = rng.bytes(int(rng.integers(1, 256 << 10)))
                    kept[client.put(value)] = value
                    tally["bytes_put"] += len(value)
                elif roll < 7 and kept:
                    object_id = list(kept)[int(rng.integers(len(kept)))]
                    expected = kept[object_id]
                    got = client.get(object_id)
                    if isinstance(expected, bytes):
                        same = bytes(got) == expected
                    else:
                        same = np.array_equal(got, expected)
                    tally["wrong"] += not same
                elif roll < 8 and references:
                    check_reference(client, references[int(rng.integers(len(references)))])
                elif kept:
                    object_id = list(kept)[int(rng.integers(len(kept)))]
                    client.delete(object_id)
                    del kept[object_id]
                    if client.exists(object_id):
                        tally["wrong"] += 1
                tally["ops"] += 1
            except Exception as error:  # count everything: the test wants zero
                tally["errors"] += 1
                tally["messages"].append(f"{type(error).__name__}: {error}"[:300])
        try:
            client.delete(list(kept))
        except Exception as error:
            tally["errors"] += 1
            tally["messages"].append(f"final delete: {type(error).__name__}: {error}"[:300])
        client.close()
        with lock:
            tallies.append(tally)

    workers = [threading.Thread(target=work, args=(index,)) for index in range(int(threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps(tallies), flush=True)


ROLES = {
    "create-unsealed": create_unsealed,
    "hold-views": hold_views,
    "churn": churn,
    "load": load,
}

if __name__ == "__main__":
    role, *arguments = sys.argv[1:]
    ROLES[role](*arguments)
