from vineyard._native import InstanceStatus as InstanceStatus

__all__ = ["InstanceStatus"]
