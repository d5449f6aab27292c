"""What goes in and out of the store: plain frozen values, no database types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Commit", "ObjectRow", "RawRow"]


@dataclass(frozen=True, slots=True)
class RawRow:
    """One raw XAPI record as the projection keeps it: ``record`` is orjson-encoded JSON;
    ``seq`` and ``changed_at`` are the stream sequence and time of its latest message (an
    object's revision is computed from those of the records it is made of)."""

    pool: str
    ref: str
    cls: str
    uuid: str
    record: bytes
    seq: int
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ObjectRow:
    """One client object at revision ``rev``; a tombstone has ``deleted`` and no ``data``."""

    type: str
    id: str
    pool: str | None
    rev: int
    deleted: bool
    changed_at: datetime  # aware, UTC when read back
    data: dict[str, Any] | None
    #: the object's XAPI ref in its pool (what commands name it by); not part of ``data``
    ref: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.id)


@dataclass
class Commit:
    """One batch of a consumer's writes, applied in one transaction or not at all.

    ``expected`` is the position the writer read before the batch, ``position`` the one the
    batch brings it to. Within a batch, ``raw_del`` applies before ``raw_put``, and the last of
    several upserts of one key wins.
    """

    consumer: str
    expected: int
    position: int
    objects: list[ObjectRow] = field(default_factory=list)
    raw_put: list[RawRow] = field(default_factory=list)
    raw_del: list[tuple[str, str]] = field(default_factory=list)

    def check(self) -> None:
        """Raise ValueError for a batch that is wrong whatever the database holds."""
        if self.position < self.expected:
            raise ValueError(
                f"commit of {self.consumer!r} moves back from {self.expected} to {self.position}"
            )
        if self.expected < 0:
            raise ValueError(f"negative expected position {self.expected}")
        for row in self.objects:
            if row.changed_at.tzinfo is None:
                raise ValueError(f"object {row.key}: changed_at is a naive datetime")
            if not row.deleted and not isinstance(row.data, dict):
                raise ValueError(f"object {row.key}: a live object needs a JSON object as data")
