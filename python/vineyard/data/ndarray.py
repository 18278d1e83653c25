"""`NDArrayArray`: a pandas column whose every row is a numpy array of the same shape (Vineyard's
`vineyard.data.dataframe.NDArrayArray`), backed by one numpy array of shape `(rows, *row)`.

    >>> frame = pd.DataFrame({'data': NDArrayArray(np.random.rand(1000, 10)), 'label': labels})

Data frames holding such columns are put and read back like others (the column travels as its
pickle, which keeps it exact).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray, ExtensionDtype, register_extension_dtype

__all__ = ["NDArrayDtype", "NDArrayArray"]


@register_extension_dtype
class NDArrayDtype(ExtensionDtype):
    """The dtype of an `NDArrayArray`: its rows' shape and element dtype."""

    type = np.ndarray
    _metadata = ("shape", "subtype")

    def __init__(self, shape: tuple[int, ...] = (), subtype: Any = np.float64) -> None:
        self.shape = tuple(shape)
        self.subtype = np.dtype(subtype)

    @property
    def name(self) -> str:
        return f"ndarray[{self.subtype}, {self.shape}]"

    @property
    def na_value(self) -> Any:
        return np.full(self.shape, np.nan) if self.subtype.kind == "f" else None

    @classmethod
    def construct_array_type(cls) -> type[NDArrayArray]:
        return NDArrayArray

    @classmethod
    def construct_from_string(cls, string: str) -> NDArrayDtype:
        if string == "ndarray":
            return cls()
        raise TypeError(f"cannot construct an NDArrayDtype from {string!r}")


class NDArrayArray(ExtensionArray):
    """Rows of one shape, stored as one numpy array (`data`: rows first)."""

    def __init__(self, data: Any, dtype: Any = None, copy: bool = False) -> None:
        array = np.array(data, copy=copy) if copy else np.asarray(data)
        if array.ndim == 0:
            raise ValueError("an NDArrayArray holds rows: give an array of at least one dimension")
        self._data = array
        self._dtype = NDArrayDtype(array.shape[1:], array.dtype)

    # -- what pandas asks of an extension array ----------------------------------------------

    @classmethod
    def _from_sequence(cls, scalars: Any, *, dtype: Any = None, copy: bool = False):
        if isinstance(scalars, NDArrayArray):
            return scalars.copy() if copy else scalars
        return cls(np.stack([np.asarray(row) for row in scalars]) if len(scalars) else [])

    @classmethod
    def _from_factorized(cls, values: Any, original: NDArrayArray) -> NDArrayArray:
        return cls(values)

    @classmethod
    def _concat_same_type(cls, to_concat: Any) -> NDArrayArray:
        return cls(np.concatenate([array._data for array in to_concat]))

    @property
    def dtype(self) -> NDArrayDtype:
        return self._dtype

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def ndarray(self) -> np.ndarray:
        """The rows, as one numpy array."""
        return self._data

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, (int, np.integer)):
            return self._data[item]
        item = pd.api.indexers.check_array_indexer(self, item)
        return type(self)(self._data[item])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data[key] = value._data if isinstance(value, NDArrayArray) else value

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        other = other._data if isinstance(other, NDArrayArray) else other
        equal = self._data == other
        return equal.reshape(len(self._data), -1).all(axis=1)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        rows = np.empty(len(self._data), dtype=object)
        for index, row in enumerate(self._data):
            rows[index] = row
        return rows

    def isna(self) -> np.ndarray:
        if self._data.dtype.kind != "f":
            return np.zeros(len(self._data), dtype=bool)
        return np.isnan(self._data.reshape(len(self._data), -1)).all(axis=1)

    def take(self, indices: Any, allow_fill: bool = False, fill_value: Any = None):
        indices = np.asarray(indices, dtype=np.intp)
        if allow_fill:
            fill = self._dtype.na_value if fill_value is None else fill_value
            dtype = np.result_type(self._data, np.asarray(fill))
            rows = np.empty((len(indices), *self._data.shape[1:]), dtype=dtype)
            for position, index in enumerate(indices):
                if index < -1:
                    raise ValueError(f"invalid index {index} to take with allow_fill")
                rows[position] = fill if index == -1 else self._data[index]
            return type(self)(rows)
        return type(self)(self._data.take(indices, axis=0))

    def copy(self) -> NDArrayArray:
        return type(self)(self._data.copy())

    def __repr__(self) -> str:
        dtype = self._dtype
        return f"NDArrayArray(rows={len(self)}, shape={dtype.shape}, dtype={dtype.subtype})"
