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

One exception keeps revisions from going back: when a record is deleted while an object still
reads it (its record still names the deleted one), the deletion's sequence counts too, in the
batch of the deletion. XAPI changes the referring record along with the deletion in the usual
cases (``VM.VBDs`` when a VBD goes), and then the later of the two messages gives the revision.
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
Translate = Callable[[Raw, Lookup], ClientObject | None]


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
    #: a primary record → the key of the object it gave
    keys: dict[RawKey, ObjectKey] = field(default_factory=dict)
    _dirty: set[RawKey] = field(default_factory=set)
    _gone: dict[RawKey, _Gone] = field(default_factory=dict)
    _touched: set[RawKey] = field(default_factory=set)
    _statuses: dict[str, tuple[PoolStatusChanged, Stamp]] = field(default_factory=dict)
    #: records deleted in this batch, with the deletion's stamp
    _deleted: dict[RawKey, Stamp] = field(default_factory=dict)

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
        if op == "del":
            self._deleted[key] = at
        else:
            self._deleted.pop(key, None)

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
                self._forget(key)
                old = self.keys.pop(key, None)
                if gone is None:
                    continue
                type_ = old.type if old is not None else type_of(gone.cls, gone.record)
                if type_ is not None:
                    object_key = ObjectKey(type_, gone.uuid)
                    out.setdefault(object_key, Projected(object_key, gone.pool, None, gone.stamp))
                continue
            result = self._translate(key, raw)
            if isinstance(result, Failure):
                failures.append(result)
                continue
            old = self.keys.get(key)
            stamp = self._stamp_of(key)
            if old is not None and (result is None or old != result.key):
                out.setdefault(old, Projected(old, raw.pool, None, self.stamps[key]))
            if result is None:
                self.keys.pop(key, None)
                continue
            self.keys[key] = result.key
            out[result.key] = Projected(result.key, result.pool, result.data, stamp)
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
        self._statuses, self._deleted = {}, {}
        return Flushed(list(out.values()), failures, raw_put, raw_del)

    # -- internals -------------------------------------------------------------------------

    def _translate(self, key: RawKey, raw: Raw) -> ClientObject | Failure | None:
        read: set[RawKey] = set()

        def lookup(pool: str, ref: str) -> Raw | None:
            read.add((pool, ref))
            return self.raw.get((pool, ref))

        try:
            result = self.translator(raw, lookup)
        except TranslationError as e:
            return Failure(raw, self.stamps[key], str(e))
        read.discard(key)
        self._index(key, frozenset(read))
        return result

    def _index(self, key: RawKey, read: frozenset[RawKey]) -> None:
        before = self.reads.get(key, frozenset())
        for gone in before - read:
            readers = self.readers.get(gone)
            if readers is not None:
                readers.discard(key)
                if not readers:
                    del self.readers[gone]
        for new in read - before:
            self.readers.setdefault(new, set()).add(key)
        if read:
            self.reads[key] = read
        else:
            self.reads.pop(key, None)

    def _forget(self, key: RawKey) -> None:
        self._index(key, frozenset())

    def _stamp_of(self, key: RawKey) -> Stamp:
        """The newest stamp among the record and every record its translation read."""
        best = self.stamps[key]
        for read in self.reads.get(key, ()):
            stamp = self.stamps.get(read) or self._deleted.get(read)
            if stamp is not None and stamp.seq > best.seq:
                best = stamp
        return best
