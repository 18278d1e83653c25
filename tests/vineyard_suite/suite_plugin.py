"""The pytest plugin `run.py` loads into Vineyard's suite (`-p suite_plugin`).

- Makes the suite's conftest importable as `vineyard.conftest` (its tests import fixtures from
  there), which `run.py` then loads as a plugin (`-p vineyard.conftest`: its options and
  fixtures). With Vineyard's own client it is the conftest of the installed package; with
  ours, the copy `run.py` made.
- Gives scipy's sparse matrices back their `.A` (the dense array), which the suite's sparse
  tests read and scipy 1.14 removed (the numpy this project pins needs scipy >= 1.14): a
  stand-in for the suite's own use of a gone API, so that those tests run.
- Marks the tests listed in `deviations.txt` for the current client as
  `xfail(strict=True, reason)`: a deliberate difference must still show, or the run fails.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

CLIENT = os.environ["VINEYARD_SUITE_CLIENT"]
SUITE = Path(os.environ["VINEYARD_SUITE_DIR"])
DEVIATIONS = Path(os.environ["VINEYARD_SUITE_DEVIATIONS"])


def _conftest():
    import vineyard

    if CLIENT == "vineyard":
        import vineyard.conftest as conftest

        return conftest
    spec = importlib.util.spec_from_file_location(
        "vineyard.conftest", SUITE / "vineyard_conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["vineyard.conftest"] = module
    spec.loader.exec_module(module)
    vineyard.conftest = module
    return module


def read_deviations(path: Path, client: str) -> dict[str, str]:
    """`{test id: reason}` of the lines `CLIENT TEST_ID | reason` for `client` (`#` starts a
    comment line). Test ids are relative to the suite: `data_tests/test_base.py::test_list[...]`."""
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        head, sep, reason = line.partition("|")
        parts = head.split()
        if not sep or len(parts) != 2 or not reason.strip():
            raise pytest.UsageError(
                f"{path}:{number}: expected `CLIENT TEST_ID | reason`, got {line!r}"
            )
        if parts[0] not in ("ours", "vineyard", "both"):
            raise pytest.UsageError(f"{path}:{number}: CLIENT is ours, vineyard or both")
        if parts[0] in (client, "both"):
            found[parts[1]] = reason.strip()
    return found


# Before pytest imports `-p vineyard.conftest` (the next plugin on the command line).
_conftest()


def _restore_sparse_dense_attribute() -> None:
    try:
        from scipy.sparse import _base
    except ImportError:  # scipy is optional: its tests skip themselves
        return
    if not hasattr(_base._spbase, "A"):
        _base._spbase.A = property(lambda matrix: matrix.toarray())


_restore_sparse_dense_attribute()


def pytest_collection_modifyitems(config, items):
    deviations = read_deviations(DEVIATIONS, CLIENT)
    seen = set()
    for item in items:
        test_id = item.nodeid
        reason = deviations.get(test_id)
        if reason is not None:
            seen.add(test_id)
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
    missing = sorted(set(deviations) - seen)
    if missing:
        raise pytest.UsageError(
            f"{DEVIATIONS} lists tests the suite does not have: {', '.join(missing)}"
        )
