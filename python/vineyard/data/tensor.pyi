from typing import Any

import numpy as np

from vineyard.core.meta import ObjectMeta
from vineyard.data.layout import Layout

__all__ = [
    "ndarray",
    "numpy_ndarray_builder",
    "numpy_tensor_builder",
    "numpy_scalar_builder",
    "array_resolver",
    "tensor_resolver",
    "dtype_of",
]

class ndarray(np.ndarray): ...

def dtype_of(meta: ObjectMeta, typename: str = "", layout: Layout = ...) -> np.dtype: ...
def numpy_tensor_builder(
    client: Any, value: np.ndarray, builder: Any = None, **kw: Any
) -> ObjectMeta: ...
def numpy_ndarray_builder(
    client: Any, value: np.ndarray, builder: Any = None, **kw: Any
) -> ObjectMeta: ...
def numpy_scalar_builder(
    client: Any, value: np.generic, builder: Any = None, **kw: Any
) -> ObjectMeta: ...
def array_resolver(obj: Any) -> np.ndarray: ...
def tensor_resolver(obj: Any) -> Any: ...
