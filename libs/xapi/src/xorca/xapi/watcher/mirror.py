"""The watcher's pure core: the mirror of a pool's records, the changes that move it, and the
differences between it and a fresh load. No I/O, no datamodel: plain values in, plain values out.

Why changes are computed *against the mirror* rather than copied from the server's events: the
server's ``operation`` says what happened since a token, the mirror says what the consumer was
told. Deriving each change from the mirror guarantees the one property downstream relies on —
applying a batch to the mirror as it was gives the mirror as it is — whatever the server sent:
a ``mod`` of an object we never saw becomes an ``add``, a ``del`` of an unknown object and a
touch that changed nothing (``event.inject``) become nothing, and a message added and removed
within one answer cancels out.

Records are shared, never copied: the decoded snapshot stored in the mirror is the one a
`Change` carries. Nobody may mutate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypeAlias

from xorca.xapi.values import Value

__all__ = [
    "Batch",
    "Change",
    "Event",
    "Mirror",
    "Op",
    "Record",
    "Tables",
    "apply_changes",
    "count_offsets",
    "load_tables",
]

Op: TypeAlias = Literal["add", "mod", "del"]
Record: TypeAlias = Mapping[str, Value]
#: class (datamodel spelling) → ref → record
Tables: TypeAlias = dict[str, dict[str, Record]]


class Event(NamedTuple):
    """One event of an ``event.from`` answer, checked and with its class in datamodel spelling.
    ``record`` is None for ``del`` (XAPI sends no snapshot with a deletion)."""

    op: Op
    cls: str
    ref: str
    record: Record | None


class Change(NamedTuple):
    """One object's change as the consumer sees it. ``record`` is the record after the change for
    ``add``/``mod``, and for ``del`` the last record the mirror held (so that a consumer can still
    name what vanished, by uuid for instance)."""

    op: Op
    cls: str
    ref: str
    record: Record


@dataclass(frozen=True, slots=True)
class Batch:
    """Changes applied to the mirror at once, in order, each object at most once.

    ``token`` is the ``event.from`` token the watcher goes on from after this batch. ``resync``
    marks a batch that comes from a load — the first one, every full resynchronisation, and the
    reload of only the classes whose ``valid_ref_counts`` disagreed: it holds exactly the
    differences between the mirror before the load and the pool's state, and may be empty (the
    load confirmed the mirror).
    """

    changes: tuple[Change, ...]
    token: str
    resync: bool = False

    def __len__(self) -> int:
        return len(self.changes)

    def count(self, op: Op) -> int:
        return sum(1 for c in self.changes if c.op == op)


def apply_changes(
    tables: MutableMapping[str, dict[str, Record]], changes: Iterable[Change]
) -> None:
    """Apply ``changes`` in order to ``tables`` (which must hold every class they name)."""
    for change in changes:
        table = tables[change.cls]
        if change.op == "del":
            table.pop(change.ref, None)
        else:
            table[change.ref] = change.record


def load_tables(classes: Iterable[str], events: Iterable[Event]) -> Tables:
    """The state a full load describes: its events applied in order to empty tables (a load is
    all ``add``\\ s, except for messages, whose log may also hold deletions)."""
    tables: Tables = {cls: {} for cls in classes}
    for event in events:
        if event.record is None:
            tables[event.cls].pop(event.ref, None)
        else:
            tables[event.cls][event.ref] = event.record
    return tables


def count_offsets(
    tables: Mapping[str, Mapping[str, Record]],
    counts: Mapping[str, int],
    uncounted: frozenset[str] = frozenset({"message"}),
) -> dict[str, int]:
    """For each class whose size differs from the server's ``valid_ref_counts`` (keyed by
    lowercase table name), mirror size minus server count. Classes the server does not count
    (``message`` lives outside xapi's database) or did not report are skipped."""
    offsets: dict[str, int] = {}
    for cls, table in tables.items():
        if cls in uncounted:
            continue
        server = counts.get(cls.lower())
        if server is not None and len(table) != server:
            offsets[cls] = len(table) - server
    return offsets


class Mirror:
    """Every record of the watched classes, as the consumer has been told them."""

    def __init__(self, classes: Iterable[str]) -> None:
        self.tables: Tables = {cls: {} for cls in classes}

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.tables)

    def __len__(self) -> int:
        return sum(len(t) for t in self.tables.values())

    def get(self, cls: str, ref: str) -> Record | None:
        return self.tables[cls].get(ref)

    def snapshot(self) -> Tables:
        """A copy of the tables (the records themselves are shared)."""
        return {cls: dict(table) for cls, table in self.tables.items()}

    def apply(self, changes: Iterable[Change]) -> None:
        apply_changes(self.tables, changes)

    def changes_from(self, events: Iterable[Event]) -> tuple[Change, ...]:
        """The net change of each object ``events`` touch, relative to the mirror, in the order
        of each object's last event. Nothing is applied."""
        after: dict[tuple[str, str], Record | None] = {}
        for event in events:
            key = (event.cls, event.ref)
            after.pop(key, None)  # re-inserted: ordered by the object's last event
            after[key] = event.record
        changes: list[Change] = []
        for (cls, ref), record in after.items():
            before = self.tables[cls].get(ref)
            if record is None:
                if before is not None:
                    changes.append(Change("del", cls, ref, before))
            elif before is None:
                changes.append(Change("add", cls, ref, record))
            elif before is not record and before != record:
                changes.append(Change("mod", cls, ref, record))
        return tuple(changes)

    def diff(
        self, fresh: Mapping[str, Mapping[str, Record]], classes: Iterable[str] | None = None
    ) -> tuple[Change, ...]:
        """What turns the mirror's ``classes`` (default all) into ``fresh`` (a load of them):
        per class, deletions of objects that vanished, then additions and modifications in
        ``fresh``'s order. A class missing from ``fresh`` counts as empty; classes outside
        ``classes`` are left alone."""
        changes: list[Change] = []
        for cls in self.tables if classes is None else classes:
            table, new = self.tables[cls], fresh.get(cls, {})
            changes.extend(
                Change("del", cls, ref, old) for ref, old in table.items() if ref not in new
            )
            for ref, record in new.items():
                old = table.get(ref)
                if old is None:
                    changes.append(Change("add", cls, ref, record))
                elif old is not record and old != record:
                    changes.append(Change("mod", cls, ref, record))
        return tuple(changes)
