from collections.abc import Sequence
from typing import Any

__all__ = ["SqlSession", "quote_identifier", "run_sql", "sql"]

def quote_identifier(name: str) -> str: ...
def run_sql(
    client: Any,
    options: Any,
    query: str,
    parameters: Sequence[Any] | None = None,
    reader: bool = False,
) -> Any: ...
def sql(
    owner: Any,
    client: Any,
    options: Any,
    query: str,
    parameters: Sequence[Any] | None,
    name: Any,
    reader: bool,
) -> Any: ...

class SqlSession:
    options: Any
    client: Any
    key: tuple[Any, Any]
    def __init__(self, endpoint: str, token: str | None, tls_root_certs: Any) -> None: ...
    def close(self) -> None: ...
