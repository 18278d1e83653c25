from typing import Any

import numpy as np

from vineyard.core.meta import ObjectMeta

__all__ = [
    "normalize_dtype",
    "normalize_cpptype",
    "normalize_arrow_dtype",
    "to_json",
    "from_json",
    "build_buffer",
    "build_numpy_buffer",
    "empty_blob_meta",
]

def normalize_dtype(dtype: Any, dtype_meta: str | None = None) -> np.dtype: ...
def normalize_cpptype(dtype: np.dtype) -> str: ...
def normalize_arrow_dtype(dtype: Any): ...
def to_json(value: Any) -> str: ...
def from_json(text: str) -> Any: ...
def empty_blob_meta(client: Any) -> ObjectMeta: ...
def build_buffer(
    client: Any, data: Any, size: int | None = None, *_args: Any, **_kw: Any
) -> ObjectMeta: ...
def build_numpy_buffer(client: Any, array: np.ndarray) -> ObjectMeta: ...
