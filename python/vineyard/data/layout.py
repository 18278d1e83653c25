"""The built-in layouts: each one's typename and the names of its tree, as attributes.

They are defined once, in the Rust crate `vineyard-layout` (which the Rust builders and
resolvers use too), and reach Python through the native module as `_native.LAYOUT_TABLE`. The
builders and resolvers of `vineyard.data` spell every typename and name through them:

>>> TENSOR.typename, TENSOR.of("double"), TENSOR.buffer
('vineyard::Tensor', 'vineyard::Tensor<double>', 'buffer_')
>>> SEQUENCE.elements.at(0), SEQUENCE.elements.size
('__elements_-0', '__elements_-size')
>>> DATA_FRAME.values.key(0), DATA_FRAME.values.value(0)
('__values_-key-0', '__values_-value-0')

Arrow array layouts also use the names of `ARROW_ARRAY` (`length_`, `null_bitmap_`, ...).
`BINARY_ARRAY_TYPES` and `SCALAR_TYPES` say how string, binary and scalar types are spelled in
typenames, `CPP_ELEMENT_NAMES` how C++ spells some numpy dtypes in `vineyard::Tensor<T>`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from vineyard._native import LAYOUT_TABLE

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

_KEYS: dict[str, str] = LAYOUT_TABLE["keys"]
_SEPARATOR = _KEYS["item_separator"]


class MemberList:
    """Members numbered from 0 and their count: `at(i)` names item i's member, `size` the field
    holding the count (`__elements_-0`, `__elements_-size`)."""

    __slots__ = ("name", "size", "_prefix")

    def __init__(self, name: str) -> None:
        self.name = name
        self._prefix = name + _SEPARATOR
        self.size = self._prefix + _KEYS["size_item"]

    def at(self, index: int) -> str:
        return f"{self._prefix}{index}"

    def __repr__(self) -> str:
        return f"MemberList({self.name!r})"


class MemberMap:
    """Entries numbered from 0: `key(i)` names the field holding entry i's label, `value(i)` its
    member, `size` the field holding the count (`__values_-key-0`, `__values_-value-0`)."""

    __slots__ = ("name", "size", "_key_prefix", "_value_prefix")

    def __init__(self, name: str) -> None:
        self.name = name
        self._key_prefix = name + _SEPARATOR + _KEYS["map_key_item"] + _SEPARATOR
        self._value_prefix = name + _SEPARATOR + _KEYS["map_value_item"] + _SEPARATOR
        self.size = name + _SEPARATOR + _KEYS["size_item"]

    def key(self, index: int) -> str:
        return f"{self._key_prefix}{index}"

    def value(self, index: int) -> str:
        return f"{self._value_prefix}{index}"

    def __repr__(self) -> str:
        return f"MemberMap({self.name!r})"


_NAME_KINDS = {"members": str, "fields": str, "lists": MemberList, "maps": MemberMap}
# Attributes of the namespaces themselves, which no name may take.
_RESERVED = frozenset({"constant", "names", "typename", "generic", "shares", "of"})


class SharedNames:
    """Names several layouts' trees use (`ARROW_ARRAY`), as read-only attributes.

    `constant` is the name of the constant holding them, `names` maps each attribute to its
    spelling (a `MemberList` or `MemberMap` for numbered members)."""

    def __init__(self, constant: str, entry: dict[str, Any]) -> None:
        names: dict[str, Any] = {}
        for group, kind in _NAME_KINDS.items():
            for attribute, spelled in entry[group].items():
                names[attribute] = spelled if kind is str else kind(spelled)
        clashes = sorted(names.keys() & _RESERVED)
        if clashes:
            raise ValueError(
                f"{constant} has names {clashes} that the namespace itself uses; rename them "
                "in the Rust crate vineyard-layout"
            )
        self.__dict__.update(names)
        self.__dict__["constant"] = constant
        self.__dict__["names"] = names

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"{self.constant}.{name} cannot be set: layouts are the wire contract, defined in "
            "the Rust crate vineyard-layout; change the table there"
        )

    def __repr__(self) -> str:
        return f"<layout names {self.constant}>"


class Layout(SharedNames):
    """One layout: `typename`, `of(argument)` for templated typenames, and its names as
    read-only attributes (`TENSOR.buffer == 'buffer_'`). `shares` holds the shared names its
    trees also use (`ARROW_ARRAY` for Arrow arrays), or None."""

    def __init__(self, constant: str, entry: dict[str, Any], shares: SharedNames | None) -> None:
        super().__init__(constant, entry)
        self.__dict__["typename"] = entry["typename"]
        self.__dict__["generic"] = entry["generic"]
        self.__dict__["shares"] = shares

    def of(self, argument: str) -> str:
        """The typename with `argument` as its template argument: `vineyard::Tensor<double>`."""
        if not self.generic:
            raise TypeError(
                f"{self.typename} is written without a template argument; use "
                f"{self.constant}.typename"
            )
        return f"{self.typename}<{argument}>"

    def __repr__(self) -> str:
        return f"<layout {self.constant}: {self.typename}>"


def template_argument(typename: str) -> str | None:
    """The template argument of a typename (`double` in `vineyard::Tensor<double>`), or None."""
    open_at, close_at = typename.find("<"), typename.rfind(">")
    if open_at < 0 or close_at < open_at:
        return None
    return typename[open_at + 1 : close_at]


def _read_layouts(table: dict[str, dict[str, Any]]) -> dict[str, SharedNames]:
    shared = {
        constant: SharedNames(constant, entry)
        for constant, entry in table.items()
        if entry["typename"] is None
    }
    layouts: dict[str, SharedNames] = dict(shared)
    for constant, entry in table.items():
        if entry["typename"] is not None:
            shares = shared[entry["shares"]] if entry["shares"] is not None else None
            layouts[constant] = Layout(constant, entry, shares)
    return layouts


LAYOUTS: dict[str, SharedNames] = _read_layouts(LAYOUT_TABLE["layouts"])


def _layout(constant: str) -> Any:
    try:
        return LAYOUTS[constant]
    except KeyError:
        raise ImportError(
            f"the native layout table has no {constant}: the extension vineyard._native is older "
            "or newer than this package; rebuild it (`maturin develop -m python/Cargo.toml`)"
        ) from None


# Python's values (`vineyard.data.base`, `.default`).
BLOB: Layout = _layout("BLOB")
SCALAR: Layout = _layout("SCALAR")
MEMORY_VIEW: Layout = _layout("MEMORY_VIEW")
PAIR: Layout = _layout("PAIR")
SEQUENCE: Layout = _layout("SEQUENCE")
DICT: Layout = _layout("DICT")
PICKLE_BUFFER: Layout = _layout("PICKLE_BUFFER")
# numpy (`vineyard.data.tensor`).
TENSOR: Layout = _layout("TENSOR")
ARRAY: Layout = _layout("ARRAY")
# Arrow (`vineyard.data.arrow`).
ARROW_ARRAY: SharedNames = _layout("ARROW_ARRAY")
NUMERIC_ARRAY: Layout = _layout("NUMERIC_ARRAY")
BOOLEAN_ARRAY: Layout = _layout("BOOLEAN_ARRAY")
BASE_BINARY_ARRAY: Layout = _layout("BASE_BINARY_ARRAY")
FIXED_SIZE_BINARY_ARRAY: Layout = _layout("FIXED_SIZE_BINARY_ARRAY")
LIST_ARRAY: Layout = _layout("LIST_ARRAY")
LARGE_LIST_ARRAY: Layout = _layout("LARGE_LIST_ARRAY")
STRUCT_ARRAY: Layout = _layout("STRUCT_ARRAY")
DICTIONARY_ARRAY: Layout = _layout("DICTIONARY_ARRAY")
NULL_ARRAY: Layout = _layout("NULL_ARRAY")
CHUNKED_ARRAY: Layout = _layout("CHUNKED_ARRAY")
SCHEMA_PROXY: Layout = _layout("SCHEMA_PROXY")
RECORD_BATCH: Layout = _layout("RECORD_BATCH")
TABLE: Layout = _layout("TABLE")
# pandas (`vineyard.data.dataframe`, `.series`, `.index`).
DATA_FRAME: Layout = _layout("DATA_FRAME")
SERIES: Layout = _layout("SERIES")
INDEX: Layout = _layout("INDEX")
RANGE_INDEX: Layout = _layout("RANGE_INDEX")


class BinaryArrayType(NamedTuple):
    """How a string or binary Arrow type is spelled in typenames."""

    arrow_name: str
    """pyarrow's name of the type: `str(pa.string())`."""
    typename: str
    """The typename written: `vineyard::BaseBinaryArray<arrow::StringArray>`."""
    alias: str
    """Vineyard's older typename for it, still read: `vineyard::StringArray`."""


BINARY_ARRAY_TYPES: tuple[BinaryArrayType, ...] = tuple(
    BinaryArrayType(entry["arrow_name"], BASE_BINARY_ARRAY.of(entry["argument"]), entry["alias"])
    for entry in LAYOUT_TABLE["binary_array_types"]
)


class ScalarType(NamedTuple):
    """How a Python scalar type is spelled in `vineyard::Scalar<T>` trees."""

    python_type: str
    """`type(value).__name__`, written in the `type_` field."""
    typename: str
    """The typename written: `vineyard::Scalar<std::string>`."""
    typenames_read: tuple[str, ...]
    """Every typename read as this type (the one written first)."""


SCALAR_TYPES: tuple[ScalarType, ...] = tuple(
    ScalarType(
        entry["python_type"],
        SCALAR.of(entry["argument"]),
        tuple(SCALAR.of(argument) for argument in [entry["argument"], *entry["also_read"]]),
    )
    for entry in LAYOUT_TABLE["scalar_types"]
)

CPP_ELEMENT_NAMES: dict[str, str] = dict(LAYOUT_TABLE["cpp_element_names"])
"""numpy dtype names C++ spells otherwise in `vineyard::Tensor<T>` (`float64` -> `double`)."""

PICKLED_LABEL_SUFFIX: str = _KEYS["pickled_label_suffix"]
"""Appended to a pandas label's field to name the field holding its pickle (`namepickled_`)."""
