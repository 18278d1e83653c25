"""pandas Series: `vineyard::Series` (Vineyard's) with `name`, the `index_` and `value_`
members."""

from __future__ import annotations

from typing import Any

import pandas as pd

from vineyard.core.meta import ObjectMeta
from vineyard.data.columns import build_values, get_label, set_label, values_of

__all__ = ["pandas_series_builder", "pandas_series_resolver"]


def pandas_series_builder(client: Any, value: pd.Series, builder: Any, **kw: Any) -> ObjectMeta:
    meta = ObjectMeta()
    meta["typename"] = "vineyard::Series"
    set_label(meta, "name", value.name)
    meta["value_type_"] = str(value.dtype)
    meta.add_member("index_", builder.run(client, value.index))
    member = build_values(client, values_of(value), builder)
    meta.add_member("value_", member)
    meta["nbytes"] = member.nbytes
    return client.create_metadata(meta)


def pandas_series_resolver(obj: Any, resolver: Any) -> pd.Series:
    meta = obj.meta
    index = resolver.run(obj.member("index_"))
    values = resolver.run(obj.member("value_"))
    return pd.Series(values, index=index, name=get_label(meta, "name"), copy=False)
