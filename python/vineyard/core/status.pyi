from typing import Any

__all__ = ["InstanceStatus"]

class InstanceStatus:
    instance_id: int
    deployment: str
    memory_usage: int
    memory_limit: int
    deferred_requests: int
    ipc_connections: int
    rpc_connections: int
    def __init__(self, fields: dict[str, Any]) -> None: ...
    def as_dict(self) -> dict[str, Any]: ...
