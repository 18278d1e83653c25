from typing import Any

import pandas as pd

from vineyard.core.meta import ObjectMeta

__all__ = ["pandas_index_builder", "pandas_index_resolver", "range_index_resolver"]

def pandas_index_builder(
    client: Any, value: pd.Index, builder: Any = None, **kw: Any
) -> ObjectMeta: ...
def pandas_index_resolver(obj: Any, resolver: Any) -> pd.Index: ...
def range_index_resolver(obj: Any) -> pd.RangeIndex: ...
