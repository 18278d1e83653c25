"""Hostile or buggy clients: a stranger's ids on another client's buffers, more clients than
the server has file descriptors, metadata and requests past the limits. The server refuses
each with an error that says why, keeps serving, and its memory stays bounded."""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time

import numpy as np
import pytest
import vineyard
from stress import record
from support import running_server

MIB = 1 << 20


class RawClient:
    """Frames written by hand: what a buggy client (or one of another language) may send."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(path)
        reply = self.request({"type": "register_request", "version": "0.24.2", "store_type": 1})
        assert reply["type"] == "register_reply", reply

    def request(self, message: dict) -> dict:
        body = json.dumps(message).encode()
        self.sock.sendall(struct.pack("<Q", len(body)) + body)
        (length,) = struct.unpack("<Q", self._exactly(8))
        reply = json.loads(self._exactly(length))
        # Each fd the reply announces rides on one byte of its own: take (and drop) them.
        fds = reply.get("fds") or ([reply["fd"]] if reply.get("fd", -1) >= 0 else [])
        for _ in fds:
            self.sock.recvmsg(1, 64)
        return reply

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            assert chunk, "the server closed the connection"
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


def test_a_strangers_ids_cannot_touch_another_clients_buffers():
    with running_server("256Mi", "--meta", "local") as server:
        writer = vineyard.connect(server.socket)
        builders = [writer._native.create_blob(MIB) for _ in range(20)]
        stranger = RawClient(server.socket)
        refused = 0
        for builder in builders:
            blob = int(builder.id)
            for message in (
                {"type": "seal_request", "object_id": blob},
                {"type": "drop_buffer_request", "id": blob},
                {"type": "shrink_buffer_request", "id": blob, "size": 64},
                {"type": "del_data_request", "id": [blob]},
            ):
                reply = stranger.request(message)
                assert reply.get("code", 0) != 0, (message, reply)
                refused += 1
        # Others fill and seal blobs meanwhile: they must not get the writer's memory.
        bystander = vineyard.connect(server.socket)
        kept = [bystander.put(np.full(MIB // 8, index, dtype=np.int64)) for index in range(20)]
        for builder in builders:
            builder.copy(0, b"\xff" * MIB)
            builder.seal()
        changed = sum(
            not (bystander.get(object_id) == index).all() for index, object_id in enumerate(kept)
        )
        record(
            "hostile_foreign_buffers",
            stranger_requests=refused,
            refused=refused,
            sealed_values_changed=changed,
        )
        assert changed == 0
        stranger.close()


def server_cpu_seconds(pid: int) -> float:
    """User and system CPU time the process used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def test_clients_past_the_open_file_limit_are_refused_not_hung():
    command = ("prlimit", "--nofile=64:64", sys.executable, "-m", "vineyard")
    with running_server("64Mi", "--meta", "local", "--rpc", "false", command=command) as server:
        started_cpu = server_cpu_seconds(server.process.pid)
        started = time.monotonic()
        clients, refused, hung = [], [], 0
        for _ in range(120):
            outcome: dict = {}

            def connect(outcome: dict = outcome) -> None:
                try:
                    outcome["client"] = vineyard.connect(server.socket)
                    outcome["client"].status  # noqa: B018 (a round trip)
                except vineyard.VineyardException as error:
                    outcome["error"] = error

            thread = threading.Thread(target=connect, daemon=True)
            thread.start()
            thread.join(10)
            if thread.is_alive():
                hung += 1
            elif "client" in outcome:
                clients.append(outcome["client"])
            else:
                refused.append(outcome["error"])
        elapsed = time.monotonic() - started
        cpu = server_cpu_seconds(server.process.pid) - started_cpu
        told = sum("no file descriptors left" in str(error) for error in refused)
        for client in clients[: len(clients) // 2]:
            client.close()
        time.sleep(0.2)
        later = vineyard.connect(server.socket)
        assert later.status.ipc_connections >= 1
        lines = [
            line
            for line in server.output().splitlines()
            if "accept" in line or "file descriptors" in line
        ]
        record(
            "hostile_open_file_limit",
            open_file_limit=64,
            clients_tried=120,
            connected=len(clients),
            refused=len(refused),
            refused_told_why=told,
            hung=hung,
            seconds=round(elapsed, 2),
            server_cpu_seconds=round(cpu, 2),
            log_lines=len(lines),
        )
        assert hung == 0 and refused and told == len(refused)
        assert len(lines) <= 4, "\n".join(lines)


def server_memory_kib(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as status:
        return {
            key: int(value.split()[0])
            for key, value in (line.split(":", 1) for line in status)
            if key in ("VmRSS", "VmHWM")
        }


def test_metadata_and_requests_are_bounded():
    with running_server("64Mi", "--meta", "local", "--max_metadata", "64Mi") as server:
        client = vineyard.connect(server.socket)
        pid = server.process.pid
        before = server_memory_kib(pid)
        baseline = client.status.metadata_usage
        created, refusal = [], None
        for index in range(300):
            meta = vineyard.ObjectMeta()
            meta["typename"] = "test::Wide"
            meta["payload_"] = "m" * MIB
            meta["index_"] = index
            try:
                created.append(client.create_metadata(meta).id)
            except vineyard.NotEnoughMemoryException as error:
                refusal = str(error)
                break
        full = client.status
        during = server_memory_kib(pid)
        with pytest.raises(vineyard.VineyardException, match="--max_request_size"):
            meta = vineyard.ObjectMeta()
            meta["typename"] = "test::Huge"
            meta["payload_"] = "h" * (80 * MIB)
            client.create_metadata(meta)
        peak = server_memory_kib(pid)
        client = vineyard.connect(server.socket)
        client.delete(created)
        after = client.status.metadata_usage
        record(
            "hostile_metadata",
            objects_of_1_mib_accepted=len(created),
            metadata_limit_mib=64,
            metadata_usage_mib=round(full.metadata_usage / MIB, 1),
            rss_growth_mib=round((during["VmRSS"] - before["VmRSS"]) / 1024, 1),
            peak_rss_mib_after_80_mib_request=round(peak["VmHWM"] / 1024, 1),
            metadata_usage_after_delete=after - baseline,
        )
        assert refusal is not None and "--max_metadata" in refusal
        assert full.metadata_usage <= 64 * MIB
        assert after == baseline
