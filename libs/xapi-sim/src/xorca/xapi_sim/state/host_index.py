"""Per-host sums over the VM table, kept in step with the database as rows change.

A host's used memory is what its resident VMs hold plus what the VMs scheduled onto it need, and
its next domid lies above every domid it has shown. Computing either from every VM record on each
call cost ~30 ms on a 10,000-VM pool, and a start asks for every host's memory. The resident VMs
alone are no cheap walk either (~500 per host), and ``scheduled_to_be_resident_on`` has no set
side on ``host`` at all. So one `_HostIndex` per database follows its writes through
``Database.listeners``: a write to a VM, or to the VM_metrics it points at, re-charges that VM.
It is built on first use, with one pass over the VMs.
"""

from __future__ import annotations

import weakref

from xorca.xapi.datamodel import NULL_REF
from xorca.xapi_sim.state.db import Database, Record
from xorca.xapi_sim.state.rows import integer
from xorca.xapi_sim.vm import shapes


class _HostIndex:
    """Memory charged to each host, and the highest domid seen resident on it.

    A VM charges `shapes.resident_memory` to its ``resident_on`` host and, when it is
    scheduled onto another one, `shapes.start_memory` to its ``scheduled_to_be_resident_on``
    (as the full scan did: a VM scheduled onto its own host counts once). Records are stored
    copy-on-write, so holding the latest ones costs a reference each.
    """

    def __init__(self, db: Database) -> None:
        self.used: dict[str, int] = {}
        self.top_domid: dict[str, int] = {}
        self._vms: dict[str, Record] = {}
        self._metrics: dict[str, Record] = dict(db.records("VM_metrics"))
        self._owners: dict[str, set[str]] = {}  # VM_metrics ref -> the VMs pointing at it
        self._charges: dict[str, list[tuple[str, int]]] = {}
        for ref, rec in db.records("VM"):
            self._vm_written(ref, rec)
        db.listeners.append(self._written)

    def _written(self, op: str, cls: str, ref: str, record: Record | None) -> None:
        if cls == "VM":
            self._vm_written(ref, record)
        elif cls == "VM_metrics":
            if record is None:
                self._metrics.pop(ref, None)
            else:
                self._metrics[ref] = record
            for vm in self._owners.get(ref, ()):
                self._charge(vm)

    def _vm_written(self, vm: str, record: Record | None) -> None:
        old = self._vms.pop(vm, None)
        if old is not None:
            owners = self._owners.get(str(old["metrics"]))
            if owners is not None:
                owners.discard(vm)
                if not owners:
                    del self._owners[str(old["metrics"])]
        if record is not None:
            self._vms[vm] = record
            self._owners.setdefault(str(record["metrics"]), set()).add(vm)
            host = str(record["resident_on"])
            if host != NULL_REF:
                domid = integer(record, "domid")
                if domid > self.top_domid.get(host, 0):
                    self.top_domid[host] = domid
        self._charge(vm)

    def _charge(self, vm: str) -> None:
        for host, amount in self._charges.pop(vm, ()):
            self.used[host] -= amount
        rec = self._vms.get(vm)
        if rec is None:
            return
        resident, scheduled = str(rec["resident_on"]), str(rec["scheduled_to_be_resident_on"])
        charges = []
        if resident != NULL_REF:
            metrics = self._metrics.get(str(rec["metrics"]))
            charges.append((resident, shapes.resident_memory(rec, metrics)))
        if scheduled not in (NULL_REF, resident):
            charges.append((scheduled, shapes.start_memory(rec)))
        for host, amount in charges:
            self.used[host] = self.used.get(host, 0) + amount
        if charges:
            self._charges[vm] = charges


_indexes: weakref.WeakKeyDictionary[Database, _HostIndex] = weakref.WeakKeyDictionary()


def _index(db: Database) -> _HostIndex:
    index = _indexes.get(db)
    if index is None:
        index = _indexes[db] = _HostIndex(db)
    return index


def used_memory(db: Database, host: str) -> int:
    """Bytes the VMs resident on ``host`` hold plus what the VMs scheduled onto it need."""
    return _index(db).used.get(host, 0)


def highest_domid(db: Database, host: str) -> int:
    """The highest domid a VM resident on ``host`` has had (0 if none), live or gone since."""
    return _index(db).top_domid.get(host, 0)
