"""Data that outlives memory: save/load through object_store against the tools people use
instead, and spilling.

- local directory: `client.save` / `client.load` of a table and a numpy array of `--size`
  bytes, beside `pyarrow.ipc` and `pyarrow.parquet` writing and reading the same table in the
  same directory, and `cp` of a file of the same size there; the median of `--rounds`
  interleaved rounds, each write timed after a `sync` (so none pays for the last one's
  writeback); the same for S3;
- S3 (moto's standalone server on loopback): save/load beside boto3's `upload_file` /
  `download_file` of the same bytes (`--s3-size`);
- spilling: puts per second into a store a quarter of the data's size with `--spill_path`,
  beside a store that holds it all; `get` of a spilled array beside reading its bytes from
  the spill directory.

    .venv/dev/bin/python python/benchmarks/bench_persist.py [--quick] [--size 1Gi]
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import vineyard
from common import MIB, human, make_table, parser, write_json
from servers import instance

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from support import free_port, wait_until  # noqa: E402


def parse_size(text: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}
    for unit, scale in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * scale)
    return int(text)


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def rate(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / MIB


def settled(action) -> float:
    """`timed`, after the page cache's dirty pages have gone to disk (`sync`, not timed), so
    one write does not pay for the one before."""
    os.sync()
    return timed(action)


def local(client, size: int, directory: str, rounds: int) -> dict:
    """Save/load to `directory` beside pyarrow and cp: the median of `rounds` interleaved
    rounds (one of each measure per round)."""
    table = make_table(size)
    array = np.random.default_rng(3).random(size // 8)
    table_id, array_id = client.put(table), client.put(array)
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        for key, seconds in local_round(client, table, table_id, array_id, directory).items():
            samples.setdefault(key, []).append(seconds)
    client.delete([table_id, array_id])
    return {key: float(np.median(values)) for key, values in samples.items()}


def local_round(client, table, table_id, array_id, directory: str) -> dict:
    """One of each local measure."""
    results = {}
    for label, object_id in (("table", table_id), ("numpy", array_id)):
        target = os.path.join(directory, f"ours-{label}")
        save = partial(client.save, object_id, target, export=None, progress=False)
        results[f"ours_{label}_save_s"] = settled(save)
        loaded = []

        def load(target=target, loaded=loaded):
            loaded.append(client.load(target, progress=False))

        results[f"ours_{label}_load_s"] = timed(load)
        client.delete(loaded)
        shutil.rmtree(target)
    target = os.path.join(directory, "ours-table-arrow")
    results["ours_table_save_with_arrow_file_s"] = settled(
        lambda: client.save(table_id, target, progress=False)
    )
    shutil.rmtree(target)
    path = os.path.join(directory, "table.arrow")

    def ipc_write():
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    results["pyarrow_ipc_write_s"] = settled(ipc_write)
    results["pyarrow_ipc_read_s"] = timed(lambda: pa.ipc.open_file(pa.memory_map(path)).read_all())
    results["pyarrow_ipc_read_copy_s"] = timed(lambda: pa.ipc.open_file(pa.OSFile(path)).read_all())
    parquet = os.path.join(directory, "table.parquet")
    results["pyarrow_parquet_write_s"] = settled(lambda: pq.write_table(table, parquet))
    results["pyarrow_parquet_read_s"] = timed(lambda: pq.read_table(parquet))
    os.remove(parquet)
    copy = os.path.join(directory, "table.copy")
    results["cp_s"] = settled(lambda: subprocess.run(["cp", path, copy], check=True))
    os.remove(copy)
    os.remove(path)
    return results


def s3_round(client, s3, array_id, options: dict, directory: str) -> dict:
    """One of each S3 measure: ours, then boto3 on the same bytes (`directory`/data)."""
    results = {}
    save = partial(client.save, array_id, "s3://bench/ours", storage_options=options,
                   export=None, progress=False)  # fmt: skip
    results["ours_save_s"] = settled(save)
    loaded = []

    def load():
        loaded.append(client.load("s3://bench/ours", storage_options=options, progress=False))

    results["ours_load_s"] = timed(load)
    client.delete(loaded)
    upload = partial(s3.upload_file, os.path.join(directory, "data"), "bench", "boto")
    results["boto3_upload_file_s"] = settled(upload)
    download = partial(s3.download_file, "bench", "boto", os.path.join(directory, "back"))
    results["boto3_download_file_s"] = timed(download)
    os.remove(os.path.join(directory, "back"))
    return results


def s3(client, size: int, rounds: int) -> dict:
    """Save/load through moto's S3 server beside boto3 on the same bytes: the median of
    `rounds` interleaved rounds."""
    import boto3

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

        def up():
            try:
                s3.create_bucket(Bucket="bench")
                return True
            except Exception:  # noqa: BLE001
                return False

        wait_until("moto answers", up, timeout=30)
        options = {"endpoint": endpoint, "access_key_id": "testing",
                   "secret_access_key": "testing", "region": "us-east-1"}  # fmt: skip
        data = np.random.default_rng(5).integers(0, 255, size, dtype=np.uint8)
        array_id = client.put(data)
        samples: dict[str, list[float]] = {}
        with tempfile.TemporaryDirectory(dir="/var/tmp") as directory:
            source = os.path.join(directory, "data")
            data.tofile(source)
            for _ in range(rounds):
                for key, seconds in s3_round(client, s3, array_id, options, directory).items():
                    samples.setdefault(key, []).append(seconds)
        client.delete([array_id])
        results = {key: float(np.median(values)) for key, values in samples.items()}
        return results
    finally:
        moto.send_signal(signal.SIGKILL)
        moto.wait()


def spill_files(directory: str) -> list[Path]:
    """The blobs' files under a spill directory (not the instances' `.owner` lock files)."""
    return [p for p in Path(directory).rglob("*") if p.is_file() and not p.name.startswith(".")]


def spilling(args, size: int) -> dict:
    """Puts per second with and without spilling; get of a spilled array vs its file."""
    results = {}
    count = max(8, size // (4 * MIB))
    values = [np.full(4 * MIB // 8, n, dtype=np.float64) for n in range(count)]
    with tempfile.TemporaryDirectory(dir="/var/tmp") as spill:
        for label, store, extra in (
            ("no_spill", human(size * 2).replace(" ", "").replace("B", ""), {}),
            ("spilling", human(size // 4).replace(" ", "").replace("B", ""),
             {"spill": spill}),
        ):  # fmt: skip
            command = [sys.executable, "-m", "vineyard"]
            if extra:
                command += [f"--spill_path={spill}"]
            with instance(command, size=store) as server:
                with vineyard.connect(server.socket) as client:
                    started = time.perf_counter()
                    for value in values:
                        client.put(value)
                    seconds = time.perf_counter() - started
                    results[f"puts_per_s_{label}"] = count / seconds
                    results[f"put_mib_per_s_{label}"] = rate(count * 4 * MIB, seconds)
                    if extra:
                        results["spilled_bytes"] = client.status.spilled_bytes
    spilled_size = min(256 * MIB, size)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as spill:
        command = [sys.executable, "-m", "vineyard", f"--spill_path={spill}"]
        with instance(
            command, size=human(spilled_size * 2).replace(" ", "").replace("B", "")
        ) as server:
            with vineyard.connect(server.socket) as client:
                array = np.random.default_rng(9).random(spilled_size // 8)
                object_id = client.put(array)
                client.evict([object_id])
                files = spill_files(spill)
                results["spilled_get_s"] = timed(lambda: client.get(object_id).sum())
                client.evict([object_id])
                files = spill_files(spill)
                results["read_spill_file_s"] = timed(lambda: np.fromfile(files[0]).sum())
                results["spilled_get_bytes"] = spilled_size
    return results


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--size", default="1Gi", help="bytes of the table and the array")
    arguments.add_argument("--s3-size", default="256Mi", help="bytes sent to S3")
    arguments.add_argument("--directory", default="/var/tmp", help="where local saves go")
    arguments.add_argument("--rounds", type=int, default=3, help="local rounds (median shown)")
    args = arguments.parse_args()
    size = parse_size("16Mi" if args.quick else args.size)
    s3_size = parse_size("16Mi" if args.quick else args.s3_size)
    rounds = 1 if args.quick else args.rounds
    results = {"size": size, "s3_size": s3_size, "rounds": rounds}
    with instance(
        [sys.executable, "-m", "vineyard"], size=human(size * 3).replace(" ", "").replace("B", "")
    ) as server:
        with vineyard.connect(server.socket) as client:
            with tempfile.TemporaryDirectory(dir=args.directory) as directory:
                results["local"] = local(client, size, directory, rounds)
            results["s3"] = s3(client, s3_size, rounds)
    results["spill"] = spilling(args, size)
    local_figures, s3_figures, spill = results["local"], results["s3"], results["spill"]
    print(f"local, {human(size)}:")
    for key, seconds in local_figures.items():
        print(f"  {key:36s} {seconds:8.3f} s  {rate(size, seconds):8.0f} MiB/s")
    cp = local_figures["cp_s"]
    for label in ("table", "numpy"):
        print(f"  ours {label} save / cp: {cp / local_figures[f'ours_{label}_save_s']:.2f}x, "
              f"load / cp: {cp / local_figures[f'ours_{label}_load_s']:.2f}x")  # fmt: skip
    print(f"S3 (moto), {human(s3_size)}:")
    for key, seconds in s3_figures.items():
        print(f"  {key:36s} {seconds:8.3f} s  {rate(s3_size, seconds):8.0f} MiB/s")
    upload = s3_figures["boto3_upload_file_s"] / s3_figures["ours_save_s"]
    download = s3_figures["boto3_download_file_s"] / s3_figures["ours_load_s"]
    print(f"  save / upload_file: {upload:.2f}x, load / download_file: {download:.2f}x")
    print("spilling:")
    for key, value in spill.items():
        print(f"  {key:36s} {value:10.3f}")
    write_json(args.json, "persist", args, results)


if __name__ == "__main__":
    main()
