"""Metadata operations per second, with local metadata and with etcd, and the delay from a
persist on one instance until another instance sees it.

    python python/benchmarks/bench_meta.py [--quick] [--json PATH] [--server-cmd CMD] \
        [--etcd PATH/TO/etcd]

- local: one instance with `--meta local`: `create_metadata` of `--count` small objects (a
  typename and one field, no members), then `persist` of each, one at a time;
- etcd (with `--etcd`, the etcd program: a fresh etcd on free loopback ports is started and
  stopped again): the same on the first of two instances started with `--meta etcd`, then
  `--rounds` times: a second process blocks in `get_name(name, wait=True)` on the second
  instance while the first persists a new object and names it; the delay is from the return
  of `persist` to the return of `get_name` (clock times compared across the processes).
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time

import vineyard
from common import duration, parser, server_command, write_json
from servers import etcd, instance, now, settle, stop_on_sigterm

INSTANCE_SIZE = "256Mi"
WAIT_TIMEOUT = 30.0


def new_object(client, index: int):
    """Creates a small object (metadata only) and returns its id."""
    meta = vineyard.ObjectMeta()
    meta["typename"] = "bench::Object"
    meta["index"] = index
    return client.create_metadata(meta).id


def rates(client, count: int) -> dict[str, float]:
    """`create_metadata` and `persist` per second (after a short warm-up)."""
    for index in range(count // 10):
        client.persist(new_object(client, index))
    started = time.perf_counter()
    ids = [new_object(client, index) for index in range(count)]
    created = time.perf_counter()
    for object_id in ids:
        client.persist(object_id)
    persisted = time.perf_counter()
    return {
        "create_per_s": count / (created - started),
        "persist_per_s": count / (persisted - created),
    }


def wait_for_names(socket: str, connection) -> None:
    """The second process: for each name received, waits until it is visible on the
    instance at `socket` and answers with the clock time at which it was."""
    client = vineyard.connect(socket)
    while (name := connection.recv()) is not None:
        client.get_name(name, wait=True)
        connection.send(now())
    client.close()


def visibility(first, second_socket: str, rounds: int) -> list[float]:
    """Seconds from a persist on `first` until a name for it resolves on the other instance."""
    context = multiprocessing.get_context("spawn")
    connection, theirs = context.Pipe()
    waiter = context.Process(target=wait_for_names, args=(second_socket, theirs), daemon=True)
    waiter.start()
    delays = []
    try:
        for index in range(rounds):
            name = f"bench-visible-{os.getpid()}-{index}"
            object_id = new_object(first, index)
            connection.send(name)
            time.sleep(0.002)  # the waiter is blocked in get_name by now
            first.persist(object_id)
            published = now()
            first.put_name(object_id, name)
            if not connection.poll(WAIT_TIMEOUT):
                raise TimeoutError(f"`{name}` not visible on the other instance after 30 s")
            delays.append(connection.recv() - published)
        connection.send(None)
        waiter.join(timeout=10)
    finally:
        if waiter.is_alive():
            waiter.kill()
            waiter.join()
    return delays


def wait_for_instances(client, count: int) -> None:
    """Waits until `client.meta` lists `count` instances (both have joined the cluster)."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while len(client.meta) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the cluster never had {count} instances")
        time.sleep(0.01)


def with_etcd(command: list[str], program: str, count: int, rounds: int) -> dict:
    """Rates on the first of two instances sharing a fresh etcd, and the visibility delays."""
    with etcd(program) as endpoint:
        flags = {"size": INSTANCE_SIZE, "meta": "etcd", "etcd_endpoint": endpoint}
        flags["etcd_prefix"] = f"bench-{os.getpid()}"
        with instance(command, **flags) as one, instance(command, **flags) as two:
            settle(one.process.pid)
            settle(two.process.pid)
            client = vineyard.connect(one.socket)
            wait_for_instances(client, 2)
            results = rates(client, count)
            results["visible_delays"] = visibility(client, two.socket, rounds)
            client.close()
    return results


def main() -> None:
    """Runs the measurements, prints them and writes `--json`."""
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--etcd", help="the etcd program (without it: local metadata only)")
    arguments.add_argument("--count", type=int, help="objects to create and persist")
    arguments.add_argument("--rounds", type=int, help="persist-to-visible rounds")
    args = arguments.parse_args()
    count = args.count or (300 if args.quick else 2000)
    rounds = args.rounds or (30 if args.quick else 200)
    stop_on_sigterm()
    command = server_command(args)
    with instance(command, size=INSTANCE_SIZE) as local:
        settle(local.process.pid)
        client = vineyard.connect(local.socket)
        results = {"count": count, "local": rates(client, count)}
        client.close()
    if args.etcd:
        try:
            results["etcd"] = with_etcd(command, args.etcd, count, rounds)
        except Exception as error:  # recorded: the local figures still count
            results["etcd_error"] = f"{type(error).__name__}: {error}"
            print(f"etcd part failed: {results['etcd_error']}")

    print(f"{args.label}: {args.server_cmd}")
    for meta in ("local", "etcd"):
        if meta in results:
            figures = results[meta]
            print(
                f"{meta}: create_metadata {figures['create_per_s']:,.0f}/s, "
                f"persist {figures['persist_per_s']:,.0f}/s"
            )
    if "etcd" in results:
        delays = sorted(results["etcd"]["visible_delays"])
        p99 = delays[int((len(delays) - 1) * 0.99)]
        print(f"persist to visible: p50 {duration(statistics.median(delays))}, p99 {duration(p99)}")
    write_json(args.json, "meta", args, results)


if __name__ == "__main__":
    main()
