"""What to write and what to publish, from an object's new version and the row the store has.

new version      row in the store        write          delta
live             none, or a tombstone    the row        put (whole object)
live             live, same rev and data nothing        nothing
live             live, otherwise         the row        patch (RFC 7386) or put, whichever
                                                        is smaller; an empty patch when only
                                                        the revision moved
gone             live                    a tombstone    del
gone             none                    a tombstone    nothing (no client ever had it)
gone             tombstone, same rev     nothing        nothing
gone             tombstone, other rev    the tombstone  nothing
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from xorca.contracts import merge_patch
from xorca.contracts.deltas import DeltaOp, ObjectProjected
from xorca.projection.core.projector import Projected

__all__ = ["Decision", "StoredRow", "decide"]


class StoredRow(Protocol):
    """What the store has for an object (`xorca.store.ObjectRow` is one)."""

    @property
    def rev(self) -> int: ...
    @property
    def deleted(self) -> bool: ...
    @property
    def data(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """A version to write, and the delta to publish once it is committed (if any)."""

    projected: Projected
    delta: ObjectProjected | None


def decide(
    projected: list[Projected], stored: Mapping[tuple[str, str], StoredRow]
) -> list[Decision]:
    """The writes (and their deltas) that bring the store to ``projected``, in its order."""
    decisions = []
    for new in projected:
        row = stored.get((new.key.type, new.key.id))
        decision = _decide(new, row)
        if decision is not None:
            decisions.append(decision)
    return decisions


def _decide(new: Projected, row: StoredRow | None) -> Decision | None:
    rev = new.stamp.seq
    if new.data is None:
        if row is None:
            return Decision(new, None)
        if row.deleted:
            return None if row.rev == rev else Decision(new, None)
        return Decision(new, _delta(new, "del"))
    if row is None or row.deleted or row.data is None:
        return Decision(new, _delta(new, "put", data=new.data))
    if row.rev == rev and row.data == new.data:
        return None
    patch = merge_patch.diff(row.data, new.data)
    if patch and len(orjson.dumps(patch)) >= len(orjson.dumps(new.data)):
        return Decision(new, _delta(new, "put", data=new.data))
    return Decision(new, _delta(new, "patch", patch=patch))


def _delta(
    new: Projected,
    op: DeltaOp,
    *,
    data: dict[str, Any] | None = None,
    patch: dict[str, Any] | None = None,
) -> ObjectProjected:
    key = new.key
    return ObjectProjected(
        op=op, type=key.type, id=key.id, pool=new.pool, rev=new.stamp.seq, data=data, patch=patch
    )
