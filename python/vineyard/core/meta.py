"""`ObjectMeta`: an object's metadata tree, and `ObjectName`.

A tree is Vineyard's JSON: `typename`, `id`, `instance_id`, `nbytes`, `transient`, `global`,
plain fields and members. On the wire every JSON-object value is a member (the server requires
members to have ids), so a field whose value is a dict cannot be sent as a JSON object. Such
values, and the few others JSON cannot carry exactly (non-finite floats, integers beyond 64 bits,
strings with lone surrogates), are stored as JSON text and their keys listed in the hidden field
`__json_fields_`, so `meta[key]` gives back the original value. Vineyard-style JSON-string fields
such as `shape_ = "[8]"` are plain strings and stay plain strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from vineyard._native import ObjectID

__all__ = ["ObjectMeta", "ObjectName", "JSON_FIELDS_KEY", "BLOB_TYPENAME", "EMPTY_BLOB_ID"]

#: The hidden field listing the keys stored as JSON text.
JSON_FIELDS_KEY = "__json_fields_"
#: Typename of blobs.
BLOB_TYPENAME = "vineyard::Blob"
#: Id of the empty blob, which always exists.
EMPTY_BLOB_ID = 0x8000000000000000

_INT_MIN = -(2**63)
_INT_LIMIT = 2**64


class ObjectName(str):
    """The name of an object (`put_name` / `get_name`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f'ObjectName <"{str(self)}">'


def _is_wire_safe_str(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain(value: Any) -> tuple[Any, bool]:
    """Converts a value to plain JSON data; the flag is False if it must travel as JSON text."""
    if value is None or isinstance(value, bool):
        return value, True
    if isinstance(value, int):
        value = int(value)
        return value, _INT_MIN <= value < _INT_LIMIT
    if isinstance(value, float):
        value = float(value)
        return value, value - value == 0.0  # false for nan and +-inf
    if isinstance(value, str):
        return str(value), _is_wire_safe_str(value)
    if isinstance(value, (list, tuple)):
        items = []
        safe = True
        for item in value:
            item, item_safe = _plain(item)
            items.append(item)
            safe = safe and item_safe
        return items, safe
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"metadata dict keys must be strings, got {type(key).__name__} {key!r}"
                )
            result[key], _ = _plain(item)
        return result, False
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        return _plain(item())
    raise TypeError(
        f"cannot store a {type(value).__name__} in metadata: use None, bool, int, float, str, "
        "list, tuple or dict values (or add_member for objects)"
    )


class ObjectMeta:
    """The metadata tree of an object: fields (`meta['k']`) and members (`add_member`)."""

    __slots__ = ("_tree", "_local_instance", "_placeholder", "_id_cache")

    def __init__(self, global_: bool = False, **fields: Any) -> None:
        self._tree: dict[str, Any] = {"global": bool(global_), "transient": True}
        self._local_instance: int | None = None
        self._placeholder = False
        self._id_cache: tuple[Any, ObjectID] | None = None
        for key, value in fields.items():
            self[key] = value

    # -- construction from and to the wire -------------------------------------------------

    @classmethod
    def from_tree(cls, tree: dict[str, Any], local_instance: int | None = None) -> ObjectMeta:
        """Wraps a JSON tree (as the server sends it); member trees become `ObjectMeta`."""
        meta = cls.__new__(cls)
        meta._local_instance = local_instance
        meta._placeholder = False
        meta._id_cache = None
        converted = {}
        for key, value in tree.items():
            if type(value) is dict:
                value = cls.from_tree(value, local_instance)
            converted[key] = value
        meta._tree = converted
        return meta

    @classmethod
    def from_json(cls, text: str, local_instance: int | None = None) -> ObjectMeta:
        """Parses a JSON tree."""
        return cls.from_tree(json.loads(text), local_instance)

    @classmethod
    def placeholder(cls, object_id: ObjectID) -> ObjectMeta:
        """A member known only by its id (`{"id": "o..."}`)."""
        meta = cls.__new__(cls)
        meta._tree = {"id": str(object_id)}
        meta._local_instance = None
        meta._placeholder = True
        meta._id_cache = (meta._tree["id"], object_id)
        return meta

    @classmethod
    def blob(cls, blob_id: ObjectID | int, size: int, instance_id: int) -> ObjectMeta:
        """The member tree of a sealed blob, as Vineyard writes it."""
        blob_id = int(blob_id)
        meta = cls.__new__(cls)
        meta._tree = {
            "id": f"o{blob_id:016x}",
            "instance_id": instance_id,
            "length": size,
            "nbytes": size,
            "transient": True,
            "typename": BLOB_TYPENAME,
        }
        if blob_id == EMPTY_BLOB_ID:
            meta._tree["signature"] = EMPTY_BLOB_ID
        meta._local_instance = instance_id
        meta._placeholder = False
        meta._id_cache = None
        return meta

    def to_tree(self) -> dict[str, Any]:
        """The plain JSON tree (members as nested dicts)."""
        tree = {}
        for key, value in self._tree.items():
            if type(value) is ObjectMeta:
                value = value.to_tree()
            tree[key] = value
        return tree

    def to_json(self) -> str:
        """The JSON text of the tree."""
        return json.dumps(self.to_tree())

    @property
    def is_placeholder(self) -> bool:
        """True for a member added by id only, whose tree the server fills in."""
        return self._placeholder

    # -- well-known fields -----------------------------------------------------------------

    @property
    def id(self) -> ObjectID | None:
        """The object id, or None before the object is created."""
        value = self._tree.get("id")
        if value is None:
            return None
        cached = self._id_cache
        if cached is not None and cached[0] == value:
            return cached[1]
        object_id = ObjectID(value)
        self._id_cache = (value, object_id)
        return object_id

    @property
    def typename(self) -> str:
        return self._tree.get("typename", "")

    @typename.setter
    def typename(self, value: str) -> None:
        self._tree["typename"] = str(value)

    @property
    def nbytes(self) -> int:
        return int(self._tree.get("nbytes") or 0)

    @nbytes.setter
    def nbytes(self, value: int) -> None:
        self._tree["nbytes"] = int(value)

    @property
    def signature(self) -> int | None:
        return self._tree.get("signature")

    @property
    def instance_id(self) -> int | None:
        """The instance that holds the payload (None before creation)."""
        return self._tree.get("instance_id")

    @property
    def islocal(self) -> bool:
        """True if the payload lives on the instance of the client that read this tree."""
        instance = self._tree.get("instance_id")
        return instance is None or self._local_instance is None or instance == self._local_instance

    @property
    def isglobal(self) -> bool:
        return bool(self._tree.get("global", False))

    def set_global(self, global_: bool = True) -> None:
        self._tree["global"] = bool(global_)

    @property
    def transient(self) -> bool:
        """True until the object is persisted."""
        return bool(self._tree.get("transient", True))

    @transient.setter
    def transient(self, value: bool) -> None:
        self._tree["transient"] = bool(value)

    @property
    def timestamp(self) -> int | None:
        return self._tree.get("__timestamp")

    @property
    def memory_usage(self) -> int:
        """Bytes of the distinct blobs in this tree."""
        sizes: dict[str, int] = {}
        self._collect_blob_sizes(sizes)
        return sum(sizes.values())

    def _collect_blob_sizes(self, sizes: dict[str, int]) -> None:
        if self._tree.get("typename") == BLOB_TYPENAME:
            sizes[self._tree.get("id", "")] = int(self._tree.get("nbytes") or 0)
        for value in self._tree.values():
            if type(value) is ObjectMeta:
                value._collect_blob_sizes(sizes)

    # -- fields ----------------------------------------------------------------------------

    def _json_fields(self) -> list[str]:
        return self._tree.get(JSON_FIELDS_KEY) or []

    def _decode(self, key: str, value: Any) -> Any:
        if type(value) is str and key in self._json_fields():
            return json.loads(value)
        return value

    def __getitem__(self, key: str) -> Any:
        try:
            value = self._tree[key]
        except KeyError:
            raise KeyError(
                f"metadata of {self.typename or 'the object'} has no key {key!r}"
            ) from None
        if key == JSON_FIELDS_KEY:
            raise KeyError(f"{key!r} is a hidden field")
        return self._decode(key, value)

    def get(self, key: str, default: Any = None) -> Any:
        if key == JSON_FIELDS_KEY or key not in self._tree:
            return default
        return self._decode(key, self._tree[key])

    def __setitem__(self, key: str, value: Any) -> None:
        kind = type(value)
        if (
            (kind is str and (value.isascii() or _is_wire_safe_str(value)))
            or (kind is int and _INT_MIN <= value < _INT_LIMIT)
            or (kind is float and value - value == 0.0)
            or kind is bool
            or value is None
        ) and type(key) is str:
            # the common case: a plain JSON scalar
            if key == JSON_FIELDS_KEY:
                raise KeyError(f"{key!r} is reserved")
            self._tree[key] = value
            if JSON_FIELDS_KEY in self._tree and key in self._tree[JSON_FIELDS_KEY]:
                fields = self._tree[JSON_FIELDS_KEY]
                fields.remove(key)
                self._store_json_fields(fields)
            return
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be strings, got {type(key).__name__}")
        if key == JSON_FIELDS_KEY:
            raise KeyError(f"{key!r} is reserved")
        if isinstance(value, (ObjectMeta, ObjectID)) or _is_object_like(value):
            self.add_member(key, value)
            return
        plain, safe = _plain(value)
        fields = self._json_fields()
        if safe:
            self._tree[key] = plain
            if key in fields:
                fields.remove(key)
                self._store_json_fields(fields)
        else:
            self._tree[key] = json.dumps(plain)
            if key not in fields:
                self._store_json_fields([*fields, key])

    def _store_json_fields(self, fields: list[str]) -> None:
        if fields:
            self._tree[JSON_FIELDS_KEY] = fields
        else:
            self._tree.pop(JSON_FIELDS_KEY, None)

    def __delitem__(self, key: str) -> None:
        del self._tree[key]
        fields = self._json_fields()
        if key in fields:
            fields.remove(key)
            self._store_json_fields(fields)

    def __contains__(self, key: object) -> bool:
        return key != JSON_FIELDS_KEY and key in self._tree

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._tree if key != JSON_FIELDS_KEY)

    def __len__(self) -> int:
        return len(self._tree) - (JSON_FIELDS_KEY in self._tree)

    def keys(self) -> list[str]:
        return list(self)

    def values(self) -> list[Any]:
        return [self._decode(key, self._tree[key]) for key in self]

    def items(self) -> list[tuple[str, Any]]:
        return [(key, self._decode(key, self._tree[key])) for key in self]

    # -- members ---------------------------------------------------------------------------

    def add_member(self, name: str, member: Any) -> None:
        """Adds a member: an `ObjectMeta`, an `Object` (or `Blob`), or an `ObjectID`."""
        if isinstance(member, ObjectMeta):
            meta = member
        elif isinstance(member, ObjectID):
            meta = ObjectMeta.placeholder(member)
        elif _is_object_like(member):
            meta = member.meta
        else:
            raise TypeError(
                f"a member must be an ObjectMeta, an Object or an ObjectID, "
                f"got {type(member).__name__}"
            )
        self._tree[name] = meta
        fields = self._json_fields()
        if name in fields:
            fields.remove(name)
            self._store_json_fields(fields)

    def member(self, name: str) -> ObjectMeta:
        """The member called `name`."""
        value = self._tree.get(name)
        if type(value) is not ObjectMeta:
            if value is None:
                raise KeyError(f"{self.typename or 'the object'} has no member {name!r}")
            raise KeyError(f"{name!r} of {self.typename or 'the object'} is a field, not a member")
        return value

    get_member = member

    def members(self) -> list[tuple[str, ObjectMeta]]:
        """The members, as (name, meta) pairs."""
        return [(key, value) for key, value in self._tree.items() if type(value) is ObjectMeta]

    def has_member(self, name: str) -> bool:
        return type(self._tree.get(name)) is ObjectMeta

    # -- misc ------------------------------------------------------------------------------

    def copy(self) -> ObjectMeta:
        """A deep copy of the tree."""
        meta = ObjectMeta.from_tree(self.to_tree(), self._local_instance)
        meta._placeholder = self._placeholder
        return meta

    def id_value(self) -> int | None:
        """The object id as an int (None before creation), without building an ObjectID."""
        value = self._tree.get("id")
        if value is None:
            return None
        if isinstance(value, str):
            return int(value[1:], 16)
        return int(value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ObjectMeta):
            return NotImplemented
        return self.to_tree() == other.to_tree()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "ObjectMeta " + json.dumps(self.to_tree(), indent=4, sort_keys=True)

    __str__ = __repr__


def _is_object_like(value: Any) -> bool:
    # Objects and blobs carry their tree in `meta`; checked by duck typing so that this module
    # need not import the object model.
    return hasattr(type(value), "meta") and isinstance(getattr(value, "meta", None), ObjectMeta)
