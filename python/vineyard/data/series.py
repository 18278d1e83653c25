"""pandas Series: `vineyard::Series` (Vineyard's) with `name`, the `index_` and `value_`
members."""

from __future__ import annotations

from typing import Any

import pandas as pd

from vineyard.core.meta import ObjectMeta
from vineyard.data.columns import build_values, get_label, set_label, values_of
from vineyard.data.layout import SERIES

__all__ = ["pandas_series_builder", "pandas_series_resolver"]


def pandas_series_builder(client: Any, value: pd.Series, builder: Any, **kw: Any) -> ObjectMeta:
    meta = ObjectMeta()
    meta["typename"] = SERIES.typename
    set_label(meta, SERIES.name, value.name)
    meta[SERIES.value_type] = str(value.dtype)
    meta.add_member(SERIES.index, builder.run(client, value.index))
    member = build_values(client, values_of(value), builder)
    meta.add_member(SERIES.value, member)
    meta["nbytes"] = member.nbytes
    return client.create_metadata(meta)


def pandas_series_resolver(obj: Any, resolver: Any) -> pd.Series:
    meta = obj.meta
    index = resolver.run(obj.member(SERIES.index))
    values = resolver.run(obj.member(SERIES.value))
    return pd.Series(values, index=index, name=get_label(meta, SERIES.name), copy=False)
