"""What one client sees of a change: the filter, the types, the fields and the rights it has.

An object that starts to match (or becomes visible) is sent whole (``put``); one that stops
matching is sent as ``del``, as if it were gone; a patch of an object that matches before and
after is sent as a patch, trimmed to the client's fields (and not at all if nothing it asked for
changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xorca.api.core.acl import Principal, can
from xorca.api.core.fields import ALL_FIELDS, Fields
from xorca.api.core.query import MATCH_ALL, Query
from xorca.contracts.deltas import OBJECT_TYPES, collection_type

__all__ = ["View", "ViewEvent", "parse_types"]


@dataclass(frozen=True, slots=True)
class ViewEvent:
    event: str  # put, patch, del
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class View:
    principal: Principal
    types: frozenset[str] | None = None
    query: Query = MATCH_ALL
    fields: Fields = ALL_FIELDS

    @property
    def trivial(self) -> bool:
        """Sees everything whole: changes pass without decoding any object."""
        return self.query is MATCH_ALL and self.fields.is_all and self.principal.is_admin

    def wants_type(self, type_: str) -> bool:
        return self.types is None or type_ in self.types

    def visible(self, obj: Mapping[str, Any] | None) -> bool:
        return obj is not None and self.query.matches(obj) and can(self.principal, "read", obj)

    def item(self, data: Mapping[str, Any], rev: int) -> dict[str, Any]:
        """An object as the client gets it: its fields, and its revision."""
        out = dict(data) if self.fields.is_all else self.fields.project(dict(data))
        out["rev"] = rev
        return out

    def event_for(self, change: Any) -> ViewEvent | None:
        """The event this client gets for ``change`` (the hub's `Change`: ``type``, ``id``,
        ``rev``, ``op``, ``old``, ``new``, ``patch``), or None."""
        if not self.wants_type(change.type):
            return None
        head = {"type": change.type, "id": change.id, "rev": change.rev}
        if self.trivial:
            if change.op == "del":
                return ViewEvent("del", head)
            if change.op == "patch":
                return ViewEvent("patch", {**head, "patch": change.patch})
            return ViewEvent("put", {**head, "data": self.item(change.new, change.rev)})
        before = self.visible(change.old)
        after = self.visible(change.new)
        if after and before and change.op == "patch":
            patch = change.patch if self.fields.is_all else self.fields.project_patch(change.patch)
            return ViewEvent("patch", {**head, "patch": patch}) if patch else None
        if after:
            return ViewEvent("put", {**head, "data": self.item(change.new, change.rev)})
        if before:
            return ViewEvent("del", head)
        return None


def parse_types(text: str | None) -> frozenset[str] | None:
    """``vm,host`` → those types (collection names work too: ``vms,hosts``); None for all;
    ValueError names an unknown one."""
    if text is None or not text.strip():
        return None
    out = set()
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        type_ = name if name in OBJECT_TYPES else collection_type(name)
        if type_ is None:
            raise ValueError(f"unknown type {name!r} (types: {', '.join(OBJECT_TYPES)})")
        out.add(type_)
    return frozenset(out)
