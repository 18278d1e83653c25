"""pandas DataFrames.

Layout (Vineyard's `vineyard::DataFrame`): `columns_` (JSON list of the column labels), the
`index_` member, `__values_-size`, and per column `__values_-key-i` (JSON label) and the
`__values_-value-i` member; plus `columns_index_`, the columns Index itself, so that its type
and labels come back exactly. Columns of numpy dtypes come back as zero-copy views.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from vineyard.core.meta import ObjectMeta
from vineyard.data.columns import build_values, get_label, set_label, values_of
from vineyard.data.layout import DATA_FRAME
from vineyard.data.ndarray import NDArrayArray, NDArrayDtype
from vineyard.data.utils import to_json

__all__ = [
    "pandas_dataframe_builder",
    "pandas_dataframe_resolver",
    "NDArrayArray",
    "NDArrayDtype",
]


def pandas_dataframe_builder(
    client: Any, value: pd.DataFrame, builder: Any, **kw: Any
) -> ObjectMeta:
    columns = DATA_FRAME.values
    meta = ObjectMeta()
    meta["typename"] = DATA_FRAME.typename
    meta[DATA_FRAME.columns] = to_json(list(value.columns))
    meta.add_member(DATA_FRAME.index, builder.run(client, value.index))
    meta.add_member(DATA_FRAME.columns_index, builder.run(client, value.columns))
    nbytes = 0
    for position in range(value.shape[1]):
        column = value.iloc[:, position]
        set_label(meta, columns.key(position), value.columns[position])
        member = build_values(client, values_of(column), builder)
        meta.add_member(columns.value(position), member)
        nbytes += member.nbytes
    meta[columns.size] = value.shape[1]
    partition_index = kw.get("partition_index", [-1, -1])
    meta[DATA_FRAME.partition_index_row] = partition_index[0]
    meta[DATA_FRAME.partition_index_column] = partition_index[1]
    meta[DATA_FRAME.row_batch_index] = kw.get("row_batch_index", 0)
    meta["nbytes"] = nbytes
    return client.create_metadata(meta)


def pandas_dataframe_resolver(obj: Any, resolver: Any) -> pd.DataFrame:
    meta = obj.meta
    columns = DATA_FRAME.values
    size = int(meta[columns.size])
    index = resolver.run(obj.member(DATA_FRAME.index))
    arrays = {}
    for position in range(size):
        values = resolver.run(obj.member(columns.value(position)))
        if isinstance(values, (pd.Series, pd.Index)):
            values = values.array
        arrays[position] = values
    frame = pd.DataFrame(arrays, index=index, copy=False)
    if meta.has_member(DATA_FRAME.columns_index):
        frame.columns = resolver.run(obj.member(DATA_FRAME.columns_index))
    else:
        frame.columns = [get_label(meta, columns.key(p)) for p in range(size)]
    return frame
