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

__all__ = ["pandas_index_builder", "pandas_index_resolver", "range_index_resolver"]


def pandas_index_builder(
    client: Any, value: pd.Index, builder: Any = None, **kw: Any
) -> ObjectMeta:
    if isinstance(value, pd.MultiIndex):
        return pickle_builder(client, value)
    meta = ObjectMeta()
    set_label(meta, "name", value.name)
    if isinstance(value, pd.RangeIndex):
        meta["typename"] = "vineyard::RangeIndex"
        meta["start_"] = value.start
        meta["stop_"] = value.stop
        meta["step_"] = value.step
        meta["nbytes"] = 0
        return client.create_metadata(meta)
    meta["typename"] = "vineyard::Index"
    meta["value_type_"] = str(value.dtype)
    freq = getattr(value, "freqstr", None)
    if freq:
        meta["freq_"] = freq
    member = build_values(client, values_of(value), builder)
    meta.add_member("value_", member)
    meta["nbytes"] = member.nbytes
    return client.create_metadata(meta)


def pandas_index_resolver(obj: Any, resolver: Any) -> pd.Index:
    meta = obj.meta
    values = resolver.run(obj.member("value_"))
    if isinstance(values, pd.Index):
        values = values.array
    index = pd.Index(values, name=get_label(meta, "name"), copy=False)
    freq = meta.get("freq_")
    if freq:
        index = type(index)(index, freq=freq)
    return index


def range_index_resolver(obj: Any) -> pd.RangeIndex:
    meta = obj.meta
    return pd.RangeIndex(
        int(meta["start_"]), int(meta["stop_"]), int(meta["step_"]), name=get_label(meta, "name")
    )
