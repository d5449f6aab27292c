"""The projection's vocabulary: a raw XAPI record as the log delivered it, and a client object.

A `Raw` is one object of one pool exactly as XAPI gave it (the body of its latest message on
``xorca.v1.obj.<pool>.<class>.<uuid>``). A `ClientObject` is what clients see: a type of
`xorca.contracts.deltas.OBJECT_TYPES`, the object's stable id (its XAPI uuid, or the registry id
for a pool status), the pool it belongs to, and its fields (``data``).

Client objects never hold ``null``: a value that is absent is a key that is absent. That keeps
JSON merge patches (RFC 7386, where ``null`` means "remove") exact in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ClientObject", "Lookup", "ObjectKey", "Raw"]


@dataclass(frozen=True, slots=True)
class Raw:
    """One XAPI object of one pool, as the log holds it."""

    pool: str  # the pool's uuid
    cls: str  # lowercase XAPI class, as event.from names it: vm, vm_metrics, sr…
    ref: str  # OpaqueRef:…, the key other records link to it by
    uuid: str
    record: Mapping[str, Any]


class Lookup(Protocol):
    """Another raw record of the same pool by its ref (``None`` if unknown or ``OpaqueRef:NULL``).

    Translations read linked records only through it: the projection records every ref looked
    up, and translates the object again whenever one of them changes."""

    def __call__(self, pool: str, ref: str) -> Raw | None: ...


@dataclass(frozen=True, slots=True)
class ObjectKey:
    type: str
    id: str


@dataclass(frozen=True, slots=True)
class ClientObject:
    """One client-facing object: ``data`` is JSON-ready and holds no ``None``."""

    type: str
    id: str
    pool: str | None
    data: dict[str, Any]

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.type, self.id)
