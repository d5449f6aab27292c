"""What a translator works with: the record, and the linked records it may read.

Linked records are read only through `Context.linked`, which goes through the caller's `Lookup`
(so the projection knows every ref a translation depended on), keeps each answer for the rest of
the translation, and checks the class: a ref that leads to a record of another class, or to a
record that is not a mapping, counts as a link to nothing. `Context.link` needs only the uuid of a
linked record and asks the ``link`` lookup: the projection then translates the object again when
that record appears or goes, not at each of its changes (a host's record changes at every start
and stop of its VMs; its hundreds of VMs only name it).

The fields every object has (``id``, ``type``, ``$pool``), the names and tags of the classes that
have them, and the operations fields are built here once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from xorca.projection.core.records import Lookup, Raw
from xorca.projection.core.translate.fields import (
    Record,
    get_map,
    get_str,
    get_str_map,
    get_strs,
    is_ref,
)

__all__ = ["Context", "Linked"]


@dataclass(frozen=True, slots=True)
class Linked:
    """A linked record that passed the checks: its uuid is a non-empty string."""

    uuid: str
    cls: str
    record: Record


class Context:
    """One translation: the record, its lookups, and what they answered so far."""

    __slots__ = ("_named", "_seen", "failure", "link_lookup", "lookup", "raw", "record", "type",
                 "uuid")  # fmt: skip

    def __init__(
        self,
        raw: Raw,
        lookup: Lookup,
        record: Record,
        uuid: str,
        type: str,
        *,
        link: Lookup | None = None,
    ) -> None:
        self.raw = raw
        self.lookup = lookup
        self.record = record
        self.uuid = uuid
        self.type = type
        #: the lookup for records named by uuid only (`link`); ``lookup`` when None
        self.link_lookup = link
        #: what the lookup raised, if it did: translate() lets it through untouched
        self.failure: BaseException | None = None
        self._seen: dict[str, Linked | None] = {}
        self._named: dict[str, Linked | None] = {}

    @property
    def pool(self) -> str:
        return self.raw.pool

    def linked(self, ref: object, cls: str | None) -> Linked | None:
        """The record ``ref`` names if it is of class ``cls`` (lowercase; None: any class)."""
        if not isinstance(ref, str) or not is_ref(ref):
            return None
        if ref in self._seen:
            found = self._seen[ref]
        else:
            found = self._seen[ref] = self._lookup(ref)
        if found is None or (cls is not None and found.cls != cls):
            return None
        return found

    def _lookup(self, ref: str, lookup: Lookup | None = None) -> Linked | None:
        try:
            raw = (lookup or self.lookup)(self.raw.pool, ref)
        except BaseException as e:
            self.failure = e
            raise
        if raw is None:
            return None
        uuid: object = raw.uuid
        cls: object = raw.cls
        record: object = raw.record
        if not (isinstance(uuid, str) and uuid and isinstance(cls, str)):
            return None
        if not isinstance(record, Mapping):
            return None
        return Linked(str(uuid), cls.lower(), record)

    def link(self, ref: object, cls: str) -> str | None:
        """The uuid of the ``cls`` record ``ref`` names, or None (its other fields unread)."""
        if self.link_lookup is None:
            found = self.linked(ref, cls)
            return found.uuid if found is not None else None
        if not isinstance(ref, str) or not is_ref(ref):
            return None
        if ref in self._seen:
            named = self._seen[ref]
        elif ref in self._named:
            named = self._named[ref]
        else:
            named = self._named[ref] = self._lookup(ref, self.link_lookup)
        return named.uuid if named is not None and named.cls == cls else None

    def links(self, refs: Iterable[object], cls: str) -> list[str]:
        """The uuids of the ``cls`` records ``refs`` name, sorted, without duplicates."""
        return sorted({uuid for ref in refs if (uuid := self.link(ref, cls)) is not None})

    def all_linked(self, refs: Iterable[object], cls: str) -> list[Linked]:
        """The ``cls`` records ``refs`` name, in uuid order (so that what is built from them is
        deterministic)."""
        found = {
            linked.uuid: linked for ref in refs if (linked := self.linked(ref, cls)) is not None
        }
        return [found[uuid] for uuid in sorted(found)]

    # ---- fields shared by every type ------------------------------------------------------------

    def common(self, *, named: bool = True, tagged: bool = False) -> dict[str, object]:
        """``id``, ``type``, ``$pool``; ``name_label``/``name_description`` when ``named``, ``tags``
        (sorted, unique) when ``tagged``."""
        data: dict[str, object] = {"id": self.uuid, "type": self.type, "$pool": self.pool}
        if named:
            data["name_label"] = get_str(self.record, "name_label")
            data["name_description"] = get_str(self.record, "name_description")
        if tagged:
            tags = get_strs(self.record, "tags")
            data["tags"] = None if tags is None else sorted(set(tags))
        return data

    def operations(self) -> dict[str, object]:
        """``allowed_operations`` (sorted) and ``current_operations``: {task uuid: operation}.

        XAPI keys ``current_operations`` by task ref; a task the lookup does not know keeps its
        ref as the key, so that a running operation is never hidden."""
        allowed = get_strs(self.record, "allowed_operations")
        current = get_map(self.record, "current_operations")
        running: dict[str, object] | None = None
        if current is not None:
            running = {}
            for ref, operation in sorted(current.items()):
                if isinstance(operation, str):
                    running[self.link(ref, "task") or ref] = operation
        return {
            "allowed_operations": None if allowed is None else sorted(set(allowed)),
            "current_operations": running,
        }

    def sorted_str_map(self, key: str) -> dict[str, str] | None:
        """A ``(string -> string) map`` field with its keys in order."""
        found = get_str_map(self.record, key)
        return None if found is None else dict(sorted(found.items()))
