"""Vineyard 0.24.2's own spilling calls (`evict`, `load(pin=...)`, `unpin`) against our
vineyardd started with `--spill_path`: spilled objects read back right."""

import numpy as np
import vineyard
from conftest import READY_TIMEOUT, vineyardd_path
from support import running_server


def test_evict_load_and_unpin_from_vineyards_client(tmp_path):
    with running_server(
        "64Mi", "--meta", "local", f"--spill_path={tmp_path}",
        command=[str(vineyardd_path())], ready_timeout=READY_TIMEOUT, die_with_parent=True,
    ) as server:  # fmt: skip
        client = vineyard.connect(str(server.socket))
        arrays = [np.full(1 << 20, n, dtype=np.int64) for n in range(3)]
        ids = [client.put(array) for array in arrays]
        client.evict(ids)
        assert client.status.memory_usage == 0, "every blob is on disk"
        spilled = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith(".")]
        assert len(spilled) == 3, f"one spill file per blob (besides the owner lock): {spilled}"
        client.load([ids[0]], pin=True)
        client.evict([ids[0]])
        assert client.status.memory_usage >= 8 << 20, "a pinned object stays"
        client.unpin([ids[0]])
        for object_id, array in zip(ids, arrays, strict=True):
            np.testing.assert_array_equal(client.get(object_id), array)
        client.close()
