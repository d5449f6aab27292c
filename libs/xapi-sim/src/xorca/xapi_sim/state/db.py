"""The simulator's database: xapi's row store with generations, relations and tombstones.

Every write takes the next database generation; a row remembers the generation that created it
(``ctime``) and the one that last touched it (``mtime``), a deleted row leaves a tombstone with the
generation of its deletion. ``event.from`` is answered from exactly these numbers, as xapi does.

Records are copy-on-write: a stored record dict is never mutated after it is stored, so readers
(``get_record``, event snapshots, encoders) share it without copying.

Messages live outside the database, as in xapi, with a generation of their own.
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from xorca.xapi.datamodel import NULL_REF, ClassDef, Datamodel, datamodel
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.state.relations import pointers_of, sets_of

Record = dict[str, Value]
#: called after each write with (operation, class, ref, record or None for del)
Listener = Callable[[str, str, str, "Record | None"], None]

#: xapi keeps the newest 256 to 512 tombstones per table (db_cache_types.ml)
TOMBSTONES_HIGH = 512
TOMBSTONES_LOW = 256


@dataclass(slots=True)
class Row:
    cls: str
    ref: str
    record: Record
    ctime: int
    mtime: int


@dataclass(frozen=True, slots=True)
class Tombstone:
    cls: str
    ref: str
    ctime: int
    dtime: int


@dataclass(frozen=True, slots=True)
class MessageEvent:
    gen: int
    ref: str
    record: Record | None  # None: the message was destroyed


def new_ref() -> str:
    return f"OpaqueRef:{uuidlib.uuid4()}"


class Database:
    def __init__(self, dm: Datamodel | None = None) -> None:
        self.dm = dm or datamodel()
        self.generation = 0
        self.tables: dict[str, dict[str, Row]] = {name: {} for name in self.dm.classes}
        self.tombstones: dict[str, deque[Tombstone]] = {name: deque() for name in self.dm.classes}
        self.by_uuid: dict[str, dict[str, str]] = {name: {} for name in self.dm.classes}
        self.class_of: dict[str, str] = {}
        #: (class, ref) in the order of their mtime, newest last: event.from walks it backwards
        self._recent: dict[tuple[str, str], int] = {}
        self.messages: dict[str, Record] = {}
        self.message_generation = 0
        self.message_log: deque[MessageEvent] = deque(maxlen=10_000)
        self._waiters: list[asyncio.Future[None]] = []
        self.listeners: list[Listener] = []

    # ---- reads -------------------------------------------------------------------------------

    def cls(self, name: str) -> ClassDef:
        return self.dm.classes[name]

    def row(self, cls: str, ref: str) -> Row:
        row = self.tables[cls].get(ref)
        if row is None:
            raise XapiError("HANDLE_INVALID", [cls, ref])
        return row

    def get(self, cls: str, ref: str) -> Record:
        """The stored record (shared: do not mutate)."""
        return self.row(cls, ref).record

    def field(self, cls: str, ref: str, name: str) -> Value:
        return self.row(cls, ref).record[name]

    def text(self, cls: str, ref: str, name: str) -> str:
        return str(self.row(cls, ref).record[name])

    def integer(self, cls: str, ref: str, name: str) -> int:
        value = self.row(cls, ref).record[name]
        assert isinstance(value, int | str), (cls, name, value)
        return int(value)

    def ref_set(self, cls: str, ref: str, name: str) -> list[str]:
        """A set field (refs or strings) as a list of str."""
        value = self.row(cls, ref).record[name]
        assert isinstance(value, list), (cls, name, value)
        return [str(v) for v in value]

    def exists(self, cls: str, ref: str) -> bool:
        return ref in self.tables[cls]

    def refs(self, cls: str) -> list[str]:
        return list(self.tables[cls])

    def records(self, cls: str) -> Iterator[tuple[str, Record]]:
        for ref, row in self.tables[cls].items():
            yield ref, row.record

    def by_uuid_ref(self, cls: str, uuid: str) -> str:
        ref = self.by_uuid[cls].get(uuid)
        if ref is None:
            # Read_missing_uuid (table, _, uuid), the table as the datamodel spells it
            # (db_cache_impl.ml db_get_by_uuid; exnHelper.ml)
            raise XapiError("UUID_INVALID", [cls, uuid])
        return ref

    def find(self, cls: str, **match: Value) -> list[str]:
        return [
            ref
            for ref, row in self.tables[cls].items()
            if all(row.record.get(k) == v for k, v in match.items())
        ]

    def counts(self) -> dict[str, int]:
        return {name.lower(): len(rows) for name, rows in self.tables.items()}

    # ---- writes ------------------------------------------------------------------------------

    def _next_gen(self) -> int:
        self.generation += 1
        return self.generation

    def _touch(self, row: Row) -> None:
        row.mtime = self._next_gen()
        key = (row.cls, row.ref)
        self._recent.pop(key, None)
        self._recent[key] = row.mtime
        self._notify()
        for listener in self.listeners:
            listener("mod", row.cls, row.ref, row.record)

    def create(self, cls: str, ref: str | None = None, **values: Value) -> str:
        """Insert a whole record (datamodel defaults, then ``values``) and link its relations."""
        cdef = self.dm.classes[cls]
        ref = ref or new_ref()
        record = cdef.new_record(**values)
        if "uuid" in record and not record["uuid"]:
            record["uuid"] = str(uuidlib.uuid4())
        gen = self._next_gen()
        row = Row(cls, ref, record, gen, gen)
        self.tables[cls][ref] = row
        self.class_of[ref] = cls
        if "uuid" in record:
            self.by_uuid[cls][str(record["uuid"])] = ref
        self._recent[(cls, ref)] = gen
        self._notify()
        for listener in self.listeners:
            listener("add", cls, ref, record)
        for rel in pointers_of(self.dm, cls):
            self._link(rel.one_cls, str(record[rel.many_field]), rel.one_field, ref)
        return ref

    def update(self, cls: str, ref: str, **values: Value) -> None:
        """Replace fields of a row (copy-on-write) and keep both sides of its relations in step."""
        row = self.row(cls, ref)
        old = row.record
        unknown = set(values) - old.keys()
        if unknown:
            raise KeyError(f"{cls} has no field(s) {sorted(unknown)}")
        if all(old[k] == v for k, v in values.items()):
            return
        row.record = {**old, **values}
        self._touch(row)
        for rel in pointers_of(self.dm, cls):
            if rel.many_field in values and old[rel.many_field] != values[rel.many_field]:
                self._unlink(rel.one_cls, str(old[rel.many_field]), rel.one_field, ref)
                self._link(rel.one_cls, str(values[rel.many_field]), rel.one_field, ref)

    def touch(self, cls: str, ref: str) -> None:
        """A write that changes nothing but the row's generation (event.inject)."""
        self._touch(self.row(cls, ref))

    def destroy(self, cls: str, ref: str) -> None:
        row = self.row(cls, ref)
        del self.tables[cls][ref]
        self.class_of.pop(ref, None)
        self._recent.pop((cls, ref), None)
        if "uuid" in row.record:
            self.by_uuid[cls].pop(str(row.record["uuid"]), None)
        tombs = self.tombstones[cls]
        tombs.append(Tombstone(cls, ref, row.ctime, self._next_gen()))
        if len(tombs) > TOMBSTONES_HIGH:
            while len(tombs) > TOMBSTONES_LOW:
                tombs.popleft()
        self._notify()
        for listener in self.listeners:
            listener("del", cls, ref, None)
        for rel in pointers_of(self.dm, cls):
            self._unlink(rel.one_cls, str(row.record[rel.many_field]), rel.one_field, ref)
        # rows that pointed at this one now point at nothing, as xapi's referential clean-up does
        for rel in sets_of(self.dm, cls):
            for other in row.record[rel.one_field]:  # type: ignore[union-attr]
                target = self.tables[rel.many_cls].get(str(other))
                if target is not None and target.record[rel.many_field] == ref:
                    target.record = {**target.record, rel.many_field: NULL_REF}
                    self._touch(target)

    def _link(self, cls: str, ref: str, field: str, member: str) -> None:
        row = self.tables[cls].get(ref)
        if row is None:
            return
        current = row.record[field]
        assert isinstance(current, list)
        if member not in current:
            row.record = {**row.record, field: [*current, member]}
            self._touch(row)

    def _unlink(self, cls: str, ref: str, field: str, member: str) -> None:
        row = self.tables[cls].get(ref)
        if row is None:
            return
        current = row.record[field]
        assert isinstance(current, list)
        if member in current:
            row.record = {**row.record, field: [m for m in current if m != member]}
            self._touch(row)

    # ---- messages (outside the database, as in xapi) ----------------------------------------

    def add_message(self, record: Record, ref: str | None = None) -> str:
        ref = ref or new_ref()
        self.messages[ref] = record
        self.message_generation += 1
        self.message_log.append(MessageEvent(self.message_generation, ref, record))
        self._notify()
        return ref

    def destroy_message(self, ref: str) -> None:
        if ref not in self.messages:
            raise XapiError("HANDLE_INVALID", ["message", ref])
        del self.messages[ref]
        self.message_generation += 1
        self.message_log.append(MessageEvent(self.message_generation, ref, None))
        self._notify()

    # ---- change tracking ---------------------------------------------------------------------

    def recent(self, since: int) -> Iterator[Row]:
        """Live rows touched after generation ``since``, newest first."""
        for key in reversed(self._recent):
            if self._recent[key] <= since:
                return
            yield self.tables[key[0]][key[1]]

    def deleted(self, since: int, classes: Iterable[str]) -> Iterator[Tombstone]:
        for cls in classes:
            for tomb in reversed(self.tombstones[cls]):
                if tomb.dtime <= since:
                    break
                yield tomb

    def messages_since(self, since: int) -> list[MessageEvent]:
        return [m for m in self.message_log if m.gen > since]

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def wait_beyond(self, generation: int, message_generation: int, timeout: float) -> bool:
        """Wait until the database moves past the given generations, or ``timeout`` seconds.

        Returns True if it moved. Callers read the generations first, then wait: no write between
        the two can be missed, because the check happens before the future is created.
        """
        if self.generation > generation or self.message_generation > message_generation:
            return True
        if timeout <= 0:
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        return True
