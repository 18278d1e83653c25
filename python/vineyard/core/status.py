"""`InstanceStatus`: what `client.status` reports, for the IPC and the RPC client alike.

The class is the native module's, whose fields are the Rust struct's (defined once there).
"""

from __future__ import annotations

from vineyard._native import InstanceStatus

__all__ = ["InstanceStatus"]
