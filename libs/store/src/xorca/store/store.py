"""`Store`, the state store: the projection writes client objects and its stream position in one
transaction each (exactly-once), readers get consistent views (`StoreReader`) at one revision.

The same code runs on PostgreSQL and SQLite; the differences are in `engine` (connection set-up)
and in two places here: the dialect's ``INSERT … ON CONFLICT`` construct, and how a read
transaction gets its snapshot (PostgreSQL: REPEATABLE READ, read only; SQLite in WAL mode: a
deferred transaction is a snapshot from its first SELECT, which is why a reader's first statement
reads the position and the horizon).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import gc
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import orjson
from sqlalchemy import (
    BigInteger,
    Insert,
    Row,
    Select,
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    not_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from xorca.store import migrate as migrations
from xorca.store.engine import BEGIN_OPTION, async_url, create_engine, is_memory, redacted
from xorca.store.engine import sqlite_path as sqlite_file
from xorca.store.errors import (
    PositionConflict,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
    translated,
)
from xorca.store.models import META, OBJECTS, POSITIONS, RAW, TOMBSTONE
from xorca.store.rows import Commit, ObjectRow, RawRow

__all__ = ["HORIZON", "READER_CONSUMER", "Store", "StoreReader"]

READER_CONSUMER = "projection"  # the consumer whose position is the readers' revision
HORIZON = "horizon"  # meta key: clients at a revision below it must reload
CHUNK = 500  # rows per write statement (executemany) and ids per IN query
RAW_PAGE = 2000  # raw rows per query while streaming them

_OBJECT_COLUMNS = (
    OBJECTS.c.type,
    OBJECTS.c.id,
    OBJECTS.c.pool,
    OBJECTS.c.rev,
    OBJECTS.c.deleted,
    OBJECTS.c.changed_at,
    OBJECTS.c.ref,
    # the JSON as text (PostgreSQL: jsonb's text output; SQLite: the text as stored), decoded
    # here with orjson, the garbage collector paused (see `_gc_paused`): asyncpg's jsonb codec
    # would decode it during the fetch, with the collector running, at a third of the speed. A
    # row that does not decode becomes a StoreCorrupt that names it.
    cast(OBJECTS.c.data, Text).label("data"),
)


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _object(row: Row[Any]) -> ObjectRow:
    stored: dict[str, Any] | str | bytes | None = row.data
    data: dict[str, Any] | None = None
    if isinstance(stored, str | bytes):
        try:
            stored = orjson.loads(stored)
        except orjson.JSONDecodeError as e:
            raise StoreCorrupt("objects", (row.type, row.id), str(e)) from e
    if stored is not None:
        if not isinstance(stored, dict):
            raise StoreCorrupt("objects", (row.type, row.id), "data is not a JSON object")
        data = stored
    return ObjectRow(
        type=row.type,
        id=row.id,
        pool=row.pool,
        rev=row.rev,
        deleted=bool(row.deleted),
        changed_at=row.changed_at,
        data=data,
        ref=row.ref,
    )


def _object_params(row: ObjectRow) -> dict[str, Any]:
    return {
        "type": row.type,
        "id": row.id,
        "pool": row.pool,
        "rev": row.rev,
        "deleted": row.deleted,
        "changed_at": row.changed_at,
        "ref": row.ref,
        "data": None if row.deleted else row.data,
    }


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise ValueError(f"negative limit {limit}")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many rows are decoded at once: the dicts the
    decoding makes trigger collections that walk everything already decoded, which costs more
    than the decoding (LIMITS.md: 3x). The block must not await, so nothing else runs meanwhile.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Serial:
    """One operation at a time, for an in-memory SQLite database (a single connection that
    cannot hold two transactions). A task that already holds it gets an error, not a deadlock."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise StoreError(
                "an in-memory SQLite store runs one operation at a time: "
                "this task already has one open (a write inside a reader?)"
            )
        async with self._lock:
            self._holder = task
            try:
                yield
            finally:
                self._holder = None


class Store:
    """The state store on one database; open it with `Store.open`."""

    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self._engine = engine
        self.url = url  # redacted, for logs
        self.dialect = engine.dialect.name
        self._sqlite = self.dialect == "sqlite"
        self._insert = sqlite_insert if self._sqlite else postgresql_insert
        # a writer takes SQLite's write lock at BEGIN (no stale-snapshot SQLITE_BUSY later)
        self._write_engine = engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
        self._view_engine = (
            engine
            if self._sqlite
            else engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        )
        self._serial = _Serial() if is_memory(str(engine.url)) else None
        self._upserts: dict[str, Insert] = {}
        self._closed = False

    # -- opening and closing -----------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        connect_timeout: float = 10.0,
        pool_size: int = 5,
        busy_timeout: float = 5.0,
    ) -> Store:
        """Connect to ``url`` (``XORCA_DATABASE_URL``) and upgrade the schema to the head of the
        migrations, or with ``migrate=False`` check that it is there (`SchemaOutdated`).

        ``connect_timeout`` bounds each connection attempt to PostgreSQL, ``busy_timeout`` how
        long a SQLite statement waits for a lock before `StoreUnavailable`.
        """
        full = async_url(url)
        path = sqlite_file(full)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreUnavailable(
                    f"cannot create the directory {str(path.parent)!r} for the SQLite database "
                    f"{str(path)!r}: {e.strerror or e}"
                ) from e
        engine = create_engine(
            full, connect_timeout=connect_timeout, pool_size=pool_size, busy_timeout=busy_timeout
        )
        store = cls(engine, redacted(url))
        try:
            with translated():
                if migrate:
                    await migrations.upgrade(engine)
                else:
                    await migrations.check(engine)
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # -- transactions ------------------------------------------------------------------------

    def _one_at_a_time(self) -> AbstractAsyncContextManager[None]:
        return self._serial.hold() if self._serial is not None else contextlib.nullcontext()

    @asynccontextmanager
    async def _transaction(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed at the end (rolled back on an error)."""
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        engine = self._write_engine if write else self._engine
        async with self._one_at_a_time(), engine.begin() as connection:
            yield connection

    def _upsert(self, table: Table) -> Insert:
        """``INSERT … ON CONFLICT (primary key) DO UPDATE SET`` every other column."""
        statement = self._upserts.get(table.name)
        if statement is None:
            insert = self._insert(table)
            keys = [column.name for column in table.primary_key.columns]
            statement = insert.on_conflict_do_update(
                index_elements=keys,
                set_={c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys},
            )
            self._upserts[table.name] = statement
        return statement

    async def _raise_horizon(self, connection: AsyncConnection, value: int) -> None:
        """Set meta "horizon" to ``value`` unless it is already higher (it never goes down)."""
        insert = self._insert(META).values(key=HORIZON, value=str(value))
        await connection.execute(
            insert.on_conflict_do_update(
                index_elements=[META.c.key],
                set_={"value": insert.excluded.value},
                where=cast(META.c.value, BigInteger) < cast(insert.excluded.value, BigInteger),
            )
        )

    # -- the writer's side -------------------------------------------------------------------

    async def position(self, consumer: str) -> int:
        """How far ``consumer``'s committed writes go in the stream (0 before the first)."""
        with translated():
            async with self._transaction() as connection:
                value = await connection.scalar(
                    select(POSITIONS.c.position).where(POSITIONS.c.consumer == consumer)
                )
        return int(value or 0)

    async def raw_rows(self) -> AsyncIterator[RawRow]:
        """Every raw row, in (pool, ref) order, read a page at a time: no connection is held
        between pages, so a caller may stop early."""
        query = select(
            RAW.c.pool, RAW.c.ref, RAW.c.cls, RAW.c.uuid, RAW.c.record, RAW.c.seq, RAW.c.changed_at
        )
        query = query.order_by(RAW.c.pool, RAW.c.ref).limit(RAW_PAGE)
        after: tuple[str, str] | None = None
        while True:
            page = query if after is None else query.where(tuple_(RAW.c.pool, RAW.c.ref) > after)
            with translated():
                async with self._transaction() as connection:
                    rows = (await connection.execute(page)).all()
            for row in rows:
                yield RawRow(
                    row.pool,
                    row.ref,
                    row.cls,
                    row.uuid,
                    bytes(row.record),
                    int(row.seq),
                    row.changed_at,
                )
            if len(rows) < RAW_PAGE:
                return
            after = (rows[-1].pool, rows[-1].ref)

    async def objects_by_key(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], ObjectRow]:
        """The current rows (tombstones included) of those (type, id) that exist."""
        by_type: dict[str, builtins.list[str]] = {}
        for type_, id_ in dict.fromkeys(keys):
            by_type.setdefault(type_, []).append(id_)
        found: dict[tuple[str, str], ObjectRow] = {}
        if not by_type:
            return found
        with translated():
            async with self._transaction() as connection:
                for type_, ids in by_type.items():
                    for chunk in _chunks(ids, CHUNK):
                        query = select(*_OBJECT_COLUMNS).where(
                            OBJECTS.c.type == type_, OBJECTS.c.id.in_(chunk)
                        )
                        result = await connection.execute(query)  # buffered
                        with _gc_paused():
                            for row in result:
                                found[(row.type, row.id)] = _object(row)
        return found

    async def commit(self, commit: Commit) -> None:
        """Apply one batch in one transaction: raw deletes then upserts, object upserts, and the
        consumer's position moved from ``expected`` to ``position`` by compare-and-set.

        Raises `PositionConflict` (and writes nothing) when the stored position is not
        ``expected``. The compare-and-set is the transaction's first statement: a second writer
        waits on its row lock (or SQLite's write lock) and then finds the position moved.
        """
        commit.check()
        objects = [_object_params(r) for r in {r.key: r for r in commit.objects}.values()]
        raw_put = [
            {
                "pool": r.pool,
                "ref": r.ref,
                "cls": r.cls,
                "uuid": r.uuid,
                "record": r.record,
                "seq": r.seq,
                "changed_at": r.changed_at,
            }
            for r in {(r.pool, r.ref): r for r in commit.raw_put}.values()
        ]
        raw_del = [{"b_pool": pool, "b_ref": ref} for pool, ref in dict.fromkeys(commit.raw_del)]
        with translated():
            async with self._transaction(write=True) as connection:
                await self._move_position(connection, commit)
                delete_raw = delete(RAW).where(
                    RAW.c.pool == bindparam("b_pool"), RAW.c.ref == bindparam("b_ref")
                )
                for keys in _chunks(raw_del, CHUNK):
                    await connection.execute(delete_raw, keys)
                for records in _chunks(raw_put, CHUNK):
                    await connection.execute(self._upsert(RAW), records)
                for rows in _chunks(objects, CHUNK):
                    await connection.execute(self._upsert(OBJECTS), rows)

    async def _move_position(self, connection: AsyncConnection, commit: Commit) -> None:
        moved = await connection.execute(
            update(POSITIONS)
            .where(
                POSITIONS.c.consumer == commit.consumer,
                POSITIONS.c.position == commit.expected,
            )
            .values(position=commit.position)
        )
        if moved.rowcount == 1:
            return
        if commit.expected == 0:
            # no row yet: the first commit creates it; a concurrent first commit waits on the
            # other's uncommitted row and then does nothing
            created = await connection.execute(
                self._insert(POSITIONS)
                .values(consumer=commit.consumer, position=commit.position)
                .on_conflict_do_nothing(index_elements=[POSITIONS.c.consumer])
            )
            if created.rowcount == 1:
                return
        actual = await connection.scalar(
            select(POSITIONS.c.position).where(POSITIONS.c.consumer == commit.consumer)
        )
        raise PositionConflict(commit.consumer, commit.expected, int(actual or 0))

    async def purge_tombstones(self, before: datetime) -> int:
        """Delete the tombstones that changed before ``before`` and raise the horizon to the
        highest revision deleted, in one transaction; the number of rows deleted."""
        if before.tzinfo is None:
            raise ValueError(f"naive datetime {before!r}: the store takes aware datetimes only")
        with translated():
            async with self._transaction(write=True) as connection:
                deleted = await connection.execute(
                    delete(OBJECTS)
                    .where(TOMBSTONE, OBJECTS.c.changed_at < before)
                    .returning(OBJECTS.c.rev)
                )
                revs = deleted.scalars().all()
                if revs:
                    await self._raise_horizon(connection, max(revs))
        return len(revs)

    async def clear(self, consumer: str) -> None:
        """For a rebuild: delete every object and raw row and ``consumer``'s position, and raise
        the horizon to that position (clients older than it must reload), in one transaction."""
        with translated():
            async with self._transaction(write=True) as connection:
                position = await connection.scalar(
                    select(POSITIONS.c.position).where(POSITIONS.c.consumer == consumer)
                )
                await connection.execute(delete(OBJECTS))
                await connection.execute(delete(RAW))
                await connection.execute(delete(POSITIONS).where(POSITIONS.c.consumer == consumer))
                # raised, never lowered: a second clear (after a crash mid-rebuild, say) finds
                # position 0 and must not undo the first one's horizon
                await self._raise_horizon(connection, int(position or 0))

    async def get_meta(self, key: str) -> str | None:
        with translated():
            async with self._transaction() as connection:
                value = await connection.scalar(select(META.c.value).where(META.c.key == key))
        return None if value is None else str(value)

    async def set_meta(self, key: str, value: str) -> None:
        with translated():
            async with self._transaction(write=True) as connection:
                await connection.execute(self._upsert(META), {"key": key, "value": value})

    # -- the readers' side -------------------------------------------------------------------

    def reader(self) -> AbstractAsyncContextManager[StoreReader]:
        """One consistent view of the store, at `StoreReader.revision`, for as long as the
        ``async with`` lasts (keep it short: it holds a connection, and on SQLite it keeps the
        WAL from being checkpointed past it)."""
        return self._reader()

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[StoreReader]:
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        async with self._one_at_a_time():
            with translated():
                connection = await self._view_engine.connect()
            try:
                with translated():
                    await connection.begin()
                    # the first statement: on SQLite the snapshot is taken here
                    position = select(POSITIONS.c.position).where(
                        POSITIONS.c.consumer == READER_CONSUMER
                    )
                    horizon = select(META.c.value).where(META.c.key == HORIZON)
                    row = (
                        await connection.execute(
                            select(position.scalar_subquery(), horizon.scalar_subquery())
                        )
                    ).one()
                yield StoreReader(
                    connection, int(row[0] or 0), int(row[1] or 0), sqlite=self._sqlite
                )
            finally:
                with translated():
                    await connection.close()  # rolls the read transaction back

    async def stats(self) -> dict[str, int]:
        """Live (not deleted) objects per type."""
        with translated():
            async with self._transaction() as connection:
                rows = await connection.execute(
                    select(OBJECTS.c.type, func.count())
                    .where(not_(OBJECTS.c.deleted))
                    .group_by(OBJECTS.c.type)
                )
                return {type_: int(count) for type_, count in rows}


class StoreReader:
    """A consistent view of the store at ``revision`` (see `Store.reader`)."""

    def __init__(
        self, connection: AsyncConnection, revision: int, horizon: int, *, sqlite: bool = False
    ) -> None:
        self._connection = connection
        self._sqlite = sqlite
        self.revision = revision  # the position of consumer "projection" when the view began
        self.horizon = horizon  # a client at a revision below it must reload

    def __repr__(self) -> str:
        return f"StoreReader(revision={self.revision}, horizon={self.horizon})"

    async def _rows(self, query: Select[Any]) -> builtins.list[ObjectRow]:
        with translated():
            result = await self._connection.execute(query)  # buffered: no I/O below
        with _gc_paused():
            return [_object(row) for row in result]

    async def get(self, type: str, id: str) -> ObjectRow | None:
        """The row of (type, id), a tombstone included (the caller decides), or None."""
        rows = await self._rows(
            select(*_OBJECT_COLUMNS).where(OBJECTS.c.type == type, OBJECTS.c.id == id)
        )
        return rows[0] if rows else None

    async def list(
        self,
        type: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        pool: str | None = None,
    ) -> builtins.list[ObjectRow]:
        """Live objects of ``type`` in id order, those with an id above ``after`` (the last id of
        the previous page), at most ``limit``, of one ``pool`` if given."""
        _check_limit(limit)
        query = select(*_OBJECT_COLUMNS).where(OBJECTS.c.type == type, not_(OBJECTS.c.deleted))
        if pool is not None:
            query = query.where(OBJECTS.c.pool == pool)
        if after is not None:
            query = query.where(OBJECTS.c.id > after)
        query = query.order_by(OBJECTS.c.id)
        if limit is not None:
            query = query.limit(limit)
        return await self._rows(query)

    async def changes(
        self, since: int, *, types: Collection[str] | None = None, limit: int | None = None
    ) -> builtins.list[ObjectRow]:
        """Rows (tombstones included) with ``since < rev <= revision``, in (rev, type, id) order.

        ``limit`` never splits a revision: when it falls inside one, the rest of that revision
        comes too, so that the next call can start from ``since=rows[-1].rev`` and miss nothing.
        """
        _check_limit(limit)
        if types is not None and not types:
            return []
        query = select(*_OBJECT_COLUMNS).where(
            OBJECTS.c.rev > since, OBJECTS.c.rev <= self.revision
        )
        if types is not None:
            # SQLite plans without statistics and would take the primary key for ``type IN``,
            # reading every object of those types and sorting them, where a catch-up wants the
            # few rows past ``since`` from the revision index: ``type || ''`` cannot use an index
            # (PostgreSQL has statistics and chooses well by itself)
            type_ = OBJECTS.c.type.concat("") if self._sqlite else OBJECTS.c.type
            query = query.where(type_.in_(builtins.list(types)))
        ordered = query.order_by(OBJECTS.c.rev, OBJECTS.c.type, OBJECTS.c.id)
        if limit is None:
            return await self._rows(ordered)
        rows = await self._rows(ordered.limit(limit))
        if rows and len(rows) == limit:
            last = rows[-1]
            rows += await self._rows(
                ordered.where(
                    OBJECTS.c.rev == last.rev,
                    tuple_(OBJECTS.c.type, OBJECTS.c.id) > (last.type, last.id),
                )
            )
        return rows

    async def count(self, type: str) -> int:
        """How many live objects of ``type``."""
        with translated():
            value = await self._connection.scalar(
                select(func.count()).where(OBJECTS.c.type == type, not_(OBJECTS.c.deleted))
            )
        return int(value or 0)
