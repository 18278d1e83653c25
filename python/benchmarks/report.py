"""Writes BENCHMARKS.md and its chart from the results of one `run_all.py` run: the JSON files
of the Python benchmarks and of the cluster bench, and criterion's estimates.

    .venv/dev/bin/python python/benchmarks/report.py [--out target/bench] \
        [--markdown BENCHMARKS.md] [--chart docs/benchmarks.png]

Every figure comes from those files; a topic whose step failed or was skipped says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections.abc import Callable, Iterable

from common import GIB, KINDS, SMALL_REPEAT_NOTE, V6D_LABEL, duration, human

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
V6D = V6D_LABEL
NONE = "–"
SERVER_RUNS = (
    ("ours: `python -m vineyard`", "server-ours"),
    ("ours: `vineyardd` binary", "server-ours-bin"),
    (V6D, "server-v6d"),
)
RATIO_NOTE = (
    "**ratio** = how many times better ours is than the best alternative of its row "
    "(for times: best ÷ ours; for rates: ours ÷ best; for memory: best ÷ ours): "
    "**above 1 ours is better**, below 1 the alternative is."
)


# -- reading ------------------------------------------------------------------------------------


class Results:
    """The files of one run in `out`."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.run = self.load("run") or {"steps": [], "machine": {}, "versions": {}, "v6d": {}}
        self.steps = {step["name"]: step for step in self.run["steps"]}

    def load(self, name: str) -> dict | None:
        """`out`/`name`.json, or None."""
        path = os.path.join(self.out, f"{name}.json")
        if not os.path.exists(path):
            return None
        with open(path) as source:
            return json.load(source)

    def missing(self, *names: str) -> str:
        """Why the steps `names` left no results."""
        reasons = []
        for name in names:
            step = self.steps.get(name)
            if step is None:
                reasons.append(f"`{name}` did not run")
            elif step["status"] != "ok":
                reasons.append(f"`{name}` {step['status']}: {step.get('reason', '')}")
            else:
                reasons.append(f"`{name}` wrote no results")
        return "Not measured: " + "; ".join(reasons) + "."

    def servers(self) -> dict[str, dict]:
        """The `bench_server.py` results by server label (those that exist)."""
        loaded = {label: self.load(name) for label, name in SERVER_RUNS}
        return {label: data for label, data in loaded.items() if data}

    def criterion(self) -> list[dict]:
        """criterion's results: group, function, value, median seconds per iteration, and
        bytes per iteration (None without a throughput)."""
        results = []
        for directory, _, files in os.walk(os.path.join(self.out, "criterion")):
            if os.path.basename(directory) != "new" or "estimates.json" not in files:
                continue
            with open(os.path.join(directory, "benchmark.json")) as source:
                benchmark = json.load(source)
            with open(os.path.join(directory, "estimates.json")) as source:
                estimates = json.load(source)
            results.append(
                {
                    "group": benchmark["group_id"],
                    "function": benchmark["function_id"],
                    "value": benchmark["value_str"],
                    "seconds": estimates["median"]["point_estimate"] / 1e9,
                    "bytes": (benchmark.get("throughput") or {}).get("Bytes"),
                }
            )
        return sorted(results, key=lambda entry: (entry["group"], entry["bytes"] or 0))


def criterion_seconds(found: list[dict], group: str, function: str, size: int) -> float | None:
    """The median seconds of one criterion benchmark, or None."""
    for entry in found:
        if (entry["group"], entry["function"], entry["bytes"]) == (group, function, size):
            return entry["seconds"]
    return None


# -- formatting ---------------------------------------------------------------------------------


def markdown_table(headers: list[str], rows: Iterable[list[str]]) -> list[str]:
    """A markdown table, first column left-aligned, the others right-aligned."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines + [""]


def time_text(seconds: float | None) -> str:
    """A time, or NONE."""
    return NONE if seconds is None else duration(seconds)


def rate_text(rate: float | None) -> str:
    """Operations per second, or NONE."""
    return NONE if rate is None else f"{rate:,.0f}/s"


def gbps_text(rate: float | None) -> str:
    """GB/s, or NONE."""
    return NONE if rate is None else f"{rate:.2f} GB/s"


def bytes_text(size: float | None) -> str:
    """Bytes, or NONE."""
    return NONE if size is None else f"{size:,.0f} B"


def versus(ours: float | None, alternatives: dict[str, float | None], lower_is_better: bool):
    """The best alternative's name and the ratio (above 1: ours better); NONE when unknown."""
    known = {name: value for name, value in alternatives.items() if value is not None}
    if ours is None or not known:
        return NONE, NONE, None
    pick = min if lower_is_better else max
    name = pick(known, key=known.get)
    best = known[name]
    numerator, denominator = (best, ours) if lower_is_better else (ours, best)
    if denominator <= 0:
        return name, NONE, None
    ratio = numerator / denominator
    return name, f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}", ratio


def tally(ratios: list[float | None]) -> str:
    """`ours ahead in N of M rows.`"""
    known = [ratio for ratio in ratios if ratio is not None]
    if not known:
        return ""
    ahead = sum(1 for ratio in known if ratio > 1)
    return f"Ours ahead of the best alternative in {ahead} of {len(known)} rows.\n"


def compared_rows(
    items: Iterable[tuple[list[str], float | None, dict[str, float | None]]],
    text: Callable[[float | None], str],
    lower_is_better: bool,
) -> tuple[list[list[str]], list[float | None]]:
    """Rows of `labels, ours, alternatives..., best alternative, ratio`, and their ratios."""
    rows, ratios = [], []
    for labels, ours, alternatives in items:
        name, shown, ratio = versus(ours, alternatives, lower_is_better)
        cells = [text(value) for value in alternatives.values()]
        rows.append([*labels, text(ours), *cells, name, shown])
        ratios.append(ratio)
    return rows, ratios


# -- sections -----------------------------------------------------------------------------------


def header(results: Results) -> list[str]:
    """Title, what the figures are, the ratio convention, the machine."""
    run = results.run
    lines = ["# Benchmarks", ""]
    if run.get("quick"):
        lines += [
            "> **QUICK run** (`make bench QUICK=1`: sizes up to 16 MiB, few repetitions, short "
            "criterion runs), made to check the pipeline: the figures are not representative.",
            "",
        ]
    lines += [
        f"Generated by `make bench` on {run.get('date', NONE)} from the results in "
        "`target/bench/`. Reproduce with `make bench` (sizes 1 KiB to 1 GiB), or "
        "`make bench QUICK=1` (up to 16 MiB, a short check of the pipeline).",
        "",
        "Every row puts our figure beside its baselines measured in the same run: memcpy, "
        "`multiprocessing.shared_memory`, pickle protocol 5, pyarrow's own Flight server, and "
        f"{V6D} (pip `vineyard`, its own `vineyardd` started with `--meta local`, driven by "
        "its own client with the same script). Times are medians unless stated.",
        "",
        RATIO_NOTE,
        "",
    ]
    return lines + machine_section(run) + v6d_line(run)


def machine_section(run: dict) -> list[str]:
    """What the run was measured on."""
    info, versions = run.get("machine", {}), run.get("versions", {})
    ram = info.get("ram_bytes")
    load = info.get("load_average")
    rows = [
        ["CPU", f"{info.get('cpu', NONE)}, {info.get('cores', NONE)} logical cores"],
        ["RAM", f"{ram / GIB:.1f} GiB" if ram else NONE],
        ["OS, kernel", f"{info.get('os') or NONE}, {info.get('kernel', NONE)}"],
        ["Python, Rust", f"{info.get('python', NONE)}, {info.get('rustc') or NONE}"],
        ["Packages", ", ".join(f"{name} {version}" for name, version in versions.items())],
        ["Commit", info.get("commit") or NONE],
    ]
    if load:
        after = info.get("load_average_after")
        text = f"{load[0]:.2f} at the start" + (f", {after[0]:.2f} at the end" if after else "")
        rows.append(["Load average (1 min)", text])
    return ["## Machine", ""] + markdown_table(["", ""], rows)


def v6d_line(run: dict) -> list[str]:
    """Which Vineyard 0.24.2 was measured, or why none was."""
    v6d = run.get("v6d", {})
    if v6d.get("available"):
        python, server = (os.path.relpath(v6d[key], ROOT) for key in ("python", "vineyardd"))
        return [f"{V6D}: client `{python}`, server `{server}`.", ""]
    reason = v6d.get("reason", "not looked for")
    return [f"**{V6D} could not be used** ({reason}): its columns are empty.", ""]


def put_get_section(results: Results, chart_link: str) -> list[str]:
    """put, get and get from a second process, per kind and size, and the chart."""
    ours, v6d = results.load("put-get-ours"), results.load("put-get-v6d")
    lines = ["## put and get, 1 KiB .. 1 GiB (Python client)", ""]
    if ours is None:
        return lines + [results.missing("put-get-ours"), ""]
    lines += [
        "`bench_put_get.py`: a float64 numpy array, `bytes`, and a pyarrow table (4 columns) "
        "of each size, into an instance started with `--size 3Gi --meta local`. memcpy and "
        "shared_memory copy a uint8 array of the same size (the same figure for every kind).",
        "",
    ]
    if chart_link:
        lines += [f"![put and get time versus size]({chart_link})", ""]
    if v6d is None:
        lines += [results.missing("put-get-v6d"), ""]
    theirs = {(row["kind"], row["size"]): row for row in (v6d or {}).get("rows", [])}
    copies = {row["size"]: row for row in ours.get("copies", [])}

    def items(key: str, alternatives: Callable[[dict, dict], dict]):
        for row in ours["rows"]:
            other = theirs.get((row["kind"], row["size"]), {})
            copy = copies.get(row["size"], {})
            yield [row["kind"], human(row["size"])], row[key], alternatives(other, copy | row)

    tables = [
        (
            "put: `client.put(value)`; memcpy into touched memory; `SharedMemory(create=True)` "
            "plus a copy in; `pickle.dumps(value, protocol=5)`.",
            "put",
            ["memcpy", "shared_memory create+copy", "pickle5 dumps"],
            lambda other, row: {
                V6D: other.get("put"),
                "memcpy": row.get("memcpy"),
                "shared_memory": row.get("shm_create"),
                "pickle5": row.get("pickle_dumps"),
            },
        ),
        (
            "get in the same process: `client.get(id)`; memcpy (a copy out); "
            "`pickle.loads` of the in-band pickle.",
            "get",
            ["memcpy", "pickle5 loads"],
            lambda other, row: {
                V6D: other.get("get"),
                "memcpy": row.get("memcpy"),
                "pickle5": row.get("pickle_loads"),
            },
        ),
        (
            "get from a second process (already connected): `client.get(id)` there; "
            "attaching the `SharedMemory` plus a numpy view; pickle protocol 5 out of band "
            "through a pipe (from `dumps` here to `loads` there).",
            "remote_get",
            ["shared_memory attach", "pickle5 to 2nd process"],
            lambda other, row: {
                V6D: other.get("remote_get"),
                "shared_memory": row.get("shm_attach"),
                "pickle5": row.get("pickle_transfer"),
            },
        ),
        (
            "get from a second process, back to back: `client.get(id)` of the same object "
            "repeated there after one untimed get (the median: a process that keeps reading, "
            "not one just woken up); attaching the `SharedMemory` plus a numpy view.",
            "remote_get_repeated",
            ["shared_memory attach"],
            lambda other, row: {
                V6D: other.get("remote_get_repeated"),
                "shared_memory": row.get("shm_attach"),
            },
        ),
    ]
    for description, key, titles, alternatives in tables:
        rows, ratios = compared_rows(items(key, alternatives), time_text, lower_is_better=True)
        headers = ["value", "size", "ours", V6D, *titles, "best alternative", "ratio"]
        lines += [f"### {description.split(':')[0]}", "", description, ""]
        lines += markdown_table(headers, rows) + [tally(ratios)]
        if key == "remote_get":
            lines += idle_floor(copies)
    lines += returned_types(ours, v6d)
    return lines


def idle_floor(copies: dict) -> list[str]:
    """What any call costs in the second process right after the same idle."""
    floors = [row["idle_floor"] for row in copies.values() if "idle_floor" in row]
    if not floors:
        return []
    return [
        f"The floor: `numpy.frombuffer` of 64 bytes in the second process right after the same "
        f"idle takes {time_text(statistics.median(floors))} (median over sizes; "
        f"{time_text(min(floors))} to {time_text(max(floors))}): the least any call costs in a "
        "process that was just woken up on this machine.",
        "",
    ]


def returned_types(ours: dict, v6d: dict | None) -> list[str]:
    """What `get` returned, per kind and implementation."""
    parts = []
    for label, data in (("ours", ours), (V6D, v6d)):
        if data:
            kinds = {row["kind"]: row.get("get_returns") for row in data["rows"]}
            described = ", ".join(f"{kind} → `{kinds[kind]}`" for kind in KINDS if kind in kinds)
            parts.append(f"{label}: {described}")
    return ["`get` returned: " + "; ".join(parts) + ".", ""]


def chart(results: Results, path: str) -> bool:
    """The log-log chart of put and get (second process) time versus size, for numpy arrays.
    Returns whether there was anything to draw."""
    ours, v6d = results.load("put-get-ours"), results.load("put-get-v6d")
    if ours is None:
        return False
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(data: dict | None, rows_key: str, key: str) -> tuple[list, list]:
        rows = [
            row for row in (data or {}).get(rows_key, []) if row.get("kind", "numpy") == "numpy"
        ]
        rows = [row for row in rows if row.get(key) is not None]
        return [row["size"] for row in rows], [row[key] for row in rows]

    panels = (
        (
            "put",
            [
                ("ours", ours, "rows", "put"),
                (V6D, v6d, "rows", "put"),
                ("memcpy", ours, "copies", "memcpy"),
                ("shared_memory create+copy", ours, "copies", "shm_create"),
                ("pickle5 dumps", ours, "rows", "pickle_dumps"),
            ],
        ),
        (
            "get from a second process",
            [
                ("ours", ours, "rows", "remote_get"),
                (V6D, v6d, "rows", "remote_get"),
                ("memcpy", ours, "copies", "memcpy"),
                ("shared_memory attach", ours, "copies", "shm_attach"),
                ("pickle5 through a pipe", ours, "rows", "pickle_transfer"),
            ],
        ),
    )
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, (title, lines) in zip(axes, panels, strict=True):
        for label, data, rows_key, key in lines:
            sizes, times = series(data, rows_key, key)
            if sizes:
                axis.plot(sizes, times, marker="o", markersize=3, label=label)
        sizes = [row["size"] for row in ours["rows"] if row["kind"] == "numpy"]
        axis.set(xscale="log", yscale="log", title=f"{title} (numpy float64)", xlabel="size")
        axis.set_xticks(sizes, [human(size).replace(" ", "") for size in sizes])
        axis.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=7)
    axes[0].set_ylabel("seconds (median)")
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def first_put_section(results: Results) -> list[str]:
    """The first put after a start, from `bench_server.py` and criterion."""
    lines = ["## First put into a new instance", ""]
    servers = results.servers()
    if not set(servers) - {V6D}:
        return lines + [results.missing("server-ours", "server-ours-bin"), ""]
    size = next(iter(servers.values()))["first_put"]["size"]
    lines += [
        f"`bench_server.py`: after each start (`--size 3Gi`), once the server's resident memory "
        f"stopped growing, one put of a {human(size)} float64 array (median of the starts). "
        "Baselines (from `bench_put_get.py`, same size): a memcpy into new pages (a fresh "
        "anonymous `mmap`), and `SharedMemory(create=True)` plus a copy in.",
        "",
    ]
    copies = (results.load("put-get-ours") or {}).get("copies", [])
    copy = next((row for row in copies if row["size"] == size), {})
    firsts = {
        label: statistics.median(data["first_put"]["times"]) for label, data in servers.items()
    }
    alternatives = {
        V6D: firsts.get(V6D),
        "memcpy into new pages": copy.get("memcpy_fresh"),
        "shared_memory": copy.get("shm_create"),
    }
    items = [([label], value, alternatives) for label, value in firsts.items() if label != V6D]
    rows, ratios = compared_rows(items, time_text, lower_is_better=True)
    headers = ["server", "first put", V6D, "memcpy into new pages", "shared_memory create+copy"]
    lines += markdown_table([*headers, "best alternative", "ratio"], rows) + [tally(ratios)]
    return lines + criterion_first_put(results)


def criterion_first_put(results: Results) -> list[str]:
    """criterion's `first_put` group beside a memcpy into new memory."""
    found = [entry for entry in results.criterion() if entry["group"] == "first_put"]
    if not found:
        return []
    lines = [
        "criterion (`core/benches/put_get.rs`, `first_put`): a put into a brand-new in-process "
        "server's memory, with and without `reserve_memory`, beside a memcpy into untouched "
        "memory.",
        "",
    ]
    items = []
    for entry in found:
        if entry["function"] != "memcpy_fresh":
            memcpy = criterion_seconds(found, "first_put", "memcpy_fresh", entry["bytes"])
            labels = [entry["function"], human(entry["bytes"])]
            items.append((labels, entry["seconds"], {"memcpy into new memory": memcpy}))
    rows, ratios = compared_rows(items, time_text, lower_is_better=True)
    headers = ["variant", "size", "ours", "memcpy into new memory", "best alternative", "ratio"]
    return lines + markdown_table(headers, rows) + [tally(ratios)]


def small_objects_section(results: Results) -> list[str]:
    """Small puts and gets per second."""
    ours, v6d = results.load("put-get-ours"), results.load("put-get-v6d")
    lines = ["## Small objects per second (Python client)", ""]
    if ours is None:
        return lines + [results.missing("put-get-ours"), ""]
    lines += [
        "`bench_put_get.py`: puts, then gets, of small ints and 16-byte `bytes`, one at a "
        "time, from one client.",
        "",
    ]
    theirs = (v6d or {}).get("small", {})
    items = [([label], rate, {V6D: theirs.get(label)}) for label, rate in ours["small"].items()]
    rows, ratios = compared_rows(items, rate_text, lower_is_better=False)
    lines += markdown_table(["operation", "ours", V6D, "best alternative", "ratio"], rows)
    return lines + [tally(ratios)]


def criterion_section(results: Results) -> list[str]:
    """criterion's put and get beside memcpy, and the small round trip."""
    found = results.criterion()
    lines = ["## Rust client (criterion, `core/benches/put_get.rs`)", ""]
    if not found:
        return lines + [results.missing("criterion-put-get"), ""]
    lines += [
        "A server in the bench process, the Rust `IpcClient`: `put` = create_blob + copy + "
        "seal (beside a memcpy of the same bytes into touched memory), `get` = get_blob + "
        "reading one byte (a mapping: no copy). Median time per operation.",
        "",
    ]
    items = []
    for entry in found:
        if (entry["group"], entry["function"]) == ("put", "vineyard"):
            size = entry["bytes"]
            get = criterion_seconds(found, "get", "vineyard", size)
            memcpy = criterion_seconds(found, "put", "memcpy", size)
            items.append(([human(size), time_text(get)], entry["seconds"], {"memcpy": memcpy}))
    rows, ratios = compared_rows(items, time_text, lower_is_better=True)
    headers = ["size", "get", "put", "memcpy", "best alternative", "ratio (put)"]
    lines += markdown_table(headers, rows) + [tally(ratios)]
    for entry in found:
        if entry["group"] == "small_roundtrip":
            rate = 1 / entry["seconds"]
            lines += [
                f"`{entry['function']}`: {duration(entry['seconds'])} per round trip "
                f"({rate:,.0f}/s); no baseline.",
                "",
            ]
    return lines


def meta_results(results: Results) -> tuple[dict | None, dict | None, dict | None]:
    """The metadata benches' results: ours, Vineyard 0.24.2's, and the Rust cluster bench."""
    return (
        results.load("meta-ours"),
        results.load("meta-v6d"),
        results.load("criterion-cluster"),
    )


def meta_section(results: Results) -> list[str]:
    """create_metadata and persist per second, local and with etcd."""
    ours, v6d, cluster = meta_results(results)
    lines = ["## Metadata operations per second", ""]
    if ours is None:
        lines += [results.missing("meta-ours"), ""]
    else:
        lines += [
            "`bench_meta.py`: `create_metadata` of small objects (a typename and a field), then "
            "`persist` of each, one at a time from one Python client: with `--meta local`, and on "
            "the first of two instances sharing a fresh etcd (`--meta etcd`).",
            "",
        ]
        items = []
        for meta in ("local", "etcd"):
            for key, label in (("create_per_s", "create_metadata"), ("persist_per_s", "persist")):
                value = ours.get(meta, {}).get(key)
                items.append(([label, meta], value, {V6D: (v6d or {}).get(meta, {}).get(key)}))
        rows, ratios = compared_rows(items, rate_text, lower_is_better=False)
        lines += markdown_table(
            ["operation", "metadata", "ours", V6D, "best alternative", "ratio"], rows
        )
        lines.append(tally(ratios))
        lines += etcd_notes(results)
    if cluster is None:
        return lines + [results.missing("criterion-cluster"), ""]
    lines += [
        "Rust client (`core/benches/cluster.rs`, real etcd, persists that each wait for their "
        "etcd commit; no baseline): "
        f"{cluster['persists_per_s_1_client']:,.0f} persists/s from 1 client, "
        f"{cluster['persists_per_s_16_clients']:,.0f}/s from 16 clients.",
        "",
    ]
    return lines


def etcd_notes(results: Results) -> list[str]:
    """Why a `bench_meta.py` run has no etcd figures, if it has none."""
    notes = []
    for step in ("meta-ours", "meta-v6d"):
        data = results.load(step)
        if data is None:
            notes.append(results.missing(step))
        elif data.get("etcd_error"):
            notes.append(f"The etcd part of `{step}` failed: {data['etcd_error']}.")
        elif "etcd" not in data:
            notes.append(f"`{step}` ran without etcd (no `--etcd`).")
    return [" ".join(notes), ""] if notes else []


def visibility_section(results: Results) -> list[str]:
    """The delay from a persist to its visibility on another instance."""
    ours, v6d, cluster = meta_results(results)
    lines = ["## Persist-to-visible delay across instances (etcd)", ""]
    lines += [
        "From the return of `persist` on one instance until a `get_name(name, wait=True)` "
        "blocked on another instance returns the new name (two instances, one etcd).",
        "",
    ]

    def percentiles(data: dict | None) -> tuple[float | None, float | None]:
        delays = sorted((data or {}).get("etcd", {}).get("visible_delays", []))
        if not delays:
            return None, None
        return statistics.median(delays), delays[int((len(delays) - 1) * 0.99)]

    ours_p50, ours_p99 = percentiles(ours)
    v6d_p50, v6d_p99 = percentiles(v6d)
    lines += etcd_notes(results)
    items = [(["p50"], ours_p50, {V6D: v6d_p50}), (["p99"], ours_p99, {V6D: v6d_p99})]
    rows, _ = compared_rows(items, time_text, lower_is_better=True)
    headers = ["percentile", "ours (Python client)", V6D, "best alternative", "ratio"]
    lines += markdown_table(headers, rows)
    if cluster is None:
        return lines + [results.missing("criterion-cluster"), ""]
    p50, p99 = cluster["visible_ms_p50"] / 1e3, cluster["visible_ms_p99"] / 1e3
    return lines + [
        f"Rust client (`core/benches/cluster.rs`, {cluster['rounds']} rounds; no baseline): "
        f"p50 {duration(p50)}, p99 {duration(p99)}.",
        "",
    ]


def flight_section(results: Results) -> list[str]:
    """Flight do_get and do_put GB/s beside pyarrow's Flight server."""
    flight = results.load("flight")
    lines = ["## Arrow Flight: do_get and do_put", ""]
    if flight is None:
        return lines + [results.missing("flight"), ""]
    lines += [
        "`bench_flight.py`: a `pyarrow.flight.FlightClient` reads (`do_get(...).read_all()`) "
        "and writes (`do_put` of the whole table) a table of 4 columns, from and to our "
        "instance's Flight service and pyarrow's own `FlightServerBase` holding the table in "
        f"its memory. Best of {flight['repeat']} transfers ({SMALL_REPEAT_NOTE}); "
        "GB/s = 10^9 bytes per second. The table our do_put made is deleted after the timing.",
        "",
    ]
    items = []
    for row in flight["rows"]:
        for key in ("do_get", "do_put"):
            ours = row["nbytes"] / row[key] / 1e9
            theirs = row["nbytes"] / row[f"{key}_pyarrow"] / 1e9
            items.append(([key, human(row["size"])], ours, {"pyarrow Flight": theirs}))
    rows, ratios = compared_rows(items, gbps_text, lower_is_better=False)
    lines += markdown_table(
        ["call", "table", "ours", "pyarrow Flight", "best alternative", "ratio"], rows
    )
    return lines + [tally(ratios)]


def arrow_section(results: Results) -> list[str]:
    """Time to the first query result over a table, ours beside an IPC file's memory map."""
    arrow = results.load("arrow")
    lines = ["## Tables into pyarrow, polars and DuckDB", ""]
    if arrow is None:
        return lines + [results.missing("arrow"), ""]
    lines += [
        "`bench_arrow.py`: in a second process (connected, warmed up), from nothing to the "
        "result of `sum(c0)` over a table of 4 columns in 16 MiB batches: ours `client.get(id)` "
        "then the sum in pyarrow, polars (`pl.from_arrow`) or DuckDB (`SELECT ... FROM tbl` "
        "on the value); the baseline reads the same table from an Arrow IPC file through a "
        "memory map (`pa.ipc.open_file(pa.memory_map(path)).read_all()`). Medians, back to "
        "back.",
        "",
    ]
    items = [
        ([row["consumer"], human(row["size"])], row["vineyard"], {"IPC file, mmap": row["ipc"]})
        for row in arrow["rows"]
    ]
    rows, ratios = compared_rows(items, time_text, lower_is_better=True)
    headers = ["reader", "table", "ours", "IPC file, mmap", "best alternative", "ratio"]
    return lines + markdown_table(headers, rows) + [tally(ratios)]


# The baselines of the SQL benchmark, in their table's column order.
SQL_ALTERNATIVES = ("datafusion-python", "DuckDB", "do_get + local")


def sql_section(results: Results) -> list[str]:
    """SQL over a stored table beside in-memory engines, and Flight SQL end to end."""
    sql = results.load("sql")
    lines = ["## SQL over stored tables", ""]
    if sql is None:
        return lines + [results.missing("sql"), ""]
    lines += [
        "`bench_sql.py`: `client.sql` (the query runs in the instance over its shared memory) "
        "beside datafusion-python and DuckDB over the same pyarrow table in the client's "
        "memory; ADBC's Flight SQL driver end to end beside a plain Flight `do_get` of the "
        "whole table and the same query run locally. Best of "
        f"{sql['repeat']} runs; the table: int64 key (1,000 values), float64, string.",
        "",
    ]
    items = []
    for row in sql["rows"]:
        label = [f"{row['rows']:,} rows", row["query"]]
        if row["query"] == "first_batch":
            items.append((label, row["ours"], dict.fromkeys(SQL_ALTERNATIVES)))
            continue
        local = {"datafusion-python": row["datafusion"], "DuckDB": row["duckdb"]}
        items.append((label, row["ours"], {**dict.fromkeys(SQL_ALTERNATIVES), **local}))
        remote = {"do_get + local": row["flight_then_local"]}
        adbc_label = [label[0], f"{row['query']} (ADBC)"]
        items.append((adbc_label, row["adbc"], {**dict.fromkeys(SQL_ALTERNATIVES), **remote}))
    rows, ratios = compared_rows(items, time_text, lower_is_better=True)
    headers = ["table", "query", "ours", *SQL_ALTERNATIVES, "best alternative", "ratio"]
    lines += markdown_table(headers, rows)
    return lines + [tally(ratios)]


# The runs of `bench_remote.py`, by column.
REMOTE_RUNS = (
    ("ours", "remote-ours"),
    (V6D, "remote-v6d"),
    ("Vineyard's client, our vineyardd", "remote-v6d-client-ours-server"),
)


def remote_section(results: Results) -> list[str]:
    """Remote put/get GB/s: our client and Vineyard's, beside pyarrow Flight's do_get."""
    lines = ["## Remote put and get (RPC endpoint, loopback)", ""]
    runs = {label: results.load(name) for label, name in REMOTE_RUNS}
    ours = runs["ours"]
    if ours is None:
        return lines + [results.missing("remote-ours"), ""]
    lines += [
        "`bench_remote.py`: `vineyard.connect(host, port)` then `client.put(value)` and "
        "`client.get(id)` of a float64 numpy array and a 4-column pyarrow table: ours (Arrow "
        "Flight) against our vineyardd; Vineyard 0.24.2's RPC client against its own "
        "vineyardd (zstd on, its default) and against ours; pyarrow Flight's `do_get` of the "
        f"same table from pyarrow's own server. Best of {ours['repeat']} ({SMALL_REPEAT_NOTE}); "
        "GB/s = 10^9 bytes/s.",
        "",
    ]
    others = {label: run for label, run in runs.items() if label != "ours"}

    def gbps(run: dict | None, size: int, kind: str, call: str) -> float | None:
        for row in (run or {}).get("rows", []):
            if row["size"] == size and row[kind].get(call):
                return row[kind]["nbytes"] / row[kind][call] / 1e9
        return None

    items = []
    for row in ours["rows"]:
        size = row["size"]
        for kind in ("numpy", "table"):
            for call in ("put", "get"):
                alternatives = {label: gbps(run, size, kind, call) for label, run in others.items()}
                flight = row.get("flight_do_get") if (kind, call) == ("table", "get") else None
                alternatives["pyarrow Flight do_get"] = (
                    row[kind]["nbytes"] / flight / 1e9 if flight else None
                )
                items.append(([f"{kind} {call}", human(size)], gbps(ours, size, kind, call),
                              alternatives))  # fmt: skip
    rows, ratios = compared_rows(items, gbps_text, lower_is_better=False)
    headers = ["call", "size", "ours", *others, "pyarrow Flight do_get", "best alternative",
               "ratio"]  # fmt: skip
    lines += markdown_table(headers, rows)

    def small(run: dict | None, call: str) -> float | None:
        return (run or {}).get("small", {}).get(f"{call}_per_s")

    small_items = [
        ([f"small {call}s (int)"], small(ours, call),
         {label: small(run, call) for label, run in others.items()})
        for call in ("put", "get")
    ]  # fmt: skip
    small_rows, small_ratios = compared_rows(small_items, rate_text, lower_is_better=False)
    lines += markdown_table(["call", "ours", *others, "best alternative", "ratio"], small_rows)
    return lines + [tally(ratios + small_ratios)]


def persist_section(results: Results) -> list[str]:
    """Save/load beside pyarrow, cp and boto3; puts while spilling; get of a spilled array."""
    persist = results.load("persist")
    lines = ["## Save, load and spilling", ""]
    if persist is None:
        return lines + [results.missing("persist"), ""]
    local, s3, spill = persist["local"], persist["s3"], persist["spill"]
    size, s3_size = human(persist["size"]), human(persist["s3_size"])
    lines += [
        "`bench_persist.py`: `client.save` / `client.load` of a 4-column table and a float64 "
        f"numpy array of {size} to a local directory (`/var/tmp`, no Arrow file) beside "
        "`pyarrow.ipc` and `pyarrow.parquet` writing and reading the same table there and `cp` "
        f"of its IPC file; {s3_size} to moto's S3 server on loopback beside boto3's "
        "`upload_file` / `download_file` of the same bytes; 4 MiB numpy puts per second into "
        "a store a quarter of the data's size with `--spill_path` beside a store that holds it "
        "all; `get` (and a sum) of a spilled array beside reading its spill file with numpy. "
        f"Local and S3 rows: the median of {persist.get('rounds', 1)} interleaved round(s), each "
        "write timed after a `sync`; spilling: one run each.",
        "",
    ]
    writes = {"cp": local["cp_s"], "pyarrow.ipc write": local["pyarrow_ipc_write_s"],
              "pyarrow.parquet write": local["pyarrow_parquet_write_s"]}  # fmt: skip
    reads = {"cp": local["cp_s"], "pyarrow.ipc read (copy)": local["pyarrow_ipc_read_copy_s"],
             "pyarrow.parquet read": local["pyarrow_parquet_read_s"]}  # fmt: skip
    items = [
        ([f"table save, {size}"], local["ours_table_save_s"], writes),
        ([f"table save with its Arrow file, {size}"],
         local["ours_table_save_with_arrow_file_s"], writes),
        ([f"numpy save, {size}"], local["ours_numpy_save_s"], {"cp": local["cp_s"]}),
        ([f"table load, {size}"], local["ours_table_load_s"], reads),
        ([f"numpy load, {size}"], local["ours_numpy_load_s"], {"cp": local["cp_s"]}),
        ([f"save to S3, {s3_size}"], s3["ours_save_s"],
         {"boto3 upload_file": s3["boto3_upload_file_s"]}),
        ([f"load from S3, {s3_size}"], s3["ours_load_s"],
         {"boto3 download_file": s3["boto3_download_file_s"]}),
        (["get of a spilled array, " + human(spill["spilled_get_bytes"])], spill["spilled_get_s"],
         {"read its spill file": spill["read_spill_file_s"]}),
    ]  # fmt: skip
    rows, ratios = [], []
    for labels, ours, alternatives in items:
        name, shown, ratio = versus(ours, alternatives, lower_is_better=True)
        rows.append([*labels, time_text(ours), name, time_text(alternatives[name]) if
                     name in alternatives else NONE, shown])  # fmt: skip
        ratios.append(ratio)
    lines += markdown_table(["what", "ours", "best alternative", "its time", "ratio"], rows)
    puts = spill["puts_per_s_spilling"]
    lines += markdown_table(
        ["4 MiB puts", "with spilling", "without (store holds all)", "ratio"],
        [["per second", rate_text(puts), rate_text(spill["puts_per_s_no_spill"]),
          f"{puts / spill['puts_per_s_no_spill']:.2f}"]],
    )  # fmt: skip
    return lines + [tally(ratios)]


def startup_section(results: Results) -> list[str]:
    """Time from spawn to an accepting socket, per server."""
    lines = ["## Server start-up", ""]
    servers = results.servers()
    if not set(servers) - {V6D}:
        return lines + [results.missing("server-ours", "server-ours-bin"), ""]
    lines += [
        "`bench_server.py`: from spawning the server (`--size 3Gi --meta local --rpc=false`) "
        "until its socket accepts a connection; median and minimum of the starts.",
        "",
    ]
    medians = {label: statistics.median(data["startup"]) for label, data in servers.items()}
    alternatives = {V6D: medians.get(V6D)}
    items = [
        ([label, time_text(min(servers[label]["startup"]))], value, alternatives)
        for label, value in medians.items()
        if label != V6D
    ]
    rows, ratios = compared_rows(items, time_text, lower_is_better=True)
    headers = ["server", "min", "median", f"{V6D} (median)", "best alternative", "ratio"]
    return lines + markdown_table(headers, rows) + [tally(ratios)]


def memory_section(results: Results) -> list[str]:
    """Server memory growth per small object."""
    lines = ["## Memory per object", ""]
    servers = results.servers()
    ours = servers.get(SERVER_RUNS[0][0])
    if ours is None:
        return lines + [results.missing("server-ours"), ""]
    objects = ours["memory"]["objects"]
    lines += [
        f"`bench_server.py`: {objects:,} small ints, then {objects:,} float64[8] arrays, put "
        "and kept; growth of the server's resident memory (VmRSS; RssAnon: its heap) and of "
        "`status.memory_usage` (shared memory in use), divided by the number of objects. "
        "Ours: `python -m vineyard`.",
        "",
    ]

    def figure(label: str, kind: str, key: str) -> float | None:
        rows = servers.get(label, {}).get("memory", {}).get("rows", [])
        return next((row[key] for row in rows if row["kind"] == kind), None)

    measures = (
        ("VmRSS", "resident memory"),
        ("RssAnon", "heap (RssAnon)"),
        ("usage", "shared memory in use"),
    )
    items = [
        ([row["kind"], label], row[key], {V6D: figure(V6D, row["kind"], key)})
        for row in ours["memory"]["rows"]
        for key, label in measures
    ]
    rows, ratios = compared_rows(items, bytes_text, lower_is_better=True)
    headers = ["object", "per object", "ours", V6D, "best alternative", "ratio"]
    return lines + markdown_table(headers, rows) + [tally(ratios)]


SUITE_RUNS = (("our package", "suite-ours"), ("Vineyard 0.24.2's client", "suite-vineyard"))


def suite_section(results: Results) -> list[str]:
    """Vineyard's own test suite against our instance: pass counts per client."""
    lines = ["## Vineyard 0.24.2's own test suite", ""]
    runs = [(label, results.load(name), name) for label, name in SUITE_RUNS]
    if all(run is None for _, run, _ in runs):
        return lines + [results.missing(*(name for _, name in SUITE_RUNS)), ""]
    lines += [
        "`tests/vineyard_suite/run.py`: the Python tests shipped in the `vineyard==0.24.2` "
        "wheel, run against our `vineyardd` (IPC socket and RPC endpoint), once with our "
        "package and once with Vineyard's own client. xfailed: the deliberate differences "
        "listed, each with its reason, in `tests/vineyard_suite/deviations.txt`; skipped: where "
        "the suite itself skips (optional libraries not installed).",
        "",
    ]
    rows = []
    for label, run, name in runs:
        if run is None:
            rows.append([label, results.missing(name), NONE, NONE, NONE, NONE])
            continue
        rows.append([label, str(run["passed"]), str(run["failed"]), str(run["xfailed"]),
                     str(run["skipped"]), str(run["total"])])  # fmt: skip
    return lines + markdown_table(
        ["client", "passed", "failed", "xfailed", "skipped", "tests"], rows
    )


def steps_section(results: Results) -> list[str]:
    """What ran, how long it took, and what failed or was skipped."""
    lines = ["## Steps of this run", ""]
    rows = []
    for step in results.run["steps"]:
        seconds = f"{step['seconds']:.0f} s" if "seconds" in step else NONE
        notes = [step[key] for key in ("reason", "left_behind") if key in step]
        rows.append([f"`{step['name']}`", step["status"], seconds, "; ".join(notes)])
    lines += markdown_table(["step", "status", "time", "note"], rows)
    total = results.run.get("seconds")
    if total is not None:
        lines += [f"The whole run took {total / 60:.1f} minutes.", ""]
    return lines


# -- the document -------------------------------------------------------------------------------


def write(out: str, markdown: str, chart_path: str) -> None:
    """Writes the report `markdown` and the chart `chart_path` from the results in `out`."""
    results = Results(out)
    drawn = chart(results, chart_path)
    link = os.path.relpath(chart_path, os.path.dirname(os.path.abspath(markdown)))
    lines = header(results)
    for section in (
        lambda: put_get_section(results, link if drawn else ""),
        lambda: first_put_section(results),
        lambda: small_objects_section(results),
        lambda: criterion_section(results),
        lambda: meta_section(results),
        lambda: visibility_section(results),
        lambda: flight_section(results),
        lambda: arrow_section(results),
        lambda: sql_section(results),
        lambda: remote_section(results),
        lambda: persist_section(results),
        lambda: suite_section(results),
        lambda: startup_section(results),
        lambda: memory_section(results),
        lambda: steps_section(results),
    ):
        lines += section()
    text = "\n".join(lines).rstrip() + "\n"
    with open(markdown, "w") as output:
        output.write(text)


def main() -> None:
    """Writes the report from an earlier run."""
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--out", default=os.path.join(ROOT, "target", "bench"))
    arguments.add_argument("--markdown", default=os.path.join(ROOT, "BENCHMARKS.md"))
    arguments.add_argument("--chart", default=os.path.join(ROOT, "docs", "benchmarks.png"))
    args = arguments.parse_args()
    write(args.out, args.markdown, args.chart)


if __name__ == "__main__":
    main()
