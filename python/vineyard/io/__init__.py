"""`vineyard.io`: Vineyard's names for saving and loading objects.

`serialize(path, object_id, ...)` and `deserialize(path, ...)` take Vineyard 0.24.2's
arguments (`vineyard_ipc_socket=`, and `type=` for its drivers, which are not needed here)
and run `IPCClient.save` / `IPCClient.load`: `path` is a URL (`file://`, `s3://`,
`memory://`) or a local path, and `storage_options`, `progress` (and for `serialize`,
`export`) pass through.
"""

from __future__ import annotations

from typing import Any

__all__ = ["deserialize", "serialize"]


def _client(kwargs: dict[str, Any]) -> Any:
    import vineyard

    socket = kwargs.pop("vineyard_ipc_socket", None)
    kwargs.pop("type", None)  # Vineyard's serializer drivers: one built-in one here
    kwargs.pop("vineyard_endpoint", None)
    if socket is None:
        return vineyard.get_current_client(), False
    return vineyard.connect(socket), True


def serialize(path: str, object_id: Any, *args: Any, **kwargs: Any) -> None:
    """Saves the object `object_id` (with its members) to `path`."""
    if args:
        raise TypeError("serialize takes path and object_id, the rest as keywords")
    client, owned = _client(kwargs)
    try:
        client.save(object_id, path, **kwargs)
    finally:
        if owned:
            client.close()


def deserialize(path: str, *args: Any, **kwargs: Any) -> Any:
    """Loads what `serialize` saved at `path`; returns the new object's id."""
    if args:
        raise TypeError("deserialize takes path, the rest as keywords")
    client, owned = _client(kwargs)
    try:
        return client.load(path, **kwargs)
    finally:
        if owned:
            client.close()
