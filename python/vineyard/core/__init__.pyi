from vineyard.core.builder import BuilderContext as BuilderContext
from vineyard.core.builder import builder_context as builder_context
from vineyard.core.builder import default_builder_context as default_builder_context
from vineyard.core.builder import get_current_builders as get_current_builders
from vineyard.core.client import Client as Client
from vineyard.core.client import InstanceStatus as InstanceStatus
from vineyard.core.client import IPCClient as IPCClient
from vineyard.core.client import connect as connect
from vineyard.core.meta import ObjectMeta as ObjectMeta
from vineyard.core.meta import ObjectName as ObjectName
from vineyard.core.object import Object as Object
from vineyard.core.resolver import ResolverContext as ResolverContext
from vineyard.core.resolver import default_resolver_context as default_resolver_context
from vineyard.core.resolver import get_current_resolvers as get_current_resolvers
from vineyard.core.resolver import resolver_context as resolver_context

__all__ = [
    "BuilderContext",
    "Client",
    "IPCClient",
    "InstanceStatus",
    "Object",
    "ObjectMeta",
    "ObjectName",
    "ResolverContext",
    "builder_context",
    "connect",
    "default_builder_context",
    "default_resolver_context",
    "get_current_builders",
    "get_current_resolvers",
    "resolver_context",
]
