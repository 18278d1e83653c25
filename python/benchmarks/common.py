"""What the benchmark scripts share: sizes, the values they put, formatting, command-line
options and the JSON files they write.

The scripts run under two interpreters: `.venv/dev` (our `vineyard`) and `.venv/interop`
(pip `vineyard==0.24.2`), so they use only the public client API both have.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

import numpy as np

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30
SIZES = [KIB, 64 * KIB, MIB, 16 * MIB, 256 * MIB, GIB]
QUICK_SIZES = [KIB, 64 * KIB, MIB, 16 * MIB]
KINDS = ("numpy", "bytes", "table")
# The Vineyard release measured beside ours (pip `vineyard`, in .venv/interop).
V6D_VERSION = "0.24.2"
V6D_LABEL = f"Vineyard {V6D_VERSION}"
TABLE_COLUMNS = 4
TABLE_BATCH_BYTES = 16 * MIB
# Values up to this size are transferred `SMALL_REPEAT` times as often (Flight and remote
# benchmarks): a transfer of a few milliseconds varies with scheduling on a small machine more
# than a long one does.
SMALL_TRANSFER = 64 * MIB
SMALL_REPEAT = 4
# How the report says so.
SMALL_REPEAT_NOTE = f"{SMALL_REPEAT} times as many up to {SMALL_TRANSFER // MIB} MiB"


def repeat_for(size: int, repeat: int) -> int:
    """Transfers to time for a value of `size` bytes when `repeat` are asked for."""
    return repeat * SMALL_REPEAT if size <= SMALL_TRANSFER else repeat


def human(size: float) -> str:
    """`size` bytes as `1 KiB`, `16 MiB`, ..."""
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size:g} B"


def duration(seconds: float) -> str:
    """`seconds` in us, ms or s, three significant digits."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def make_table(nbytes: int, seed: int = 7):
    """A pyarrow table of `nbytes` in int64/float64 columns, in batches of at most 16 MiB."""
    import pyarrow as pa

    rows = max(1, nbytes // (8 * TABLE_COLUMNS))
    per_batch = max(1, TABLE_BATCH_BYTES // (8 * TABLE_COLUMNS))
    rng = np.random.default_rng(seed)
    batches = []
    for start in range(0, rows, per_batch):
        count = min(per_batch, rows - start)
        columns = {
            f"c{index}": (rng.integers(0, 1 << 40, count) if index % 2 == 0 else rng.random(count))
            for index in range(TABLE_COLUMNS)
        }
        batches.append(pa.RecordBatch.from_pydict(columns))
    return pa.Table.from_batches(batches)


def make_value(kind: str, size: int):
    """A value of `size` bytes: a float64 numpy array, `bytes`, or a pyarrow table."""
    rng = np.random.default_rng(size)
    if kind == "numpy":
        return rng.random(size // 8)
    if kind == "bytes":
        return rng.bytes(size)
    return make_table(size, seed=size)


def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark script takes."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true", help="short run: small sizes, few repeats")
    result.add_argument("--json", help="also write the results to this JSON file")
    result.add_argument(
        "--server-cmd",
        default=f"{shlex.quote(sys.executable)} -m vineyard",
        help="command that runs an instance (the instance flags are appended); "
        "default: this interpreter's `-m vineyard`",
    )
    result.add_argument("--label", default="ours", help="name of the implementation measured")
    return result


def server_command(args: argparse.Namespace) -> list[str]:
    """`--server-cmd` as an argument list."""
    return shlex.split(args.server_cmd)


def write_json(path: str | None, bench: str, args: argparse.Namespace, results: dict) -> None:
    """Writes `results` with what produced them, when `--json` was given."""
    if not path:
        return
    import vineyard

    document = {
        "bench": bench,
        "label": args.label,
        "client_version": vineyard.__version__,
        "server_cmd": args.server_cmd,
        "quick": args.quick,
        "python": sys.version.split()[0],
        **results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as output:
        json.dump(document, output, indent=1)
        output.write("\n")
