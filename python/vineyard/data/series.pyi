from typing import Any

import pandas as pd

from vineyard.core.meta import ObjectMeta

__all__ = ["pandas_series_builder", "pandas_series_resolver"]

def pandas_series_builder(client: Any, value: pd.Series, builder: Any, **kw: Any) -> ObjectMeta: ...
def pandas_series_resolver(obj: Any, resolver: Any) -> pd.Series: ...
