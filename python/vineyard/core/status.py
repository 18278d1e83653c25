"""`InstanceStatus`: what `client.status` reports, for the IPC and the RPC client alike."""

from __future__ import annotations

from typing import Any

__all__ = ["InstanceStatus"]

_STATUS_FIELDS = (
    "instance_id",
    "deployment",
    "memory_usage",
    "memory_limit",
    "deferred_requests",
    "ipc_connections",
    "rpc_connections",
)


class InstanceStatus:
    """What `client.status` reports about the instance."""

    __slots__ = _STATUS_FIELDS

    def __init__(self, fields: dict[str, Any]) -> None:
        for name in _STATUS_FIELDS:
            setattr(self, name, fields.get(name))

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _STATUS_FIELDS}

    def __repr__(self) -> str:
        lines = ["InstanceStatus:"]
        lines.extend(f"    {name}: {getattr(self, name)}" for name in _STATUS_FIELDS)
        return "\n".join(lines)

    __str__ = __repr__
