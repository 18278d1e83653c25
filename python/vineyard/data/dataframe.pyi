from typing import Any

import pandas as pd

from vineyard.core.meta import ObjectMeta

__all__ = ["pandas_dataframe_builder", "pandas_dataframe_resolver"]

def pandas_dataframe_builder(
    client: Any, value: pd.DataFrame, builder: Any, **kw: Any
) -> ObjectMeta: ...
def pandas_dataframe_resolver(obj: Any, resolver: Any) -> pd.DataFrame: ...
