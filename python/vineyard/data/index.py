"""pandas indexes.

Layouts: `vineyard::Index` (Vineyard's) with `name`, `value_type_` and the `value_` member;
`vineyard::RangeIndex` with `start_`, `stop_`, `step_` and `name`. A DatetimeIndex keeps its
frequency in `freq_`; a MultiIndex goes through pickle.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from vineyard.core.meta import ObjectMeta
from vineyard.data.columns import build_values, get_label, set_label, values_of
from vineyard.data.default import pickle_builder
from vineyard.data.layout import INDEX, RANGE_INDEX

__all__ = ["pandas_index_builder", "pandas_index_resolver", "range_index_resolver"]


def pandas_index_builder(
    client: Any, value: pd.Index, builder: Any = None, **kw: Any
) -> ObjectMeta:
    if isinstance(value, pd.MultiIndex):
        return pickle_builder(client, value)
    meta = ObjectMeta()
    if isinstance(value, pd.RangeIndex):
        set_label(meta, RANGE_INDEX.name, value.name)
        meta["typename"] = RANGE_INDEX.typename
        meta[RANGE_INDEX.start] = value.start
        meta[RANGE_INDEX.stop] = value.stop
        meta[RANGE_INDEX.step] = value.step
        meta["nbytes"] = 0
        return client.create_metadata(meta)
    set_label(meta, INDEX.name, value.name)
    meta["typename"] = INDEX.typename
    meta[INDEX.value_type] = str(value.dtype)
    freq = getattr(value, "freqstr", None)
    if freq:
        meta[INDEX.freq] = freq
    member = build_values(client, values_of(value), builder)
    meta.add_member(INDEX.value, member)
    meta["nbytes"] = member.nbytes
    return client.create_metadata(meta)


def pandas_index_resolver(obj: Any, resolver: Any) -> pd.Index:
    meta = obj.meta
    values = resolver.run(obj.member(INDEX.value))
    if isinstance(values, pd.Index):
        values = values.array
    index = pd.Index(values, name=get_label(meta, INDEX.name), copy=False)
    freq = meta.get(INDEX.freq)
    if freq:
        index = type(index)(index, freq=freq)
    return index


def range_index_resolver(obj: Any) -> pd.RangeIndex:
    meta = obj.meta
    start, stop, step = (
        int(meta[key]) for key in (RANGE_INDEX.start, RANGE_INDEX.stop, RANGE_INDEX.step)
    )
    return pd.RangeIndex(start, stop, step, name=get_label(meta, RANGE_INDEX.name))
