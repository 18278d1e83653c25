"""Python and Rust share one layout table (the Rust crate `vineyard-layout`).

- `vineyard.data.layout` holds exactly the table the native module exports, every layout under
  its constant;
- `BUILTIN_RESOLVERS` registers exactly the table's typenames (and the binary aliases);
- every tree the Python builders write uses only the table's typenames and names;
- the side tables (binary, scalar and C++ element type spellings) agree with pyarrow, numpy and
  the Python readers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import vineyard
import vineyard.data.layout as layout_module
from vineyard._native import LAYOUT_TABLE
from vineyard.core.meta import BLOB_TYPENAME, JSON_FIELDS_KEY
from vineyard.data import BUILTIN_RESOLVERS
from vineyard.data.layout import (
    ARRAY,
    BINARY_ARRAY_TYPES,
    CPP_ELEMENT_NAMES,
    LAYOUTS,
    PICKLED_LABEL_SUFFIX,
    SCALAR_TYPES,
    TENSOR,
    Layout,
    MemberList,
    MemberMap,
    SharedNames,
    template_argument,
)
from vineyard.data.utils import normalize_dtype

# Keys of every object's tree, whatever its layout (the server adds `signature` and
# `__timestamp`; the Python package marks JSON-valued fields in `__json_fields_`).
OBJECT_KEYS = {
    "id",
    "typename",
    "instance_id",
    "nbytes",
    "transient",
    "global",
    "signature",
    "__timestamp",
    JSON_FIELDS_KEY,
}


def layouts_with_typenames() -> list[Layout]:
    return [layout for layout in LAYOUTS.values() if isinstance(layout, Layout)]


def test_the_namespaces_hold_the_native_table() -> None:
    table = LAYOUT_TABLE["layouts"]
    assert set(LAYOUTS) == set(table)
    for constant, entry in table.items():
        layout = LAYOUTS[constant]
        assert getattr(layout_module, constant) is layout, f"{constant} has no module constant"
        assert constant in layout_module.__all__
        assert layout.constant == constant
        if entry["typename"] is None:
            assert type(layout) is SharedNames
        else:
            assert isinstance(layout, Layout)
            assert (layout.typename, layout.generic) == (entry["typename"], entry["generic"])
            shares = entry["shares"]
            assert layout.shares is (LAYOUTS[shares] if shares is not None else None)
        for attribute, spelled in {**entry["members"], **entry["fields"]}.items():
            assert getattr(layout, attribute) == spelled, f"{constant}.{attribute}"
        for group, kind in (("lists", MemberList), ("maps", MemberMap)):
            for attribute, spelled in entry[group].items():
                names = getattr(layout, attribute)
                assert type(names) is kind and names.name == spelled, f"{constant}.{attribute}"
        expected = sum(len(entry[group]) for group in ("members", "fields", "lists", "maps"))
        assert len(layout.names) == expected


def test_builtin_resolvers_register_exactly_the_table_typenames() -> None:
    registered = [prefix for prefix, _ in BUILTIN_RESOLVERS]
    assert len(registered) == len(set(registered)), "a prefix is registered twice"
    expected = {layout.typename for layout in layouts_with_typenames()}
    expected |= {binary.alias for binary in BINARY_ARRAY_TYPES}
    assert set(registered) == expected


def test_layouts_are_read_only_and_say_how_to_spell_typenames() -> None:
    assert TENSOR.of("double") == "vineyard::Tensor<double>"
    assert template_argument(TENSOR.of("datetime64[ns]")) == "datetime64[ns]"
    assert template_argument(ARRAY.typename) is None
    with pytest.raises(TypeError, match="without a template argument"):
        ARRAY.of("double")
    with pytest.raises(AttributeError, match="vineyard-layout"):
        TENSOR.buffer = "data_"  # type: ignore[misc]
    assert TENSOR.buffer == "buffer_"


def test_side_tables_agree_with_pyarrow_numpy_and_the_readers() -> None:
    for binary in BINARY_ARRAY_TYPES:
        assert str(pa.type_for_alias(binary.arrow_name)) == binary.arrow_name
    assert {scalar.python_type for scalar in SCALAR_TYPES} == {
        python_type.__name__ for python_type in (type(None), bool, int, float, str)
    }
    for numpy_name, cpp_name in CPP_ELEMENT_NAMES.items():
        assert normalize_dtype(cpp_name) == np.dtype(numpy_name)


def find_layout(typename: str) -> Layout:
    """The table's layout of `typename` (as the Rust `vineyard_layout::find` matches)."""
    for binary in BINARY_ARRAY_TYPES:
        if typename == binary.alias:
            return layout_module.BASE_BINARY_ARRAY
    for layout in layouts_with_typenames():
        rest = typename.removeprefix(layout.typename)
        if rest != typename and (rest == "" or (rest.startswith("<") and rest.endswith(">"))):
            return layout
    raise AssertionError(f"`{typename}` is in no layout of the table")


def spellings(names: str | MemberList | MemberMap, index: int | None) -> set[str]:
    """How a name is spelled in a tree; for lists and maps, their size and item `index`."""
    if isinstance(names, str):
        return {names}
    if index is None:
        return {names.size}
    if isinstance(names, MemberList):
        return {names.size, names.at(index)}
    return {names.size, names.key(index), names.value(index)}


def names_key(layout: SharedNames, key: str) -> bool:
    """True if `key` is one of `layout`'s names (or of the names it shares), an item of its
    lists or maps, or the pickle of one of its labels."""
    label = key.removesuffix(PICKLED_LABEL_SUFFIX)
    last = label.rsplit("-", 1)[-1]
    index = int(last) if last.isdigit() else None
    for names in layout.names.values():
        if {key, label} & spellings(names, index):
            return True
    shares = layout.shares if isinstance(layout, Layout) else None
    return shares is not None and names_key(shares, key)


def check_tree(tree: dict[str, Any], met: set[str]) -> None:
    """Checks `tree` and its members against the table; adds the constants of the layouts met."""
    typename = tree.get("typename")
    if typename is None:  # a blob's member tree may lack it
        assert vineyard.ObjectID(tree["id"]).is_blob, tree
        typename = BLOB_TYPENAME
    layout = find_layout(typename)
    met.add(layout.constant)
    if typename == BLOB_TYPENAME:
        return
    for key, value in tree.items():
        if key not in OBJECT_KEYS:
            assert names_key(layout, key), (
                f"`{typename}` has `{key}`, which {layout.constant} lacks"
            )
        if isinstance(value, dict):
            check_tree(value, met)


def every_builtin_value() -> list[Any]:
    """A value of each type the built-in builders take."""
    struct = pa.array([{"a": 1, "b": "x"}, None])
    return [
        None,
        True,
        3,
        1.5,
        "text",
        b"bytes",
        memoryview(b"view"),
        memoryview(np.arange(6, dtype=np.int32).reshape(2, 3)),
        (1, "two"),
        (1, 2, 3),
        [1, [2.5]],
        {"key": 1},
        {1, 2},  # pickled
        np.arange(6, dtype=np.int32),
        np.ones((2, 3), order="F"),
        np.array([object(), 1], dtype=object),
        np.float32(2.5),
        np.zeros(2, dtype=[("x", "<i4"), ("y", "<f8")]),
        pd.DataFrame({"a": [1, 2], ("b", 1): ["x", "y"]}, index=pd.RangeIndex(2, name="r")),
        pd.Series([1.0, 2.0], index=pd.Index(["p", "q"]), name="s"),
        pd.date_range("2024-01-01", periods=3, freq="D"),
        pa.array([1, None], type=pa.int64()),
        pa.array([1, 2], type=pa.timestamp("ms", tz="UTC")),
        pa.array([True, None]),
        pa.array(["a", None]),
        pa.array(["b"], type=pa.large_string()),
        pa.array([b"c"], type=pa.binary()),
        pa.array([b"d"], type=pa.large_binary()),
        pa.array([b"ef"], type=pa.binary(2)),
        pa.array([[1], None]),
        pa.array([[1]], type=pa.large_list(pa.int8())),
        struct,
        pa.array(["x", "y", "x"]).dictionary_encode(),
        pa.nulls(2),
        pa.chunked_array([[1, 2], [3]]),
        pa.table({"a": [1, 2], "b": ["x", "y"]}),
    ]


def test_python_builders_write_only_names_of_the_table(client: vineyard.IPCClient) -> None:
    met: set[str] = set()
    for value in every_builtin_value():
        meta = client.get_meta(client.put(value))
        check_tree(meta.to_tree(), met)
    # Every layout was met.
    assert met == {layout.constant for layout in layouts_with_typenames()}
