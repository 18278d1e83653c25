from vineyard._native import NotImplementedException
from vineyard._native import VineyardException as VineyardException

__all__ = ["VineyardException", "RemoteAccessNotImplementedException", "native_exceptions"]

def native_exceptions() -> dict[str, type[BaseException]]: ...

class RemoteAccessNotImplementedException(NotImplementedException, NotImplementedError): ...
