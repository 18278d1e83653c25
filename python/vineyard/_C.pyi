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
from vineyard._native import RemoteBlob as RemoteBlob
from vineyard._native import RemoteBlobBuilder as RemoteBlobBuilder
from vineyard._native import (
    TypeErrorException as TypeErrorException,
)
from vineyard._native import (
    UnknownErrorException as UnknownErrorException,
)
from vineyard._native import (
    UserInputErrorException as UserInputErrorException,
)
from vineyard._native import VineyardException as VineyardException
from vineyard.core.client import InstanceStatus as InstanceStatus
from vineyard.core.client import IPCClient as IPCClient
from vineyard.core.client import connect as connect
from vineyard.core.meta import ObjectMeta as ObjectMeta
from vineyard.core.meta import ObjectName as ObjectName
from vineyard.core.object import Object as Object
from vineyard.core.rpc import RPCClient as RPCClient

__all__ = [
    "Blob",
    "BlobBuilder",
    "IPCClient",
    "InstanceStatus",
    "Object",
    "ObjectID",
    "ObjectMeta",
    "ObjectName",
    "RPCClient",
    "RemoteBlob",
    "RemoteBlobBuilder",
    "VineyardException",
    "connect",
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
