"""Puts through a remote client (`RPCClient`): the same builders as on IPC, their blobs and
trees recorded here and sent in one all-or-nothing `do_put` when the put ends.

`vineyard.core.builder.put` drives a client through `client._native`: `begin_write()` before
the builders run, `finish_put()` after them, `end_write(failed)` at the end (and
`put_blob_unawaited(data)` for small blobs). For a remote client that is a `RemoteWrites`:

- while the builders run, `create_blob`, `create_remote_blob` and `create_metadata` record
  what they make under provisional ids (`PutSession`), members before the objects using them;
  the buffers of `build_buffer`/`build_numpy_buffer` are recorded as views of the value put
  (`put_blob_shared`), not copied;
- `finish_put()` sends it all (`remote_blobs.send_objects`) and writes the ids the instance
  gave into the recorded trees, so `persist` and `put_name` that follow see real ids;
- `end_write(failed=True)` after a failed persist or name deletes what was stored; a put that
  fails before `finish_put()` sent nothing and leaves nothing behind.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from vineyard._native import ObjectID, RemoteBlobBuilder
from vineyard.core.meta import EMPTY_BLOB_ID, ObjectMeta
from vineyard.core.object import is_blob_meta

__all__ = ["RemoteBlobWriter", "PutSession", "RemoteWrites"]

_BLOB_BIT = 1 << 63


class RemoteBlobWriter(RemoteBlobBuilder):
    """What a remote client's `create_blob(size)` gives: a `RemoteBlobBuilder` (fill it with
    `copy` or a writable view) with `BlobBuilder`'s `seal` and `abort`. Sealing sends the
    bytes (inside a put: when the put ends)."""

    def __new__(cls, size: int, client: Any = None) -> RemoteBlobWriter:
        return super().__new__(cls, size)

    def __init__(self, size: int, client: Any = None) -> None:
        self._client = client
        self._id: ObjectID | None = None

    @property
    def id(self) -> ObjectID | None:
        """The blob's id once sealed (a provisional one inside a put until it ends)."""
        return self._id

    @property
    def instance_id(self) -> int:
        return self._client.instance_id

    def seal(self, client: Any = None) -> Any:
        """Sends the bytes (or records them, inside a put); the id, or the blob given a
        client."""
        self._id = self._client.create_remote_blob(self).id
        if client is not None:
            return client.get_object(self._id)
        return self._id

    def seal_before_next_request(self) -> ObjectID:
        return self.seal()


def _provisional(blob: bool) -> int:
    """A random id no instance gives out in practice (62 random bits, bit 62 set)."""
    value = secrets.randbits(62) | (1 << 62)
    return value | _BLOB_BIT if blob else value


class PutSession:
    """What one remote put created, until it is sent."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.blobs: list[tuple[int, Any]] = []  # (provisional id, bytes)
        self.objects: list[tuple[int, dict[str, Any]]] = []  # (provisional id, wire tree)
        self.metas: list[ObjectMeta] = []  # trees handed to the builders, to fix up
        self.ids: dict[int, ObjectID] = {}  # provisional -> real, once sent
        self.new: set[int] = set()  # the provisional ids handed out
        self.sent = False

    def add_blob(self, data: Any) -> ObjectMeta:
        """Records a blob's bytes (a `RemoteBlobBuilder` or any buffer); its member tree."""
        view = data.buffer if isinstance(data, RemoteBlobBuilder) else memoryview(data)
        view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        if view.nbytes == 0:
            return ObjectMeta.blob(EMPTY_BLOB_ID, 0, self.client.instance_id)
        provisional = _provisional(True)
        self.blobs.append((provisional, view))
        self.new.add(provisional)
        meta = ObjectMeta.blob(provisional, view.nbytes, self.client.instance_id)
        self.metas.append(meta)
        return meta

    def add_object(self, meta: ObjectMeta, instance_id: int | None) -> ObjectMeta:
        """Records an object (members without ids first); gives `meta` a provisional id."""
        tree = self.client._wire_tree(meta, instance_id, self)
        provisional = _provisional(False)
        self.objects.append((provisional, tree))
        self.new.add(provisional)
        own = meta._tree
        own["id"] = f"o{provisional:016x}"
        own["instance_id"] = tree["instance_id"]
        meta._id_cache = None
        meta._local_instance = self.client.instance_id
        self.metas.append(meta)
        return meta

    def is_new(self, object_id: int) -> bool:
        return object_id in self.new

    def send(self) -> None:
        """Sends everything recorded, then writes the real ids into the recorded trees."""
        if self.sent:
            return
        if self.blobs or self.objects:
            self.ids = self.client._send_objects(self.blobs, self.objects)
        self.sent = True
        self.blobs = []
        for meta in self.metas:
            _replace_ids(meta, self.ids)

    def real(self, object_id: Any) -> Any:
        """The real id of a provisional one (any other id as it is)."""
        found = self.ids.get(int(object_id)) if isinstance(object_id, ObjectID) else None
        return found if found is not None else object_id

    def stored(self) -> list[ObjectID]:
        """The objects (not blobs) this session stored."""
        return [self.ids[pid] for pid, _ in self.objects if pid in self.ids]


def _replace_ids(meta: ObjectMeta, ids: dict[int, ObjectID], depth: int = 0) -> None:
    value = meta.id_value()
    if value is not None and value in ids:
        meta._tree["id"] = str(ids[value])
        meta._id_cache = None
    if depth > 64:
        return
    for member in meta._tree.values():
        if type(member) is ObjectMeta:
            _replace_ids(member, ids, depth + 1)


class RemoteWrites:
    """`builder.put`'s hooks for a remote client (see the module's documentation); also what
    `Object.ispersist` and blob reuse ask of `client._native`."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._local = threading.local()

    def session(self) -> PutSession | None:
        """The put running on this thread, if any."""
        stack = getattr(self._local, "sessions", None)
        return stack[-1] if stack else None

    def begin_write(self) -> None:
        stack = getattr(self._local, "sessions", None)
        if stack is None:
            stack = self._local.sessions = []
        stack.append(PutSession(self._client))

    def finish_put(self) -> None:
        session = self.session()
        if session is not None:
            session.send()

    def end_write(self, failed: bool) -> None:
        stack = getattr(self._local, "sessions", None)
        if not stack:
            return
        session = stack.pop()
        self._local.last = session
        if failed and session.sent:
            stored = session.stored()
            if stored:
                self._client.delete(stored, force=True, deep=True)

    def real(self, object_id: Any) -> Any:
        """The real id of an id a put on this thread handed out provisionally."""
        session = self.session() or getattr(self._local, "last", None)
        return session.real(object_id) if session is not None else object_id

    def put_blob_unawaited(self, data: Any) -> ObjectID:
        session = self.session()
        if session is None:
            return self._client.create_remote_blob(RemoteBlobBuilder.wrap(bytes(data))).id
        return session.add_blob(bytes(memoryview(data))).id

    def put_blob_shared(self, data: Any) -> ObjectID:
        """A blob of `data`'s bytes in the put running on this thread, recorded as they are
        (not copied) and sent when the put ends, before it returns: `data` must not change
        meanwhile."""
        session = self.session()
        if session is None:
            raise RuntimeError("put_blob_shared is only called while a put runs")
        return session.add_blob(data).id

    def find_blob(self, address: int, size: int | None = None) -> None:
        """Blobs mapped here are an IPC client's: a remote client has none."""
        return None

    def is_persisted(self, object_id: Any) -> bool:
        return not self._client.get_meta(object_id).transient

    def flush(self) -> None:
        """Nothing is left unawaited on a remote client."""


def is_new_blob(meta: ObjectMeta, session: PutSession | None) -> bool:
    """True for the member tree of a blob this put recorded."""
    value = meta.id_value()
    if session is None or value is None:
        return False
    return is_blob_meta(meta) and session.is_new(value)
