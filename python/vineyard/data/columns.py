"""Values and labels of pandas objects (shared by Index, Series and DataFrame).

numpy-backed values (numbers, bools, datetime64, timedelta64) are stored as
`vineyard::Tensor<T>` members, read back as zero-copy views; object and extension arrays
(strings, categoricals, nullable integers, tz-aware datetimes, ...) go through pickle, which
keeps them exact.

A label (a name, a column key) is kept as JSON when JSON is exact for it, else pickled too
(`<key>pickled_`, base64).
"""

from __future__ import annotations

import base64
import json
import pickle
from typing import Any

import numpy as np

from vineyard.core.meta import ObjectMeta
from vineyard.data.default import pickle_builder
from vineyard.data.layout import PICKLED_LABEL_SUFFIX
from vineyard.data.tensor import numpy_tensor_builder
from vineyard.data.utils import to_json

__all__ = ["build_values", "set_label", "get_label"]


def build_values(client: Any, values: Any, builder: Any = None) -> ObjectMeta:
    """A member holding the values of an Index, a Series or a column."""
    if isinstance(values, np.ndarray):
        return numpy_tensor_builder(client, values)
    return pickle_builder(client, values)


def values_of(pandas_object: Any) -> Any:
    """The values to store: a numpy array for numpy dtypes, else the extension array."""
    if isinstance(pandas_object.dtype, np.dtype):
        return pandas_object.to_numpy()
    return pandas_object.array


def _json_exact(label: Any) -> bool:
    if label is None or type(label) in (bool, str):
        return True
    if type(label) is int:
        return -(2**63) <= label < 2**64
    if type(label) is float:
        return label - label == 0.0
    return False


def set_label(meta: ObjectMeta, key: str, label: Any) -> None:
    """Stores a label as JSON text under `key` (Vineyard's way), pickled if JSON is inexact."""
    meta[key] = to_json(label)
    if not _json_exact(label):
        meta[key + PICKLED_LABEL_SUFFIX] = base64.b64encode(pickle.dumps(label)).decode("ascii")


def get_label(meta: ObjectMeta, key: str) -> Any:
    pickled = meta.get(key + PICKLED_LABEL_SUFFIX)
    if pickled is not None:
        return pickle.loads(base64.b64decode(pickled))
    text = meta.get(key)
    return None if text is None else json.loads(text)
