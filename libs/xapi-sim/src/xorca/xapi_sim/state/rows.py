"""Reading typed fields out of records, and copying rows, for the VM and storage code.

The readers trust the datamodel's shapes and fall back to an empty value (``0``, ``[]``, ``{}``)
where a field holds something else, so a hand-edited database cannot crash a handler.
"""

from __future__ import annotations

from xorca.xapi.values import Value
from xorca.xapi_sim.state.db import Database, Record
from xorca.xapi_sim.state.relations import sets_of


def text(rec: Record, key: str) -> str:
    return str(rec[key])


def integer(rec: Record, key: str) -> int:
    value = rec[key]
    return int(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else 0


def ref_list(rec: Record, key: str) -> list[str]:
    value = rec[key]
    return [str(v) for v in value] if isinstance(value, list) else []


def str_map(rec: Record, key: str) -> dict[str, str]:
    value = rec[key]
    return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def optional(db: Database, cls: str, ref: str) -> Record | None:
    """The row ``ref`` of ``cls``, or None for a null or dangling ref."""
    return db.get(cls, ref) if db.exists(cls, ref) else None


def insert(db: Database, cls: str, fields: dict[str, Value]) -> str:
    """``db.create`` for a field map built elsewhere (``copied``)."""
    return db.create(cls, None, **fields)


def copied(db: Database, cls: str, rec: Record, **overrides: Value) -> dict[str, Value]:
    """The fields of a new row copied from ``rec``: fresh uuid, no operations, empty set sides."""
    out = {k: v for k, v in rec.items() if k != "uuid"}
    for rel in sets_of(db.dm, cls):
        out[rel.one_field] = []
    for key in ("current_operations", "allowed_operations"):
        if key in out:
            out[key] = {} if key == "current_operations" else []
    out.update(overrides)
    return out
