"""Rows assembled in memory, then written into a `Database` in one pass; and seeded identifiers.

Why not ``db.create`` one row at a time: the database keeps both sides of every relation in step,
and it does so copy-on-write, so adding the 20,000th VDI to an SR copies the SR's ``VDIs`` list
20,000 times over. A `Batch` instead fills the set side of every relation whose two ends are in
the batch, then inserts the pointing classes before the classes they point at (VBDs before VMs,
VDIs before SRs). When a pointed-at row is created its set is already complete, and the
database's own linking finds nothing to do. Within a class rows keep the order they were added
in: a VM's ``snapshots`` list is short, so linking it costs nothing. Rows that point outside the
batch (a new VM on an existing host) are linked by the database as usual, so a batch is just as
correct on a live pool.

`Ids` derives uuids, refs and MAC addresses from one seeded ``random.Random``, so a seed gives the
same pool, identifiers included.
"""

from __future__ import annotations

import random
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter

from xorca.xapi.datamodel import NULL_REF, Datamodel
from xorca.xapi.values import Value
from xorca.xapi_sim.state.db import Database, Record
from xorca.xapi_sim.state.relations import pointers_of, sets_of

_V4 = 0x4000 << 64
_V4_MASK = ~(0xF000 << 64)
_VARIANT = 0x8000 << 48
_VARIANT_MASK = ~(0xC000 << 48)


class Ids:
    """Seeded identifiers: uuid4-shaped uuids, ``OpaqueRef:`` refs, unique MAC addresses."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.macs: set[str] = set()

    def uuid(self) -> str:
        n = (self.rng.getrandbits(128) & _V4_MASK | _V4) & _VARIANT_MASK | _VARIANT
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def ref(self) -> str:
        return f"OpaqueRef:{self.uuid()}"

    def mac(self, prefix: str = "") -> str:
        """A MAC unique among those this instance gave out: the vendor ``prefix`` (``3c:fd:fe``)
        or, without one, a random locally administered unicast address as xapi generates for VIFs.
        """
        while True:
            if prefix:
                tail = [self.rng.getrandbits(8) for _ in range(3)]
                mac = prefix + "".join(f":{b:02x}" for b in tail)
            else:
                octets = [self.rng.getrandbits(8) for _ in range(6)]
                octets[0] = (octets[0] & 0xFC) | 0x02
                mac = ":".join(f"{b:02x}" for b in octets)
            if mac not in self.macs:
                self.macs.add(mac)
                return mac


def as_int(value: Value) -> int:
    """An int field of a record, checked (records are typed as any `Value`)."""
    if not isinstance(value, int):
        raise TypeError(f"expected an int, got {value!r}")
    return value


class Batch:
    """Rows to create: ``rows[cls][ref]`` holds the fields to set (the rest take defaults)."""

    def __init__(self, dm: Datamodel) -> None:
        self.dm = dm
        self.rows: dict[str, dict[str, Record]] = defaultdict(dict)

    def add(self, cls: str, ref: str, **values: Value) -> str:
        if cls not in self.dm.classes:
            raise KeyError(f"no class {cls}")
        self.rows[cls][ref] = values
        return ref

    def get(self, cls: str, ref: str) -> Record:
        """The pending fields of a row, to complete before `insert` (mutable until then)."""
        return self.rows[cls][ref]

    def count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def insert(self, db: Database) -> None:
        """Create every row in ``db``, both sides of each relation complete."""
        self._fill_sets()
        for cls in self._class_order():
            for ref, values in self.rows[cls].items():
                db.create(cls, ref=ref, **values)
        self.rows.clear()

    def _fill_sets(self) -> None:
        dm = self.dm
        for cls, rows in self.rows.items():
            for rel in sets_of(dm, cls):
                if any(rel.one_field in values for values in rows.values()):
                    # a hand-filled set would be duplicated below: relations are derived only
                    raise ValueError(
                        f"{cls}.{rel.one_field} is kept by the database, do not set it"
                    )
        for cls, rows in list(self.rows.items()):
            for rel in pointers_of(dm, cls):
                targets = self.rows.get(rel.one_cls)
                if not targets:
                    continue
                for ref, values in rows.items():
                    target = values.get(rel.many_field)
                    if not isinstance(target, str) or target == NULL_REF:
                        continue
                    one = targets.get(target)
                    if one is not None:
                        members = one.setdefault(rel.one_field, [])
                        assert isinstance(members, list)
                        members.append(ref)

    def _class_order(self) -> list[str]:
        """Pointing classes first (VBD before VM before host), so that linking is never needed."""
        classes = [c for c, rows in self.rows.items() if rows]
        graph: dict[str, set[str]] = {c: set() for c in classes}
        for cls in classes:
            for rel in pointers_of(self.dm, cls):
                if rel.one_cls in graph and rel.one_cls != cls:
                    graph[rel.one_cls].add(cls)
        try:
            return list(TopologicalSorter(graph).static_order())
        except CycleError:  # still correct, the database links what is left, only slower
            return classes
