"""Data that outlives memory: `save` / `load` / `save_all` through object_store (local files
and a real S3 endpoint, moto's standalone server on loopback), `--restore_from`, and
spilling to `--spill_path` (a full disk, many clients at once)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pytest
import vineyard
from support import free_port, running_server, terminate, wait_until

MIB = 1 << 20


def test_numpy_and_table_round_trip_through_files_with_an_arrow_file(client, tmp_path):
    array = np.arange(100_000, dtype=np.float64)
    table = pa.table({"n": np.arange(1000), "w": [f"row {i}" for i in range(1000)]})
    array_id = client.put(array)
    table_id = client.put(table, persist=True, name="persist-table")
    saved = client.save([array_id, table_id], tmp_path / "snap")
    assert saved["objects"] == [array_id, table_id]
    assert (tmp_path / "snap" / "manifest.json").is_file()
    (export,) = saved["exports"]
    with pa.OSFile(str(tmp_path / "snap" / export)) as file:
        assert pa.ipc.open_file(file).read_all().equals(table), "pyarrow reads it alone"
    client.drop_name("persist-table")
    loaded = client.load(f"file://{tmp_path}/snap")
    assert len(loaded) == 2
    np.testing.assert_array_equal(client.get(loaded[0]), array)
    assert client.get(loaded[1]).equals(table)
    assert client.get_name("persist-table") == loaded[1], "the saved name comes back"


def test_export_parquet_writes_a_file_pyarrow_parquet_reads(client, tmp_path):
    import pyarrow.parquet as pq

    table = pa.table({"n": np.arange(5000), "w": [f"row {i}" for i in range(5000)]})
    table_id = client.put(table)
    saved = client.save(table_id, tmp_path / "snap", export="parquet")
    (export,) = saved["exports"]
    assert export.endswith(".parquet")
    assert pq.read_table(tmp_path / "snap" / export).equals(table)
    with pytest.raises(ValueError, match="'parquet'"):
        client.save(table_id, tmp_path / "other", export="orc")


def test_progress_is_reported_and_a_callback_stops_the_load(client, tmp_path):
    array_id = client.put(np.ones(8 * MIB // 8))
    heard = []
    client.save(array_id, tmp_path, progress=lambda done, total: heard.append((done, total)))
    assert heard and heard[-1] == (8 * MIB, 8 * MIB), heard
    before = client.status.memory_usage
    objects = len(client.list_objects(limit=10_000))
    with pytest.raises(vineyard.IOErrorException, match="cancelled by its progress callback"):
        client.load(str(tmp_path), progress=lambda done, total: False)

    def raising(done, total):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        client.load(str(tmp_path), progress=raising)
    client.flush()
    wait_until("the memory is back", lambda: client.status.memory_usage == before, timeout=5)
    assert len(client.list_objects(limit=10_000)) == objects


def test_a_corrupted_save_fails_to_load_and_leaves_nothing(client, tmp_path):
    array_id = client.put(np.arange(2 * MIB // 8, dtype=np.int64))
    client.save(array_id, tmp_path)
    (blob,) = (tmp_path / "blobs").iterdir()
    data = bytearray(blob.read_bytes())
    data[12345] ^= 1
    blob.write_bytes(bytes(data))
    before = client.status.memory_usage
    with pytest.raises(vineyard.IOErrorException, match=f"corrupted: blob {blob.name}"):
        client.load(str(tmp_path))
    blob.unlink()
    with pytest.raises(vineyard.IOErrorException, match="incomplete"):
        client.load(str(tmp_path))
    client.flush()
    wait_until("the memory is back", lambda: client.status.memory_usage == before, timeout=5)


def test_vineyard_io_names_serialize_and_deserialize(vineyard_socket, tmp_path):
    with vineyard.connect(vineyard_socket) as client:
        object_id = client.put(np.arange(10))
    vineyard.io.serialize(str(tmp_path), object_id, vineyard_ipc_socket=vineyard_socket)
    loaded = vineyard.io.deserialize(str(tmp_path), vineyard_ipc_socket=vineyard_socket)
    with vineyard.connect(vineyard_socket) as client:
        np.testing.assert_array_equal(client.get(loaded), np.arange(10))


def test_restore_from_rebuilds_an_instance_with_its_names(tmp_path):
    snapshot = f"file://{tmp_path}/all"
    with running_server("64Mi", "--meta=local") as server:
        with vineyard.connect(server.socket) as client:
            client.put(np.full(1000, 7), persist=True, name="sevens")
            client.put(pa.table({"x": [1, 2, 3]}), persist=True, name="xs")
            saved = client.save_all(snapshot)
            assert len(saved["objects"]) == 2
    with running_server("64Mi", "--meta=local", f"--restore_from={snapshot}") as server:
        assert "restored the snapshot" in server.output()
        with vineyard.connect(server.socket) as client:
            np.testing.assert_array_equal(client.get(name="sevens"), np.full(1000, 7))
            assert client.get(name="xs").equals(pa.table({"x": [1, 2, 3]}))
    missing = f"file://{tmp_path}/nothing-here"
    with tempfile.TemporaryDirectory(dir="/tmp") as directory:
        socket = os.path.join(directory, "v.sock")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "vineyard",
                f"--socket={socket}",
                "--meta=local",
                f"--restore_from={missing}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode != 0
        assert "no snapshot at" in done.stderr, done.stderr
        assert not os.path.exists(socket)


# -- a real S3 endpoint ------------------------------------------------------------------


class Moto:
    """moto's standalone S3 server on a free loopback port, in a process of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        program = Path(sys.executable).with_name("moto_server")
        self.process = subprocess.Popen(
            [str(program), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import boto3

        self.s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

        def up() -> bool:
            try:
                self.s3.create_bucket(Bucket="vineyard")
                return True
            except Exception:  # noqa: BLE001 - not listening yet
                return False

        wait_until("moto_server answers", up, timeout=30)

    @property
    def options(self) -> dict[str, str]:
        return {
            "endpoint": self.endpoint,
            "access_key_id": "testing",
            "secret_access_key": "testing",
            "region": "us-east-1",
        }

    def kill(self) -> None:
        terminate(self.process, signal.SIGKILL)


@pytest.fixture
def moto():
    pytest.importorskip("boto3")
    servers = []

    def start() -> Moto:
        servers.append(Moto())
        return servers[-1]

    yield start
    for server in servers:
        server.kill()


def test_s3_round_trip_through_a_real_endpoint(client, moto):
    s3 = moto()
    table = pa.table({"a": np.arange(200_000), "b": np.random.default_rng(1).random(200_000)})
    table_id = client.put(table)
    saved = client.save(table_id, "s3://vineyard/snap/1", storage_options=s3.options)
    listed = s3.s3.list_objects_v2(Bucket="vineyard", Prefix="snap/1/")["Contents"]
    names = {entry["Key"] for entry in listed}
    assert "snap/1/manifest.json" in names and f"snap/1/{saved['exports'][0]}" in names
    loaded = client.load("s3://vineyard/snap/1", storage_options=s3.options)
    assert client.get(loaded).equals(table)


def _checksums(s3: Moto, prefix: str) -> dict[str, dict]:
    """What the endpoint keeps of each saved blob's checksums, by key."""
    listed = s3.s3.list_objects_v2(Bucket="vineyard", Prefix=f"{prefix}/blobs/")["Contents"]
    heads = {}
    for entry in listed:
        head = s3.s3.head_object(Bucket="vineyard", Key=entry["Key"], ChecksumMode="ENABLED")
        heads[entry["Key"]] = {key: value for key, value in head.items() if "Checksum" in key}
    return heads


def test_s3_saves_send_sha256_checksums_the_endpoint_keeps(client, moto):
    s3 = moto()
    array = np.random.default_rng(4).integers(0, 255, 20 * MIB, dtype=np.uint8)
    array_id = client.put(array)
    client.save(array_id, "s3://vineyard/summed", storage_options=s3.options)
    ((_, summed),) = _checksums(s3, "summed").items()
    assert "ChecksumSHA256" in summed, f"the parts' SHA-256s make the object's: {summed}"
    loaded = client.load("s3://vineyard/summed", storage_options=s3.options)
    np.testing.assert_array_equal(client.get(loaded), array)

    # For a server that refuses checksums, `none` sends none.
    plain = {**s3.options, "checksum_algorithm": "none"}
    client.save(array_id, "s3://vineyard/plain", storage_options=plain)
    ((_, unchecked),) = _checksums(s3, "plain").items()
    assert "ChecksumSHA256" not in unchecked, unchecked
    client.delete([loaded, array_id])


def _kill_on_first_progress(server: Moto):
    """Kills the endpoint at the first report after the start (a tick, 200 ms in), or once
    some bytes are through: parts in flight may all finish together, so `done` can stay at 0
    until the end under load, and waiting for a partial count makes the kill race the end."""
    calls = []

    def callback(done, total):
        calls.append(done)
        if len(calls) >= 2 or 0 < done < total:
            server.kill()
        return True

    return callback


def test_an_endpoint_killed_mid_save_or_mid_load_fails_clearly_and_a_retry_succeeds(client, moto):
    array = np.random.default_rng(2).integers(0, 255, 128 * MIB, dtype=np.uint8)
    array_id = client.put(array)
    first = moto()
    with pytest.raises(vineyard.IOErrorException, match="s3://vineyard/big"):
        client.save(
            array_id,
            "s3://vineyard/big",
            storage_options={**first.options, "timeout": "10s"},
            progress=_kill_on_first_progress(first),
        )
    second = moto()
    client.save(array_id, "s3://vineyard/big", storage_options=second.options)
    before = client.status.memory_usage
    objects = len(client.list_objects(limit=10_000))
    with pytest.raises(vineyard.IOErrorException, match="s3://vineyard/big"):
        client.load(
            "s3://vineyard/big",
            storage_options={**second.options, "timeout": "10s"},
            progress=_kill_on_first_progress(second),
        )
    client.flush()
    wait_until("the memory is back", lambda: client.status.memory_usage == before, timeout=10)
    assert len(client.list_objects(limit=10_000)) == objects, "no half object"
    third = moto()
    client.save(array_id, "s3://vineyard/big", storage_options=third.options)
    loaded = client.load("s3://vineyard/big", storage_options=third.options)
    np.testing.assert_array_equal(client.get(loaded), array)
    client.delete([loaded, array_id])


# -- spilling ------------------------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(size: str):
    """A tmpfs of `size` (a full disk on demand); skipped where mounting is not allowed."""
    directory = tempfile.mkdtemp(prefix="vy-spill-", dir="/tmp")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", directory],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        os.rmdir(directory)
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", directory], check=False)
        os.rmdir(directory)


def test_a_full_spill_disk_refuses_puts_with_the_reason_until_space_frees():
    with (
        small_tmpfs("8m") as spill,
        running_server("16Mi", "--meta=local", f"--spill_path={spill}") as server,
    ):
        with vineyard.connect(server.socket) as client:
            ids = {}
            with pytest.raises(vineyard.NotEnoughMemoryException, match="No space left"):
                for value in range(20):
                    ids[value] = client.put(np.full(MIB // 8 * 2, value, dtype=np.int64))
            assert client.status.memory_usage <= client.status.memory_limit
            # Space frees: the oldest objects (spilled) go.
            oldest = list(ids)[:6]
            client.delete([ids.pop(value) for value in oldest])
            wait_until(
                "spill files go",
                lambda: client.status.spilled_bytes <= 8 * MIB - 12 * MIB // 2,
                timeout=5,
            )
            more = {
                100 + n: client.put(np.full(MIB // 8 * 2, 100 + n, dtype=np.int64))
                for n in range(4)
            }
            # Nothing was corrupted: every value reads back right.
            for value, object_id in {**ids, **more}.items():
                np.testing.assert_array_equal(client.get(object_id), value)
        assert "spilling failed" in server.output()


def test_many_clients_put_three_times_the_store_while_others_read_back(tmp_path):
    with running_server("64Mi", "--meta=local", f"--spill_path={tmp_path}") as server:
        written: dict = {}
        lock = threading.Lock()
        errors: list = []
        stop = threading.Event()
        peak = [0]

        def writer(index: int) -> None:
            try:
                with vineyard.connect(server.socket) as client:
                    for n in range(12):
                        value = index * 100 + n
                        object_id = client.put(np.full(MIB // 8, value, dtype=np.int64))
                        with lock:
                            written[object_id] = value
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        def reader() -> None:
            try:
                with vineyard.connect(server.socket) as client:
                    while not stop.is_set():
                        with lock:
                            items = list(written.items())[-40:]
                        for object_id, value in items:
                            got = client.get(object_id)
                            assert (got == value).all(), f"{object_id} read back wrong"
                            del got
                        status = client.status
                        peak[0] = max(peak[0], status.memory_usage)
                        assert status.memory_usage <= status.memory_limit
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        writers = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
        readers = [threading.Thread(target=reader) for _ in range(4)]
        for thread in writers + readers:
            thread.start()
        for thread in writers:
            thread.join(timeout=240)
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
        assert not errors, errors[:3]
        assert len(written) == 16 * 12
        with vineyard.connect(server.socket) as client:
            for object_id, value in written.items():
                assert (client.get(object_id) == value).all()
            assert client.status.spilled_total_bytes > 0
        assert "spilled cold blobs" in server.output()
    assert not any(Path(tmp_path).iterdir()), "spill files go when the server stops"
    shutil.rmtree(tmp_path, ignore_errors=True)
