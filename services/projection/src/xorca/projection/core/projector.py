"""The projection's pure core: raw records in memory, who reads what, and what a batch changes.

`Projector` holds the latest raw record of every XAPI object (with the stream sequence and time of
its latest message) and, for every client object, the refs its translation looked up. A change
marks dirty the object made from the changed record and every object that read it; `flush`
translates the dirty ones again and hands out their new versions. Nothing here does I/O.

Revisions: an object's ``rev`` is the highest stream sequence among the records it is made from
(its own record and every record its translation read). That depends only on the current records,
not on how the log was cut into batches, nor on which older messages the stream still holds, so
an incremental projection and a rebuild from the compacted stream give the same revisions. A
consequence: a record change that does not alter what clients see (a field no object shows) still
moves the revision of the objects made from it (published as an empty patch).

Records an object only *names* (`Context.link`: a VM names its host by uuid) are not read: their
changes do not touch the object, only their appearance and disappearance do (the link comes or
goes). When that happens to an object clients already have (it was projected before the batch),
the sequence of the appearance or deletion counts too, and so does the deletion of a record an
object still reads: revisions never go back. A rebuild projects everything in one batch, so
these never apply there: its revisions are the highest sequences among the records read, which
the incremental projection gives too unless such a late link or deletion happened (then its
revision is higher).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from xorca.contracts.status import PoolStatusChanged
from xorca.projection.core.records import ClientObject, Lookup, ObjectKey, Raw
from xorca.projection.core.translate import (
    PRIMARY_CLASSES,
    TranslationError,
    pool_status,
    translate,
    type_of,
)

__all__ = ["Failure", "Flushed", "Projected", "Projector", "RawKey", "Stamp"]

RawKey = tuple[str, str]  # (pool uuid, ref)
Translate = Callable[[Raw, Lookup, Lookup], ClientObject | None]


@dataclass(frozen=True, slots=True)
class Stamp:
    """The stream message a record (or an object) comes from: its sequence and time."""

    seq: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Projected:
    """A client object's new version (``data is None``: it is gone), with its revision."""

    key: ObjectKey
    pool: str | None
    data: dict[str, Any] | None
    stamp: Stamp
    ref: str | None = None  # the XAPI ref of the record it is made from

    @property
    def deleted(self) -> bool:
        return self.data is None


@dataclass(frozen=True, slots=True)
class Failure:
    """A record that could not be translated: its object keeps its previous version."""

    raw: Raw
    stamp: Stamp
    error: str


@dataclass(frozen=True, slots=True)
class Flushed:
    """What one batch changed: objects to write, failed translations, raw records to store."""

    objects: list[Projected]
    failures: list[Failure]
    raw_put: list[tuple[Raw, Stamp]]
    raw_del: list[RawKey]


@dataclass(slots=True)
class _Gone:
    """A primary record deleted in the current batch."""

    cls: str
    uuid: str
    pool: str
    record: Mapping[str, Any]
    stamp: Stamp


@dataclass
class Projector:
    """The raw records and the dependency index; `apply` changes, then `flush` the batch."""

    translator: Translate = translate
    raw: dict[RawKey, Raw] = field(default_factory=dict)
    stamps: dict[RawKey, Stamp] = field(default_factory=dict)
    #: a raw record → the primary records whose translation read it
    readers: dict[RawKey, set[RawKey]] = field(default_factory=dict)
    #: a primary record → what its translation read (itself excluded)
    reads: dict[RawKey, frozenset[RawKey]] = field(default_factory=dict)
    #: a raw record → the primary records whose translation named it (by uuid only)
    namers: dict[RawKey, set[RawKey]] = field(default_factory=dict)
    #: a primary record → what its translation named
    names: dict[RawKey, frozenset[RawKey]] = field(default_factory=dict)
    #: a primary record → the key of the object it gave
    keys: dict[RawKey, ObjectKey] = field(default_factory=dict)
    _dirty: set[RawKey] = field(default_factory=set)
    _gone: dict[RawKey, _Gone] = field(default_factory=dict)
    _touched: set[RawKey] = field(default_factory=set)
    _statuses: dict[str, tuple[PoolStatusChanged, Stamp]] = field(default_factory=dict)
    #: records that appeared or were deleted in this batch, with that message's stamp
    _comings: dict[RawKey, Stamp] = field(default_factory=dict)

    # -- loading ---------------------------------------------------------------------------

    def load(self, records: Iterable[tuple[Raw, Stamp]]) -> list[Failure]:
        """Take the stored records (at start) and index who reads what; nothing is handed out."""
        for raw, stamp in records:
            key = (raw.pool, raw.ref)
            self.raw[key] = raw
            self.stamps[key] = stamp
        failures = []
        for key, raw in self.raw.items():
            if raw.cls in PRIMARY_CLASSES:
                result = self._translate(key, raw)
                if isinstance(result, Failure):
                    failures.append(result)
                elif result is not None:
                    self.keys[key] = result.key
        return failures

    # -- one batch -------------------------------------------------------------------------

    def apply(
        self,
        pool: str,
        cls: str,
        ref: str,
        uuid: str,
        op: str,
        record: Mapping[str, Any],
        at: Stamp,
    ) -> None:
        """One object change of the log (``op``: add, mod or del)."""
        key = (pool, ref)
        self._touched.add(key)
        appears = op != "del" and key not in self.raw
        if op == "del":
            self.raw.pop(key, None)
            self.stamps.pop(key, None)
            if cls in PRIMARY_CLASSES:
                self._gone[key] = _Gone(cls, uuid, pool, record, at)
                self._dirty.add(key)
        else:
            self.raw[key] = Raw(pool, cls, ref, uuid, record)
            self.stamps[key] = at
            self._gone.pop(key, None)
            if cls in PRIMARY_CLASSES:
                self._dirty.add(key)
        self._dirty.update(self.readers.get(key, ()))
        if appears or op == "del":
            self._dirty.update(self.namers.get(key, ()))
            self._comings[key] = at

    def apply_status(self, status: PoolStatusChanged, at: Stamp) -> None:
        """A pool status message: its object is the status itself."""
        self._statuses[status.registry_id] = (status, at)

    def flush(self) -> Flushed:
        """The new version of every object the batch touched, and the records to store."""
        out: dict[ObjectKey, Projected] = {}
        failures: list[Failure] = []
        for key in sorted(self._dirty):
            raw = self.raw.get(key)
            if raw is None:
                gone = self._gone.get(key)
                self._index(key, frozenset(), frozenset())
                old = self.keys.pop(key, None)
                if gone is None:
                    continue
                type_ = old.type if old is not None else type_of(gone.cls, gone.record)
                if type_ is not None:
                    object_key = ObjectKey(type_, gone.uuid)
                    gone_one = Projected(object_key, gone.pool, None, gone.stamp, key[1])
                    out.setdefault(object_key, gone_one)
                continue
            old = self.keys.get(key)
            result = self._translate(key, raw)
            if isinstance(result, Failure):
                failures.append(result)
                continue
            stamp = self._stamp_of(key, projected_before=old is not None)
            if old is not None and (result is None or old != result.key):
                out.setdefault(old, Projected(old, raw.pool, None, self.stamps[key], raw.ref))
            if result is None:
                self.keys.pop(key, None)
                continue
            self.keys[key] = result.key
            out[result.key] = Projected(result.key, result.pool, result.data, stamp, raw.ref)
        for status, stamp in self._statuses.values():
            obj = pool_status(status)
            out[obj.key] = Projected(obj.key, obj.pool, obj.data, stamp)
        raw_put: list[tuple[Raw, Stamp]] = []
        raw_del: list[RawKey] = []
        for key in sorted(self._touched):
            raw = self.raw.get(key)
            if raw is None:
                raw_del.append(key)
            else:
                raw_put.append((raw, self.stamps[key]))
        self._dirty, self._gone, self._touched = set(), {}, set()
        self._statuses, self._comings = {}, {}
        return Flushed(list(out.values()), failures, raw_put, raw_del)

    # -- internals -------------------------------------------------------------------------

    def _translate(self, key: RawKey, raw: Raw) -> ClientObject | Failure | None:
        read: set[RawKey] = set()
        named: set[RawKey] = set()

        def lookup(pool: str, ref: str) -> Raw | None:
            read.add((pool, ref))
            return self.raw.get((pool, ref))

        def link(pool: str, ref: str) -> Raw | None:
            named.add((pool, ref))
            return self.raw.get((pool, ref))

        try:
            result = self.translator(raw, lookup, link)
        except TranslationError as e:
            return Failure(raw, self.stamps[key], str(e))
        read.discard(key)
        named.discard(key)
        self._index(key, frozenset(read), frozenset(named - read))
        return result

    def _index(self, key: RawKey, read: frozenset[RawKey], named: frozenset[RawKey]) -> None:
        _reindex(key, read, self.reads, self.readers)
        _reindex(key, named, self.names, self.namers)

    def _stamp_of(self, key: RawKey, *, projected_before: bool) -> Stamp:
        """The newest stamp among the record and every record its translation read; for an
        object clients already have, the appearances and deletions of this batch among the
        records it reads or names count too (see the module docstring)."""
        best = self.stamps[key]
        for read in self.reads.get(key, ()):
            stamp = self.stamps.get(read)
            if stamp is not None and stamp.seq > best.seq:
                best = stamp
        if projected_before and self._comings:
            for other in (*self.reads.get(key, ()), *self.names.get(key, ())):
                coming = self._comings.get(other)
                if coming is not None and coming.seq > best.seq:
                    best = coming
        return best


def _reindex(
    key: RawKey,
    now: frozenset[RawKey],
    forward: dict[RawKey, frozenset[RawKey]],
    backward: dict[RawKey, set[RawKey]],
) -> None:
    """Make ``forward[key]`` be ``now``, and ``backward`` its inverse."""
    before = forward.get(key, frozenset())
    for gone in before - now:
        found = backward.get(gone)
        if found is not None:
            found.discard(key)
            if not found:
                del backward[gone]
    for new in now - before:
        backward.setdefault(new, set()).add(key)
    if now:
        forward[key] = now
    else:
        forward.pop(key, None)
