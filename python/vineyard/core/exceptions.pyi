from vineyard._native import VineyardException as VineyardException

__all__ = ["VineyardException", "native_exceptions"]

def native_exceptions() -> dict[str, type[BaseException]]: ...
