from typing import Any

from vineyard import io as io
from vineyard._native import (
    AssertionFailedException as AssertionFailedException,
)
from vineyard._native import Blob as Blob
from vineyard._native import BlobBuilder as BlobBuilder
from vineyard._native import (
    ConnectionErrorException as ConnectionErrorException,
)
from vineyard._native import (
    ConnectionFailedException as ConnectionFailedException,
)
from vineyard._native import (
    EtcdErrorException as EtcdErrorException,
)
from vineyard._native import (
    GlobalObjectInvalidException as GlobalObjectInvalidException,
)
from vineyard._native import (
    InvalidException as InvalidException,
)
from vineyard._native import (
    IOErrorException as IOErrorException,
)
from vineyard._native import (
    KeyErrorException as KeyErrorException,
)
from vineyard._native import (
    MetaTreeInvalidException as MetaTreeInvalidException,
)
from vineyard._native import (
    NotEnoughMemoryException as NotEnoughMemoryException,
)
from vineyard._native import (
    NotImplementedException as NotImplementedException,
)
from vineyard._native import (
    ObjectExistsException as ObjectExistsException,
)
from vineyard._native import ObjectID as ObjectID
from vineyard._native import (
    ObjectNotExistsException as ObjectNotExistsException,
)
from vineyard._native import (
    ObjectNotSealedException as ObjectNotSealedException,
)
from vineyard._native import (
    ObjectSealedException as ObjectSealedException,
)
from vineyard._native import (
    TypeErrorException as TypeErrorException,
)
from vineyard._native import (
    UnknownErrorException as UnknownErrorException,
)
from vineyard._native import (
    UserInputErrorException as UserInputErrorException,
)
from vineyard._native import (
    VineyardException as VineyardException,
)
from vineyard.core import BuilderContext as BuilderContext
from vineyard.core import Client as Client
from vineyard.core import InstanceStatus as InstanceStatus
from vineyard.core import IPCClient as IPCClient
from vineyard.core import Object as Object
from vineyard.core import ObjectMeta as ObjectMeta
from vineyard.core import ObjectName as ObjectName
from vineyard.core import ResolverContext as ResolverContext
from vineyard.core import builder_context as builder_context
from vineyard.core import connect as connect
from vineyard.core import default_builder_context as default_builder_context
from vineyard.core import default_resolver_context as default_resolver_context
from vineyard.core import resolver_context as resolver_context
from vineyard.data import register_builtin_types as register_builtin_types

__all__ = [
    "Blob",
    "BlobBuilder",
    "BuilderContext",
    "Client",
    "IPCClient",
    "InstanceStatus",
    "Object",
    "ObjectID",
    "ObjectMeta",
    "ObjectName",
    "ResolverContext",
    "VineyardException",
    "__version__",
    "builder_context",
    "connect",
    "default_builder_context",
    "default_resolver_context",
    "get",
    "get_current_client",
    "put",
    "register_builtin_types",
    "resolver_context",
    "AssertionFailedException",
    "ConnectionErrorException",
    "ConnectionFailedException",
    "EtcdErrorException",
    "GlobalObjectInvalidException",
    "IOErrorException",
    "InvalidException",
    "KeyErrorException",
    "MetaTreeInvalidException",
    "NotEnoughMemoryException",
    "NotImplementedException",
    "ObjectExistsException",
    "ObjectNotExistsException",
    "ObjectNotSealedException",
    "ObjectSealedException",
    "TypeErrorException",
    "UnknownErrorException",
    "UserInputErrorException",
    "VineyardException",
]

__version__: str

def get_current_client() -> IPCClient: ...
def put(
    value: Any, builder: Any = None, persist: bool = False, name: str | None = None, **kw: Any
) -> ObjectID: ...
def get(
    object_id: Any = None,
    name: str | None = None,
    resolver: Any = None,
    fetch: bool = False,
    **kw: Any,
) -> Any: ...
