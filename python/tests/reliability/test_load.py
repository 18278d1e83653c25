"""Load: 64 concurrent clients (16 processes × 4 threads, each thread with its own connection)
put, get and delete numpy arrays and bytes for a bounded time, checking every value; also read
shared reference arrays. Zero errors, zero wrong values, and the memory in use is back to the
baseline once every client has deleted what it put.

`VINEYARD_LOAD_SECONDS` changes the duration (default 15 s)."""

from __future__ import annotations

import json
import os
import time

import vineyard
from stress import ChildClient, memory_usage, record, reference_array, wait_for_memory
from support import running_server

PROCESSES = 16
THREADS = 4
SECONDS = float(os.environ.get("VINEYARD_LOAD_SECONDS", "15"))


def test_sixty_four_clients_put_get_delete():
    with running_server("1Gi", "--meta", "local") as server:
        client = vineyard.connect(server.socket)
        baseline = memory_usage(client)
        references = [(length, factor) for length, factor in [(10, 1), (65_536, 2), (500_000, 3)]]
        specs = [f"{client.put(reference_array(*key))}:{key[0]}:{key[1]}" for key in references]
        with_references = memory_usage(client)
        started = time.monotonic()
        workers = [
            ChildClient("load", server.socket, seed, SECONDS, THREADS, *specs)
            for seed in range(PROCESSES)
        ]
        tallies = []
        failures = []
        for worker in workers:
            status, stdout, stderr = worker.communicate(timeout=SECONDS + 60)
            if status != 0:
                failures.append(f"worker exited with {status}: {stderr[-2000:]}")
                continue
            tallies.extend(json.loads(stdout))
        elapsed = time.monotonic() - started
        assert not failures, failures
        assert len(tallies) == PROCESSES * THREADS
        ops = sum(tally["ops"] for tally in tallies)
        errors = sum(tally["errors"] for tally in tallies)
        wrong = sum(tally["wrong"] for tally in tallies)
        messages = [message for tally in tallies for message in tally["messages"]]
        settle = wait_for_memory(client, with_references)
        status = client.status
        client.delete([spec.split(":")[0] for spec in specs])
        wait_for_memory(client, baseline)
        record(
            "load",
            clients=len(tallies),
            processes=PROCESSES,
            threads_per_process=THREADS,
            seconds=round(elapsed, 1),
            operations=ops,
            operations_per_s=round(ops / elapsed),
            bytes_put=sum(tally["bytes_put"] for tally in tallies),
            errors=errors,
            wrong_values=wrong,
            settle_s=round(settle, 3),
            bytes_leaked=memory_usage(client) - baseline,
        )
        assert errors == 0, messages[:10]
        assert wrong == 0
        assert ops > len(tallies) * 10, "the clients hardly ran"
        assert status.ipc_connections >= 1
        client.close()
