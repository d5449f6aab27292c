"""One-to-many relations that xapi's database keeps in step on both sides.

A row that points at another (``VBD.VM``) appears in the other's set field (``VM.VBDs``). xapi's
datamodel lists these pairs in ``all_relations``; ``xenapi.json`` does not carry that list, so it is
derived here: every RO/runtime ``X ref set`` field whose class ``X`` has exactly one field pointing
back, plus the ambiguous pairs spelled out below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from xorca.xapi.datamodel import Datamodel, Ref, SetOf

#: (one class, its set field) -> the field of the many class that points back
_CHOSEN: dict[tuple[str, str], str] = {
    ("VM", "snapshots"): "snapshot_of",
    ("VM", "children"): "parent",
    ("VM", "VTPMs"): "VM",
    ("host", "resident_VMs"): "resident_on",
    ("PIF", "bond_master_of"): "master",
    ("PIF", "VLAN_slave_of"): "tagged_PIF",
    ("PIF", "tunnel_access_PIF_of"): "access_PIF",
    ("PIF", "tunnel_transport_PIF_of"): "transport_PIF",
    ("PIF", "sriov_physical_PIF_of"): "physical_PIF",
    ("PIF", "sriov_logical_PIF_of"): "logical_PIF",
    ("VDI", "snapshots"): "snapshot_of",
    ("PGPU", "resident_VGPUs"): "resident_on",
}


@dataclass(frozen=True, slots=True)
class Relation:
    many_cls: str  # VBD
    many_field: str  # VM
    one_cls: str  # VM
    one_field: str  # VBDs


@cache
def _relations(dm: Datamodel) -> tuple[Relation, ...]:
    out: list[Relation] = []
    for c in dm.classes.values():
        for f in c.fields.values():
            if f.qualifier != "RO/runtime" or not isinstance(f.type, SetOf):
                continue
            if not isinstance(f.type.item, Ref) or f.type.item.cls not in dm.classes:
                continue
            many = dm.classes[f.type.item.cls]
            back = [g.name for g in many.fields.values() if g.type == Ref(c.name)]
            chosen = _CHOSEN.get((c.name, f.name))
            if chosen is None and len(back) == 1:
                chosen = back[0]
            if chosen is not None:
                out.append(Relation(many.name, chosen, c.name, f.name))
    return tuple(out)


@cache
def pointers_of(dm: Datamodel, many_cls: str) -> tuple[Relation, ...]:
    """The relations in which ``many_cls`` holds the pointer."""
    return tuple(r for r in _relations(dm) if r.many_cls == many_cls)


@cache
def sets_of(dm: Datamodel, one_cls: str) -> tuple[Relation, ...]:
    """The relations in which ``one_cls`` holds the set."""
    return tuple(r for r in _relations(dm) if r.one_cls == one_cls)
