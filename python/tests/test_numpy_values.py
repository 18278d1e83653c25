"""numpy values from `get` stay numpy: they print as a list (as the user documents show, e.g.
`[1, 1, 1, 1]`) but whatever is computed from them is plain numpy: reductions are numpy
scalars, ufuncs, numpy functions, slices and new arrays are `numpy.ndarray`."""

from __future__ import annotations

import copy
import json

import numpy as np


def test_reductions_are_numpy_scalars(client):
    values = client.get(client.put(np.arange(1_000_000, dtype=np.float64)))
    total = values.sum()
    assert type(total) is np.float64 and total == 499999500000.0
    assert json.dumps(total) == "499999500000.0"
    assert repr(total) == "np.float64(499999500000.0)"
    assert type(values.mean()) is np.float64 and type(values.max()) is np.float64
    assert type(np.sum(values)) is np.float64 and type(np.median(values)) is np.float64
    assert type(client.get(client.put(np.arange(10))).sum()) is np.int64


def test_computed_arrays_are_plain_ndarrays(client):
    values = client.get(client.put(np.arange(12, dtype=np.float64)))
    computed = [
        values[1:3],
        values[values > 3],
        values + 1,
        np.sqrt(values),
        values.reshape(3, 4),
        values.reshape(3, 4).T,
        values.copy(),
        values.astype(np.int32),
        np.concatenate([values, values]),
        np.sort(values),
        copy.deepcopy(values),
    ]
    for result in computed:
        assert type(result) is np.ndarray, type(result)
    assert repr(values[1:3]) == "array([1., 2.])"
    out = np.empty(12)
    np.add(values, 1, out=out)
    assert out[0] == 1.0


def test_values_print_as_lists_and_stay_views(client):
    assert repr(client.get(client.put(np.ones(4)))) == "[1, 1, 1, 1]"
    assert str(client.get(client.put(np.array([0.5, 2.0])))) == "[0.5, 2. ]"
    values = client.get(client.put(np.arange(4)))
    assert isinstance(values, np.ndarray) and not values.flags.writeable
    assert values.base is not None  # a view of the blob, not a copy
