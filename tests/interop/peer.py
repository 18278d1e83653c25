"""A second vineyard client process for the interop tests.

Usage: `python peer.py SOCKET`. Connects with the pip client, prints one JSON line
`{"ok": true, "result": {"instance_id": N}}`, then answers requests read from stdin, one JSON
object per line (`{"op": NAME, "args": {...}}`), with one JSON line each:
`{"ok": true, "result": ...}` or `{"ok": false, "error": EXCEPTION_TYPE, "message": TEXT}`.

Object ids travel as plain integers. Byte contents come back as a SHA-256 digest, the size and,
for small values, the hex text, so the test can compare them with what it put.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import vineyard

SMALL = 4096


def mapping_of(address: int) -> str | None:
    """The /proc/self/maps line whose range contains `address`."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            start, end = (int(part, 16) for part in line.split()[0].split("-"))
            if start <= address < end:
                return line.strip()
    return None


def describe_bytes(data: bytes | memoryview, address: int | None) -> dict:
    data = bytes(data)
    return {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "hex": data.hex() if len(data) <= SMALL else None,
        "mapping": mapping_of(address) if address else None,
    }


def describe_array(array: np.ndarray) -> dict:
    flat = np.asarray(array).reshape(-1)
    return {
        "type": type(array).__name__,
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "sha256": hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest(),
        "head": flat[:3].tolist(),
        "tail": flat[-3:].tolist(),
        "writeable": bool(array.flags.writeable),
        "owndata": bool(array.flags.owndata),
        "mapping": mapping_of(array.ctypes.data) if array.size else None,
    }


class Session:
    def __init__(self, socket_path: str) -> None:
        self.client = vineyard.connect(socket_path)
        self.held: dict[int, vineyard.Blob] = {}

    def get_array(self, id: int) -> dict:
        value = self.client.get(vineyard.ObjectID(id))
        assert isinstance(value, np.ndarray), f"got {type(value).__name__}"
        return describe_array(value)

    def get_bytes(self, id: int) -> dict:
        value = self.client.get(vineyard.ObjectID(id))
        assert isinstance(value, memoryview), f"got {type(value).__name__}"
        address = np.frombuffer(value, dtype=np.uint8).ctypes.data if len(value) else None
        result = describe_bytes(value, address)
        result["readonly"] = value.readonly
        return result

    def get_blob(self, id: int, unsafe: bool = False, hold: bool = False) -> dict:
        blob = self.client.get_blob(vineyard.ObjectID(id), unsafe)
        if hold:
            self.held[id] = blob
        return describe_bytes(memoryview(blob), blob.address)

    def read_held(self, id: int) -> dict:
        blob = self.held[id]
        return describe_bytes(memoryview(blob), blob.address)

    def put_bytes(self, hex: str) -> int:
        return int(self.client.put(bytes.fromhex(hex)))

    def get_meta(self, id: int) -> dict:
        meta = self.client.get_meta(vineyard.ObjectID(id))
        return {
            "id": int(meta.id),
            "typename": meta.typename,
            "nbytes": meta.nbytes,
            "transient": meta["transient"],
            "ispersist": self.client.get_object(vineyard.ObjectID(id)).ispersist
            if meta.typename != "vineyard::Blob"
            else False,
        }

    def get_name(self, name: str, wait: bool = False) -> int:
        return int(self.client.get_name(name, wait))

    def get_by_name(self, name: str) -> dict:
        return describe_array(self.client.get(name=name))

    def exists(self, id: int) -> bool:
        return self.client.exists(vineyard.ObjectID(id))

    def status(self) -> dict:
        status = self.client.status
        return {
            "instance_id": status.instance_id,
            "memory_usage": status.memory_usage,
            "memory_limit": status.memory_limit,
            "ipc_connections": status.ipc_connections,
        }

    def close(self) -> None:
        self.held.clear()
        self.client.close()


def main() -> None:
    session = Session(sys.argv[1])
    print(json.dumps({"ok": True, "result": {"instance_id": session.client.instance_id}}))
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = getattr(session, request["op"])(**request["args"])
            reply = {"ok": True, "result": result}
        except Exception as error:  # report every client error to the test
            reply = {"ok": False, "error": type(error).__name__, "message": str(error)}
        print(json.dumps(reply), flush=True)
        if request["op"] == "close":
            break


if __name__ == "__main__":
    main()
