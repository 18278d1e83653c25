"""Runs Vineyard 0.24.2's own Python test suite against our instance.

The suite ships in the `vineyard==0.24.2` wheel (`vineyard/core/tests`, `vineyard/data/tests`
and `vineyard/conftest.py` in the interop virtualenv's site-packages). It is copied into a
temporary directory at test time (never committed) and run against one of our instances
(`vineyardd`, IPC socket and RPC endpoint both given, as Vineyard's CI does), once per client:

- `--client ours`: run with the Python of `.venv/dev`, where `import vineyard` is our package;
- `--client vineyard`: run with the Python of `.venv/interop`, Vineyard's own client.

Every test must pass, or be listed in `deviations.txt` (`CLIENT TEST_ID | reason`, one line
each) as a deliberate difference: a listed test must then fail (`xfail(strict=True)`), so a
list entry that no longer applies fails the run too. Tests are skipped only where the suite
itself skips them (optional libraries that are not installed, such as pyvelox).

    python tests/vineyard_suite/run.py --client ours --vineyardd target/debug/vineyardd \
        --site-packages .venv/interop/lib/python3.11/site-packages
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.etree import ElementTree

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from support import free_port, running_server  # noqa: E402

# What is copied from Vineyard's package: the two test packages and the conftest.
SUITE_DIRS = ("core/tests", "data/tests")
CONFTEST = "conftest.py"
# The instance the suite runs against: large enough for its 1 GiB memory_trim test and its
# four 100 MiB remote blobs, which it never deletes.
SERVER_SIZE = "4Gi"
# pytest's report of each test, read for `--json`.
JUNIT = "junit.xml"


def copy_suite(site_packages: Path, target: Path) -> None:
    """Copies the suite's test files (and its conftest, as `vineyard_conftest.py`, loaded by
    `plugin.py` as `vineyard.conftest`) out of Vineyard's package into `target`."""
    package = site_packages / "vineyard"
    if not (package / CONFTEST).is_file():
        raise SystemExit(
            f"Vineyard's test suite is not in {package}: install vineyard==0.24.2 there "
            "(`make venv` does)"
        )
    for directory in SUITE_DIRS:
        shutil.copytree(
            package / directory,
            target / directory.replace("/", "_"),
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    shutil.copy(package / CONFTEST, target / "vineyard_conftest.py")


def count_outcomes(junit: Path) -> dict[str, int]:
    """Tests passed, failed (errors included), xfailed and skipped, from pytest's JUnit XML
    (an xfail is a `skipped` element of type `pytest.xfail` there)."""
    counts = {"passed": 0, "failed": 0, "xfailed": 0, "skipped": 0}
    if not junit.is_file():
        return {**counts, "total": 0}
    for case in ElementTree.parse(junit).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failed"] += 1
        elif (skipped := case.find("skipped")) is not None:
            xfail = skipped.get("type") == "pytest.xfail"
            counts["xfailed" if xfail else "skipped"] += 1
        else:
            counts["passed"] += 1
    return {**counts, "total": sum(counts.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", choices=("ours", "vineyard"), required=True)
    parser.add_argument("--python", required=True, help="the interpreter to run pytest with")
    parser.add_argument("--vineyardd", required=True, help="our vineyardd binary")
    parser.add_argument(
        "--site-packages",
        required=True,
        type=Path,
        help="site-packages holding vineyard==0.24.2 (its test suite)",
    )
    parser.add_argument("--json", help="also write the pass counts to this JSON file")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vineyard-suite-") as scratch:
        suite = Path(scratch)
        copy_suite(args.site_packages, suite)
        port = free_port()
        with running_server(
            SERVER_SIZE,
            "--meta=local",
            "--reserve_memory=false",
            f"--rpc_socket_port={port}",
            command=[os.path.abspath(args.vineyardd)],
        ) as server:
            env = dict(os.environ)
            env["VINEYARD_SUITE_CLIENT"] = args.client
            env["VINEYARD_SUITE_DIR"] = str(suite)
            env["VINEYARD_SUITE_DEVIATIONS"] = str(HERE / "deviations.txt")
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
            command = [
                os.path.abspath(args.python),
                "-m",
                "pytest",
                str(suite),
                "-p",
                "suite_plugin",
                "-p",
                "vineyard.conftest",
                "--import-mode=importlib",
                "-o",
                "cache_dir=" + str(suite / ".pytest_cache"),
                "--rootdir",
                str(suite),
                f"--vineyard-ipc-socket={server.socket}",
                f"--vineyard-endpoint=127.0.0.1:{port}",
                "-q",
                "-rfEsxX",
                f"--junitxml={suite / JUNIT}",
                *args.pytest_args,
            ]
            result = subprocess.run(command, env=env, cwd=suite, check=False)
            if args.json:
                counts = {"client": args.client, **count_outcomes(suite / JUNIT)}
                Path(args.json).write_text(json.dumps(counts, indent=2) + "\n")
            if result.returncode != 0:
                print(f"--- our instance's log (last lines) ---\n{server.log_tail(60)}")
            return result.returncode


if __name__ == "__main__":
    sys.exit(main())
