"""The fallback for values no other builder takes: `vineyard::PickleBuffer`.

The value is pickled (protocol 5) into one blob; `size_` is the pickle's length.
"""

from __future__ import annotations

import pickle
from typing import Any

from vineyard.core.meta import ObjectMeta
from vineyard.data.layout import PICKLE_BUFFER

__all__ = ["pickle_builder", "pickle_resolver", "default_builder", "default_resolver"]


def pickle_builder(client: Any, value: Any, **_kw: Any) -> ObjectMeta:
    from vineyard.data.utils import build_buffer

    payload = pickle.dumps(value, protocol=5)
    meta = ObjectMeta()
    meta["typename"] = PICKLE_BUFFER.typename
    meta[PICKLE_BUFFER.size] = len(payload)
    meta["nbytes"] = len(payload)
    meta.add_member(PICKLE_BUFFER.buffer, build_buffer(client, payload))
    return client.create_metadata(meta)


def pickle_resolver(obj: Any) -> Any:
    size = int(obj.meta[PICKLE_BUFFER.size])
    return pickle.loads(memoryview(obj.member(PICKLE_BUFFER.buffer))[:size])


default_builder = pickle_builder
default_resolver = pickle_resolver
