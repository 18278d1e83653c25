"""Runs every benchmark beside its baselines, then writes BENCHMARKS.md and its chart (what
`make bench` runs; `make bench QUICK=1` passes `--quick`).

    .venv/dev/bin/python python/benchmarks/run_all.py [--quick] [--etcd PATH] \
        [--vineyardd target/release/vineyardd] [--v6d-python .venv/interop/bin/python]

Steps, in order (`--only a,b` runs some of them): the criterion benches of vineyard-core
(put/get beside memcpy; the cluster bench on a real etcd), then the Python benchmarks, each
for ours (`python -m vineyard`, this interpreter) and for Vineyard 0.24.2 (its client in
`--v6d-python`, its `vineyardd` from that wheel): put/get, metadata, server start-up and
memory, Flight against pyarrow's Flight server, save/load/spilling against pyarrow, cp
and boto3 (`bench_persist.py`), tables read into pyarrow, polars and DuckDB beside an
Arrow IPC file's memory map (`bench_arrow.py`), and SQL against datafusion-python and DuckDB
(`bench_sql.py`). Each step writes JSON into `--out` and
its output to the console and `--out`/logs/STEP.log. A step that fails, or cannot run (no
Vineyard 0.24.2, no etcd), is recorded in `--out`/run.json and named in the report; the
others still run. Every step stops the processes it started, also when it fails.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

import report
from common import V6D_LABEL, V6D_VERSION
from servers import stop_group, stop_on_sigterm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# criterion with --quick: only sizes up to 16 MiB (first_put's 256 MiB put stays).
QUICK_CRITERION_FILTER = "^(put|get)/[^/]+/(1KiB|64KiB|1MiB|16MiB)$|^small_roundtrip|^first_put"


@dataclass
class Step:
    """One benchmark run: a command, and what it needs that may be missing."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    missing: str | None = None


def command_output(command: list[str]) -> str | None:
    """The stripped output of a command, or None if it cannot run or fails."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def find_v6d(python: str | None) -> dict:
    """Vineyard 0.24.2's client interpreter and `vineyardd`, or why they cannot be used."""
    if not python or not os.access(python, os.X_OK):
        return {"available": False, "reason": f"no interpreter at {python!r} (`make venv`)"}
    code = (
        "import os, vineyard; print(vineyard.__version__); "
        "print(os.path.join(os.path.dirname(vineyard.__file__), 'bdist', 'vineyardd'))"
    )
    output = command_output([python, "-c", code])
    if output is None:
        return {"available": False, "reason": f"`import vineyard` fails in {python}"}
    version, vineyardd = output.splitlines()[-2:]
    if version != V6D_VERSION:
        return {"available": False, "reason": f"{python} has vineyard {version}, not {V6D_VERSION}"}
    if not os.access(vineyardd, os.X_OK):
        return {"available": False, "reason": f"the wheel has no vineyardd at {vineyardd}"}
    return {"available": True, "python": python, "vineyardd": vineyardd, "version": version}


def machine() -> dict:
    """What the figures were measured on."""
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    with open("/proc/cpuinfo") as cpuinfo:
        models = [
            line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
        ]
    if models:
        info["cpu"] = models[0]
    with open("/proc/meminfo") as meminfo:
        info["ram_bytes"] = int(meminfo.readline().split()[1]) * 1024
    info["kernel"] = f"{platform.system()} {platform.release()}"
    try:
        info["os"] = platform.freedesktop_os_release().get("PRETTY_NAME")
    except OSError:
        info["os"] = None
    info["python"] = sys.version.split()[0]
    info["rustc"] = command_output(["rustc", "--version"])
    commit = command_output(["git", "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "status", "--porcelain", "--untracked-files=no"])
    info["commit"] = f"{commit}{' + local changes' if dirty else ''}" if commit else None
    info["load_average"] = os.getloadavg()
    return info


def package_versions() -> dict:
    """Versions of the Python packages measured or used as baselines."""
    import numpy
    import pyarrow
    import vineyard

    return {
        "vineyard (ours)": vineyard.__version__,
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
    }


def steps(args: argparse.Namespace, out: str, v6d: dict) -> list[Step]:
    """Every step, in the order they run. A step's JSON is `out`/STEP.json."""
    no_v6d = None if v6d["available"] else v6d["reason"]
    no_etcd = None if args.etcd and os.access(args.etcd, os.X_OK) else "no etcd program (--etcd)"
    no_binary = None if os.access(args.vineyardd, os.X_OK) else f"no {args.vineyardd}"
    v6d_python = v6d.get("python", "")
    v6d_server = ["--server-cmd", v6d.get("vineyardd", ""), "--label", V6D_LABEL]
    ours_binary = ["--server-cmd", args.vineyardd, "--label", "ours (vineyardd)"]
    etcd = ["--etcd", args.etcd] if args.etcd else []
    criterion = [args.cargo, "bench", "-p", "vineyard-core", "--bench"]
    quick_criterion = ["--quick", QUICK_CRITERION_FILTER] if args.quick else []

    def python(name: str, interpreter: str, script: str, *extra: str, missing=None) -> Step:
        command = [interpreter, os.path.join(HERE, script), *extra]
        command += ["--json", os.path.join(out, f"{name}.json")]
        if args.quick:
            command.append("--quick")
        return Step(name, command, missing=missing)

    return [
        Step(
            "criterion-put-get",
            [*criterion, "put_get", "--", *quick_criterion],
            env={"CRITERION_HOME": os.path.join(out, "criterion")},
        ),
        Step(
            "criterion-cluster",
            [*criterion, "cluster", "--", "--json", os.path.join(out, "criterion-cluster.json")],
            env={"VINEYARD_ETCD_CMD": args.etcd or ""},
            missing=no_etcd,
        ),
        python("put-get-ours", sys.executable, "bench_put_get.py"),
        python("put-get-v6d", v6d_python, "bench_put_get.py", "--no-baselines", *v6d_server,
               missing=no_v6d),
        python("meta-ours", sys.executable, "bench_meta.py", *etcd),
        python("meta-v6d", v6d_python, "bench_meta.py", *etcd, *v6d_server, missing=no_v6d),
        python("server-ours", sys.executable, "bench_server.py"),
        python("server-ours-bin", sys.executable, "bench_server.py", *ours_binary,
               missing=no_binary),
        python("server-v6d", v6d_python, "bench_server.py", *v6d_server, missing=no_v6d),
        python("flight", sys.executable, "bench_flight.py"),
        python("persist", sys.executable, "bench_persist.py"),
        python("arrow", sys.executable, "bench_arrow.py"),
        python("sql", sys.executable, "bench_sql.py"),
        python("remote-ours", sys.executable, "bench_remote.py", *ours_binary, missing=no_binary),
        python("remote-v6d", v6d_python, "bench_remote.py", "--no-baselines", *v6d_server,
               missing=no_v6d),
        python("remote-v6d-client-ours-server", v6d_python, "bench_remote.py", "--no-baselines",
               "--server-cmd", args.vineyardd, "--label", "Vineyard's client, our vineyardd",
               missing=no_v6d or no_binary),
        *suite_steps(args, out, v6d_python, no_v6d or no_binary),
    ]  # fmt: skip


def suite_steps(args: argparse.Namespace, out: str, v6d_python: str, missing) -> list[Step]:
    """Vineyard 0.24.2's own test suite against our `vineyardd`, with our package and with
    Vineyard's client: pass counts for the report (not timed; `make test` runs it too)."""
    site = None
    if not missing:
        site = command_output(
            [v6d_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        )
        missing = None if site else f"no site-packages from {v6d_python}"
    run = os.path.join(ROOT, "tests", "vineyard_suite", "run.py")
    result = []
    for client, interpreter in (("ours", sys.executable), ("vineyard", v6d_python)):
        name = f"suite-{client}"
        command = [sys.executable, run, "--client", client, "--python", interpreter,
                   "--vineyardd", args.vineyardd, "--site-packages", site or "",
                   "--json", os.path.join(out, f"{name}.json")]  # fmt: skip
        result.append(Step(name, command, missing=missing))
    return result


def run_step(step: Step, logs: str) -> dict:
    """Runs a step, its output to the console and to its log; returns its record."""
    record = {"name": step.name, "command": step.command}
    if step.missing:
        print(f"\n==> {step.name}: skipped ({step.missing})", flush=True)
        return {**record, "status": "skipped", "reason": step.missing}
    print(f"\n==> {step.name}", flush=True)
    log_path = os.path.join(logs, f"{step.name}.log")
    started = time.monotonic()
    env = {**os.environ, **step.env}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            step.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
            start_new_session=True,  # its own process group: whatever it leaves is stopped
        )
        try:
            for line in process.stdout:
                sys.stdout.write(line)
                log.write(line)
            process.wait()
        finally:
            left_behind = stop_group(process)
            process.stdout.close()
    record["seconds"] = round(time.monotonic() - started, 1)
    if left_behind:
        record["left_behind"] = "processes still running after the step ended (stopped)"
        print(f"==> {step.name}: {record['left_behind']}", flush=True)
    if process.returncode == 0:
        return {**record, "status": "ok"}
    with open(log_path) as log:
        last = (log.read().strip().splitlines() or [""])[-1]
    reason = f"exit status {process.returncode}: {last.strip()}"
    print(f"==> {step.name} failed ({reason})", flush=True)
    return {**record, "status": "failed", "reason": reason}


def main() -> None:
    """Runs the steps and writes the report."""
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--quick", action="store_true", help="short run (to check it works)")
    arguments.add_argument("--out", default=os.path.join(ROOT, "target", "bench"))
    arguments.add_argument("--markdown", default=os.path.join(ROOT, "BENCHMARKS.md"))
    arguments.add_argument("--chart", default=os.path.join(ROOT, "docs", "benchmarks.png"))
    arguments.add_argument("--etcd", help="the etcd program (cluster and etcd metadata steps)")
    arguments.add_argument(
        "--vineyardd", default=os.path.join(ROOT, "target", "release", "vineyardd")
    )
    arguments.add_argument(
        "--v6d-python", default=os.path.join(ROOT, ".venv", "interop", "bin", "python")
    )
    arguments.add_argument("--cargo", default="cargo")
    arguments.add_argument("--only", help="comma-separated step names to run (default: all)")
    args = arguments.parse_args()
    stop_on_sigterm()

    out, started = os.path.abspath(args.out), time.monotonic()
    shutil.rmtree(out, ignore_errors=True)
    logs = os.path.join(out, "logs")
    os.makedirs(logs)
    v6d = find_v6d(args.v6d_python)
    run = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "machine": machine(),
        "versions": package_versions(),
        "v6d": v6d,
        "steps": [],
    }
    selected = set(args.only.split(",")) if args.only else None
    for step in steps(args, out, v6d):
        if selected is None or step.name in selected:
            run["steps"].append(run_step(step, logs))
            with open(os.path.join(out, "run.json"), "w") as output:
                json.dump(run, output, indent=1)
    run["seconds"] = round(time.monotonic() - started, 1)
    run["machine"]["load_average_after"] = os.getloadavg()
    with open(os.path.join(out, "run.json"), "w") as output:
        json.dump(run, output, indent=1)
    report.write(out, args.markdown, args.chart)
    print(f"\nwrote {args.markdown} and {args.chart} ({run['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
