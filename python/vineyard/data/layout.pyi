from typing import Any, NamedTuple

__all__ = [
    "MemberList",
    "MemberMap",
    "SharedNames",
    "Layout",
    "BinaryArrayType",
    "ScalarType",
    "LAYOUTS",
    "template_argument",
    "BLOB",
    "SCALAR",
    "MEMORY_VIEW",
    "PAIR",
    "SEQUENCE",
    "DICT",
    "PICKLE_BUFFER",
    "TENSOR",
    "ARRAY",
    "ARROW_ARRAY",
    "NUMERIC_ARRAY",
    "BOOLEAN_ARRAY",
    "BASE_BINARY_ARRAY",
    "FIXED_SIZE_BINARY_ARRAY",
    "LIST_ARRAY",
    "LARGE_LIST_ARRAY",
    "STRUCT_ARRAY",
    "DICTIONARY_ARRAY",
    "NULL_ARRAY",
    "CHUNKED_ARRAY",
    "SCHEMA_PROXY",
    "RECORD_BATCH",
    "TABLE",
    "DATA_FRAME",
    "SERIES",
    "INDEX",
    "RANGE_INDEX",
    "BINARY_ARRAY_TYPES",
    "SCALAR_TYPES",
    "CPP_ELEMENT_NAMES",
    "PICKLED_LABEL_SUFFIX",
]

class MemberList:
    name: str
    size: str
    def __init__(self, name: str) -> None: ...
    def at(self, index: int) -> str: ...

class MemberMap:
    name: str
    size: str
    def __init__(self, name: str) -> None: ...
    def key(self, index: int) -> str: ...
    def value(self, index: int) -> str: ...

class SharedNames:
    constant: str
    names: dict[str, str | MemberList | MemberMap]
    def __init__(self, constant: str, entry: dict[str, Any]) -> None: ...
    # The layout's names: a spelling (str), a MemberList or a MemberMap.
    def __getattr__(self, name: str) -> Any: ...

class Layout(SharedNames):
    typename: str
    generic: bool
    shares: SharedNames | None
    def __init__(
        self, constant: str, entry: dict[str, Any], shares: SharedNames | None
    ) -> None: ...
    def of(self, argument: str) -> str: ...

class BinaryArrayType(NamedTuple):
    arrow_name: str
    typename: str
    alias: str

class ScalarType(NamedTuple):
    python_type: str
    typename: str
    typenames_read: tuple[str, ...]

LAYOUTS: dict[str, SharedNames]

def template_argument(typename: str) -> str | None: ...

BLOB: Layout
SCALAR: Layout
MEMORY_VIEW: Layout
PAIR: Layout
SEQUENCE: Layout
DICT: Layout
PICKLE_BUFFER: Layout
TENSOR: Layout
ARRAY: Layout
ARROW_ARRAY: SharedNames
NUMERIC_ARRAY: Layout
BOOLEAN_ARRAY: Layout
BASE_BINARY_ARRAY: Layout
FIXED_SIZE_BINARY_ARRAY: Layout
LIST_ARRAY: Layout
LARGE_LIST_ARRAY: Layout
STRUCT_ARRAY: Layout
DICTIONARY_ARRAY: Layout
NULL_ARRAY: Layout
CHUNKED_ARRAY: Layout
SCHEMA_PROXY: Layout
RECORD_BATCH: Layout
TABLE: Layout
DATA_FRAME: Layout
SERIES: Layout
INDEX: Layout
RANGE_INDEX: Layout
BINARY_ARRAY_TYPES: tuple[BinaryArrayType, ...]
SCALAR_TYPES: tuple[ScalarType, ...]
CPP_ELEMENT_NAMES: dict[str, str]
PICKLED_LABEL_SUFFIX: str
