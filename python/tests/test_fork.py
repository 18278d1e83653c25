"""A client used after os.fork(): the child gets a clear error, and `fork()` a fresh client."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest
import vineyard


def run_in_child(function) -> tuple[int, str]:
    """Runs `function()` in a forked child; returns its exit status and what it wrote."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        code = 0
        try:
            message = function()
        except BaseException as error:  # report everything to the parent
            message = f"{type(error).__name__}: {error}"
            code = 1
        os.write(write_end, message.encode())
        os.close(write_end)
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), message


def test_parent_client_in_child_fails_clearly(client):
    object_id = client.put("shared")

    def use_parent_client():
        try:
            client.get(object_id)
        except vineyard.ConnectionErrorException as error:
            return f"refused: {error}"
        return "worked"

    code, message = run_in_child(use_parent_client)
    assert code == 0, message
    assert message.startswith("refused:") and "fork" in message
    assert client.get(object_id) == "shared"  # the parent's connection is untouched


def test_forked_client_works_in_child(client):
    object_id = client.put(np.arange(10))

    def use_fresh_client():
        fresh = client.fork()
        value = fresh.get(object_id)
        new_id = fresh.put("from child")
        fresh.persist(new_id)
        return f"{int(value.sum())} {new_id}"

    code, message = run_in_child(use_fresh_client)
    assert code == 0, message
    total, new_id = message.split()
    assert total == "45"
    assert client.get(vineyard.ObjectID(new_id)) == "from child"


def test_default_client_reconnects_after_fork(vineyard_socket, monkeypatch):
    monkeypatch.setenv("VINEYARD_IPC_SOCKET", vineyard_socket)
    monkeypatch.setattr(vineyard, "_default_client", None)
    object_id = vineyard.put("default")

    code, message = run_in_child(lambda: vineyard.get(object_id))
    assert code == 0, message
    assert message == "default"


def _worker(socket, object_id, queue):
    with vineyard.connect(socket) as client:
        queue.put(int(client.get(vineyard.ObjectID(object_id)).sum()))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_workers(client, vineyard_socket, method):
    object_id = client.put(np.ones(1000))
    context = multiprocessing.get_context(method)
    queue = context.Queue()
    workers = [
        context.Process(target=_worker, args=(vineyard_socket, str(object_id), queue))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert results == [1000, 1000]
