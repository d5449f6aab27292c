"""The state store's contract, one set of tests run on SQLite and on PostgreSQL (``store_url``).

Real databases only: a SQLite file per test, a fresh PostgreSQL database per test (see
tests/support/postgres.py for where the server comes from).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from alembic.autogenerate import compare_metadata
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from tests.support.postgres import free_port
from xorca.store import (
    Commit,
    ObjectRow,
    PositionConflict,
    RawRow,
    SchemaOutdated,
    Store,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
    async_url,
)
from xorca.store import migrate as migrations
from xorca.store.engine import create_engine, sqlite_path
from xorca.store.models import StoreModel

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
P = "projection"


def obj(
    type_: str,
    id_: str,
    rev: int,
    *,
    pool: str | None = "pool-a",
    deleted: bool = False,
    data: dict[str, Any] | None = None,
    at: datetime = NOW,
) -> ObjectRow:
    if not deleted and data is None:
        data = {"uuid": id_, "name_label": f"{type_} {id_}", "rev": rev}
    return ObjectRow(type_, id_, pool, rev, deleted, at, None if deleted else data)


def raw(pool: str, ref: str, n: int = 0) -> RawRow:
    record = orjson.dumps({"uuid": f"u-{ref}", "n": n})
    return RawRow(pool, ref, "VM", f"u-{ref}", record, seq=n + 1, changed_at=NOW)


def keys(rows: list[ObjectRow]) -> list[tuple[str, str]]:
    return [row.key for row in rows]


async def all_raw(store: Store) -> list[RawRow]:
    return [row async for row in store.raw_rows()]


# -- reading back what was written -------------------------------------------------------------


async def test_empty_store(store: Store) -> None:
    assert await store.position(P) == 0
    assert await store.stats() == {}
    assert await all_raw(store) == []
    assert await store.get_meta("horizon") is None
    assert await store.objects_by_key([("vm", "x")]) == {}
    async with store.reader() as view:
        assert (view.revision, view.horizon) == (0, 0)
        assert await view.list("vm") == []
        assert await view.changes(0) == []
        assert await view.get("vm", "x") is None
        assert await view.count("vm") == 0


async def test_commit_then_read_back(store: Store) -> None:
    rows = [obj("vm", "b", 3), obj("vm", "a", 3), obj("host", "h1", 3, pool="pool-b")]
    records = [raw("pool-a", "OpaqueRef:1"), raw("pool-b", "OpaqueRef:2")]
    await store.commit(Commit(P, expected=0, position=3, objects=rows, raw_put=records))

    assert await store.position(P) == 3
    assert await all_raw(store) == records
    assert await store.stats() == {"vm": 2, "host": 1}
    found = await store.objects_by_key([("vm", "a"), ("host", "h1"), ("vm", "missing")])
    assert found == {("vm", "a"): rows[1], ("host", "h1"): rows[2]}
    async with store.reader() as view:
        assert view.revision == 3
        assert await view.get("vm", "a") == rows[1]
        assert await view.list("vm") == [rows[1], rows[0]]
        assert await view.count("vm") == 2
        back = await view.get("host", "h1")
    assert back is not None
    assert back.changed_at == NOW and back.changed_at.tzinfo is not None
    assert back.changed_at.utcoffset() == timedelta(0)


async def test_changed_at_is_returned_in_utc(store: Store) -> None:
    paris = datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    await store.commit(Commit(P, 0, 1, objects=[obj("vm", "a", 1, at=paris)]))
    async with store.reader() as view:
        row = await view.get("vm", "a")
    assert row is not None
    assert row.changed_at == paris
    assert row.changed_at.tzinfo == UTC
    assert row.changed_at.hour == 12


async def test_upsert_replaces(store: Store) -> None:
    await store.commit(
        Commit(P, 0, 1, objects=[obj("vm", "a", 1)], raw_put=[raw("pool-a", "r1", 1)])
    )
    newer = obj(
        "vm", "a", 2, pool="pool-b", data={"name_label": "renamed"}, at=NOW.replace(hour=13)
    )
    await store.commit(Commit(P, 1, 2, objects=[newer], raw_put=[raw("pool-a", "r1", 2)]))
    async with store.reader() as view:
        assert await view.get("vm", "a") == newer
        assert await view.count("vm") == 1
    assert await all_raw(store) == [raw("pool-a", "r1", 2)]
    await store.commit(Commit(P, 2, 3, raw_del=[("pool-a", "r1"), ("pool-a", "never")]))
    assert await all_raw(store) == []


async def test_last_upsert_of_a_key_in_one_commit_wins(store: Store) -> None:
    first, second = obj("vm", "a", 5, data={"n": 1}), obj("vm", "a", 5, data={"n": 2})
    await store.commit(
        Commit(
            P, 0, 5,
            objects=[first, second],
            raw_put=[raw("p", "r", 1), raw("p", "r", 2), raw("p", "gone")],
            raw_del=[("p", "r"), ("p", "gone")],  # deletes apply before the puts
        )
    )  # fmt: skip
    found = await store.objects_by_key([("vm", "a")])
    assert found[("vm", "a")].data == {"n": 2}
    assert await all_raw(store) == [raw("p", "gone"), raw("p", "r", 2)]


async def test_tombstones_are_changes_but_not_listed(store: Store) -> None:
    await store.commit(Commit(P, 0, 1, objects=[obj("vm", "a", 1), obj("vm", "b", 1)]))
    await store.commit(Commit(P, 1, 2, objects=[obj("vm", "a", 2, deleted=True)]))
    async with store.reader() as view:
        assert keys(await view.list("vm")) == [("vm", "b")]
        assert await view.count("vm") == 1
        tombstone = await view.get("vm", "a")
        changes = await view.changes(1)
    assert tombstone is not None
    assert tombstone.deleted and tombstone.data is None and tombstone.rev == 2
    assert changes == [tombstone]
    assert await store.stats() == {"vm": 1}
    assert (await store.objects_by_key([("vm", "a")]))[("vm", "a")] == tombstone


# -- changes and list ----------------------------------------------------------------------------


async def fill_revisions(store: Store) -> None:
    """rev 1: vm a, vm b, host h; rev 2: sr s; rev 3: vm c, vm a (tombstone); rev 4: host h."""
    await store.commit(
        Commit(P, 0, 1, objects=[obj("vm", "b", 1), obj("host", "h", 1), obj("vm", "a", 1)])
    )
    await store.commit(Commit(P, 1, 2, objects=[obj("sr", "s", 2)]))
    await store.commit(
        Commit(P, 2, 3, objects=[obj("vm", "c", 3), obj("vm", "a", 3, deleted=True)])
    )
    await store.commit(Commit(P, 3, 4, objects=[obj("host", "h", 4, data={"x": 1})]))


async def test_changes_order_types_and_limit(store: Store) -> None:
    await fill_revisions(store)
    async with store.reader() as view:
        assert view.revision == 4
        every = await view.changes(0)
        assert [(r.rev, r.type, r.id) for r in every] == [
            (1, "vm", "b"),
            (2, "sr", "s"),
            (3, "vm", "a"),
            (3, "vm", "c"),
            (4, "host", "h"),
        ]
        assert [(r.rev, r.key) for r in await view.changes(2)] == [
            (3, ("vm", "a")),
            (3, ("vm", "c")),
            (4, ("host", "h")),
        ]
        assert await view.changes(4) == []
        assert keys(await view.changes(0, types=["vm"])) == [("vm", "b"), ("vm", "a"), ("vm", "c")]
        assert keys(await view.changes(0, types={"sr", "host"})) == [("sr", "s"), ("host", "h")]
        assert await view.changes(0, types=[]) == []
        assert keys(await view.changes(0, limit=2)) == [("vm", "b"), ("sr", "s")]
        # a limit that falls inside revision 3 brings the rest of it: resuming from the last
        # row's rev then misses nothing
        page = await view.changes(0, limit=3)
        assert [(r.rev, r.id) for r in page] == [(1, "b"), (2, "s"), (3, "a"), (3, "c")]
        assert keys(await view.changes(page[-1].rev, limit=3)) == [("host", "h")]
        assert keys(await view.changes(0, types=["vm"], limit=1)) == [("vm", "b")]


async def test_list_pagination_and_pool(store: Store) -> None:
    rows = [obj("vm", f"vm-{i:02}", 1, pool="pool-a" if i % 2 else "pool-b") for i in range(10)]
    rows += [obj("host", "h", 1), obj("vm", "vm-99", 1, deleted=True)]
    await store.commit(Commit(P, 0, 1, objects=rows))
    async with store.reader() as view:
        pages: list[list[str]] = []
        after: str | None = None
        while True:
            page = await view.list("vm", after=after, limit=4)
            if not page:
                break
            pages.append([r.id for r in page])
            after = page[-1].id
        assert pages == [
            ["vm-00", "vm-01", "vm-02", "vm-03"],
            ["vm-04", "vm-05", "vm-06", "vm-07"],
            ["vm-08", "vm-09"],
        ]
        in_a = await view.list("vm", pool="pool-a")
        assert [r.id for r in in_a] == ["vm-01", "vm-03", "vm-05", "vm-07", "vm-09"]
        in_a_after = await view.list("vm", pool="pool-a", after="vm-03", limit=2)
        assert [r.id for r in in_a_after] == ["vm-05", "vm-07"]
        assert await view.list("vm", pool="pool-c") == []
        assert [r.id for r in await view.list("host")] == ["h"]


# -- the position's compare-and-set ----------------------------------------------------------


async def test_stale_expected_position_writes_nothing(store: Store) -> None:
    before = [obj("vm", "a", 5)]
    await store.commit(Commit(P, 0, 5, objects=before, raw_put=[raw("p", "r", 1)]))
    for expected in (3, 0, 6):
        stale = Commit(
            P, expected, 9,
            objects=[obj("vm", "a", 9, data={"new": True}), obj("vm", "z", 9)],
            raw_put=[raw("p", "r", 2)],
            raw_del=[("p", "r")],
        )  # fmt: skip
        with pytest.raises(PositionConflict) as caught:
            await store.commit(stale)
        assert (caught.value.consumer, caught.value.expected, caught.value.actual) == (
            P,
            expected,
            5,
        )
    assert await store.position(P) == 5
    assert await all_raw(store) == [raw("p", "r", 1)]
    async with store.reader() as view:
        assert await view.changes(0) == before
    # another consumer's position is its own
    await store.commit(Commit("other", 0, 1))
    assert (await store.position("other"), await store.position(P)) == (1, 5)


async def test_position_may_stay_put(store: Store) -> None:
    await store.commit(Commit(P, 0, 4))
    await store.commit(Commit(P, 4, 4, objects=[obj("vm", "a", 4)]))
    assert await store.position(P) == 4


@pytest.mark.parametrize("start", [0, 7], ids=["first", "later"])
async def test_concurrent_commits_one_wins(store_url: str, start: int) -> None:
    async with await Store.open(store_url) as one, await Store.open(store_url) as two:
        if start:
            await one.commit(Commit(P, 0, start))
        results = await asyncio.gather(
            one.commit(Commit(P, start, start + 1, objects=[obj("vm", "one", start + 1)])),
            two.commit(Commit(P, start, start + 2, objects=[obj("vm", "two", start + 2)])),
            return_exceptions=True,
        )
        conflicts = [r for r in results if isinstance(r, PositionConflict)]
        assert len(conflicts) == 1, results
        assert results.count(None) == 1, results
        winner = "one" if results[0] is None else "two"
        assert await one.position(P) == start + (1 if winner == "one" else 2)
        assert conflicts[0].actual == await one.position(P)
        async with two.reader() as view:
            assert [r.id for r in await view.list("vm")] == [winner]


async def test_commit_checks_its_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="moves back"):
        await store.commit(Commit(P, 5, 4))
    naive = ObjectRow("vm", "a", None, 1, False, datetime(2026, 1, 1), {})
    with pytest.raises(ValueError, match="naive"):
        await store.commit(Commit(P, 0, 1, objects=[naive]))
    with pytest.raises(ValueError, match="JSON object"):
        await store.commit(
            Commit(P, 0, 1, objects=[ObjectRow("vm", "a", None, 1, False, NOW, None)])
        )
    assert await store.position(P) == 0


# -- tombstones, horizon, rebuild ------------------------------------------------------------


async def test_purge_tombstones_raises_the_horizon(store: Store) -> None:
    old, recent = NOW - timedelta(days=3), NOW - timedelta(hours=1)
    await store.commit(
        Commit(P, 0, 2, objects=[obj("vm", k, 2, at=old) for k in ("a", "b", "c", "live")])
    )
    await store.commit(
        Commit(
            P, 2, 6,
            objects=[
                obj("vm", "a", 3, deleted=True, at=old),
                obj("vm", "b", 5, deleted=True, at=old),
                obj("vm", "c", 6, deleted=True, at=recent),
            ],
        )
    )  # fmt: skip
    assert await store.purge_tombstones(NOW - timedelta(days=1)) == 2
    assert await store.get_meta("horizon") == "5"
    async with store.reader() as view:
        assert view.horizon == 5
        assert keys(await view.changes(0)) == [("vm", "live"), ("vm", "c")]
        assert [r.id for r in await view.list("vm")] == ["live"]
    # nothing to purge: the horizon stays
    assert await store.purge_tombstones(NOW - timedelta(days=1)) == 0
    assert await store.get_meta("horizon") == "5"
    # the horizon never goes down
    await store.set_meta("horizon", "100")
    assert await store.purge_tombstones(NOW) == 1
    assert await store.get_meta("horizon") == "100"


async def test_clear_for_a_rebuild(store: Store) -> None:
    await store.commit(
        Commit(P, 0, 42, objects=[obj("vm", "a", 40), obj("vm", "b", 42, deleted=True)],
               raw_put=[raw("p", "r")])
    )  # fmt: skip
    await store.commit(Commit("other", 0, 8))
    await store.set_meta("stream", "XORCA_OBJECTS:1")
    await store.clear(P)
    assert await store.position(P) == 0
    assert await store.position("other") == 8
    assert await all_raw(store) == []
    assert await store.stats() == {}
    assert await store.get_meta("stream") == "XORCA_OBJECTS:1"
    async with store.reader() as view:
        assert (view.revision, view.horizon) == (0, 42)
        assert await view.changes(0) == []
    await store.clear(P)  # a second clear (a rebuild restarted) keeps the horizon
    assert await store.get_meta("horizon") == "42"
    await store.commit(Commit(P, 0, 3, objects=[obj("vm", "a", 3)]))
    assert await store.position(P) == 3


async def test_meta(store: Store) -> None:
    assert await store.get_meta("stream") is None
    await store.set_meta("stream", "one")
    await store.set_meta("stream", "two")
    await store.set_meta("other", "ünïcode ✓")
    assert await store.get_meta("stream") == "two"
    assert await store.get_meta("other") == "ünïcode ✓"


# -- readers ---------------------------------------------------------------------------------


async def test_reader_sees_a_consistent_view_during_a_commit(store: Store) -> None:
    await store.commit(Commit(P, 0, 1, objects=[obj("vm", "a", 1), obj("vm", "b", 1)]))
    async with store.reader() as view:
        assert view.revision == 1
        writer = asyncio.create_task(
            store.commit(
                Commit(P, 1, 2, objects=[obj("vm", "a", 2, deleted=True), obj("vm", "c", 2)])
            )
        )
        await asyncio.wait_for(writer, 10)  # a reader never blocks the writer
        assert await store.position(P) == 2
        assert [r.id for r in await view.list("vm")] == ["a", "b"]
        assert await view.changes(0) == [obj("vm", "a", 1), obj("vm", "b", 1)]
        assert await view.changes(1) == []
        assert await view.count("vm") == 2
        got = await view.get("vm", "a")
        assert got is not None and not got.deleted
    async with store.reader() as view:
        assert view.revision == 2
        assert [r.id for r in await view.list("vm")] == ["b", "c"]
        assert keys(await view.changes(1)) == [("vm", "a"), ("vm", "c")]


async def test_readers_in_parallel(store: Store) -> None:
    await store.commit(Commit(P, 0, 1, objects=[obj("vm", f"v{i}", 1) for i in range(20)]))

    async def read() -> int:
        async with store.reader() as view:
            await asyncio.sleep(0.01)
            return len(await view.list("vm"))

    assert await asyncio.gather(*(read() for _ in range(12))) == [20] * 12


async def test_corrupt_data_is_reported(store: Store, store_url: str) -> None:
    await store.commit(Commit(P, 0, 1, objects=[obj("vm", "a", 1), obj("vm", "b", 1)]))
    engine = create_engine(async_url(store_url))
    try:
        async with engine.begin() as connection:
            jsonb = "" if store.dialect == "sqlite" else "::jsonb"
            # valid JSON but not an object: possible on both backends
            await connection.execute(
                text(f"UPDATE objects SET data = '[1, 2]'{jsonb} WHERE id = 'a'")
            )
            if store.dialect == "sqlite":  # jsonb cannot hold what is not JSON
                await connection.execute(text("UPDATE objects SET data = '{nope' WHERE id = 'b'"))
    finally:
        await engine.dispose()
    async with store.reader() as view:
        with pytest.raises(StoreCorrupt) as caught:
            await view.get("vm", "a")
        assert caught.value.key == ("vm", "a")
        if store.dialect == "sqlite":
            with pytest.raises(StoreCorrupt, match="does not decode"):
                await view.list("vm")


# -- size --------------------------------------------------------------------------------------


async def test_unicode_and_large_json_round_trip(store: Store) -> None:
    text_block = 'ünïcødé 日本語 ✓ 🚀 \u200b\t"quoted" \\ back' * 20
    data: dict[str, Any] = {
        "name_label": "机器 🚀",
        "other_config": {f"k{i}": text_block for i in range(1000)},
        "numbers": [i * 1.5 for i in range(1000)],
        "nested": {"deep": [{"a": [None, True, False, 2**53]}]},
    }
    assert len(orjson.dumps(data)) > 1_000_000
    await store.commit(Commit(P, 0, 1, objects=[obj("vm", "ü-🚀", 1, data=data)]))
    # NUL, which PostgreSQL's jsonb refuses, is stored as U+FFFD on both backends
    with_nul = {"os_version": {"name": "bad\x00agent"}}
    await store.commit(Commit(P, 1, 2, objects=[obj("vm", "nul", 2, data=with_nul)]))
    async with store.reader() as view:
        back = await view.get("vm", "ü-🚀")
        nul = await view.get("vm", "nul")
    assert back is not None and back.data == data
    assert nul is not None and nul.data == {"os_version": {"name": "bad\ufffdagent"}}


async def test_a_5000_object_commit(store: Store) -> None:
    rows = [obj(("vm", "vbd", "vdi")[i % 3], f"{i:05}", 1 + i // 1000) for i in range(5000)]
    await store.commit(Commit(P, 0, 5, objects=rows))
    assert await store.stats() == {"vm": 1667, "vbd": 1667, "vdi": 1666}
    async with store.reader() as view:
        assert await view.count("vm") == 1667
        changes = await view.changes(0)
        assert len(changes) == 5000
        assert [r.rev for r in changes] == sorted(r.rev for r in changes)
    found = await store.objects_by_key(r.key for r in rows)
    assert len(found) == 5000 and found[("vm", "00000")] == rows[0]


async def test_raw_rows_streams_everything(store: Store) -> None:
    records = [raw(f"pool-{i % 3}", f"OpaqueRef:{i:06}", i) for i in range(5001)]
    for start in range(0, len(records), 1000):
        await store.commit(Commit(P, start, start + 1000, raw_put=records[start : start + 1000]))
    streamed = await all_raw(store)
    assert streamed == sorted(records, key=lambda r: (r.pool, r.ref))
    # stopping early leaves nothing open (the store closes without a warning)
    async for _ in store.raw_rows():
        break


# -- schema --------------------------------------------------------------------------------------


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(migrations.migration_context(connection), StoreModel.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrations_match_the_models(store_url: str) -> None:
    path = sqlite_path(async_url(store_url))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)  # what Store.open does first
    engine = create_engine(async_url(store_url))
    try:
        await migrations.upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            assert await connection.run_sync(_tables) == {
                "objects", "raw", "positions", "meta", migrations.VERSION_TABLE
            }  # fmt: skip
        await migrations.downgrade(engine, "base")
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) <= {migrations.VERSION_TABLE}
        with pytest.raises(SchemaOutdated):
            await migrations.check(engine)
        await migrations.upgrade(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
        await migrations.check(engine)
    finally:
        await engine.dispose()


async def test_open_twice_migrates_once(store_url: str) -> None:
    async with await Store.open(store_url) as first:
        await first.commit(Commit(P, 0, 1, objects=[obj("vm", "a", 1)]))
    async with (
        await Store.open(store_url) as second,
        await Store.open(store_url, migrate=False) as third,
    ):
        assert await second.position(P) == await third.position(P) == 1


async def test_migrate_false_on_an_empty_database(store_url: str) -> None:
    with pytest.raises(SchemaOutdated) as caught:
        await Store.open(store_url, migrate=False)
    assert caught.value.current is None
    assert caught.value.head == migrations.head_revision()


# -- failures ----------------------------------------------------------------------------------


async def test_unreachable_postgres_is_unavailable_quickly() -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await Store.open(f"postgresql://xorca:secret@127.0.0.1:{port}/xorca", connect_timeout=2)
    assert time.monotonic() - started < 5


async def test_sqlite_directory_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the directory") as caught:
        await Store.open(f"sqlite:///{tmp_path / 'a-file' / 'sub' / 'state.db'}")
    assert str(tmp_path / "a-file" / "sub") in str(caught.value)


async def read_while_killed(store: Store, url: str) -> None:
    """Read in a view whose connection the server terminates halfway."""
    async with store.reader() as view:
        assert await view.count("vm") == 1
        killer = await asyncpg.connect(url)
        try:
            await killer.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await killer.close()
        await view.list("vm")


async def test_a_failing_connection_is_unavailable_then_recovers(
    store: Store, store_url: str
) -> None:
    """SQLite: a writer that waits past busy_timeout. PostgreSQL: connections killed by the
    server. Both are StoreUnavailable, and the same store works once the cause is gone."""
    await store.commit(Commit(P, 0, 1, objects=[obj("vm", "a", 1)]))
    if store.dialect == "sqlite":
        path = sqlite_path(async_url(store_url))
        assert path is not None
        async with await Store.open(store_url, busy_timeout=0.2) as impatient:
            blocker = sqlite3.connect(path, isolation_level=None)
            try:
                blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
                with pytest.raises(StoreUnavailable, match="locked"):
                    await impatient.commit(Commit(P, 1, 2))
                async with impatient.reader() as view:  # WAL: readers still read
                    assert view.revision == 1
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            await impatient.commit(Commit(P, 1, 2))
    else:
        with pytest.raises(StoreUnavailable):
            await read_while_killed(store, store_url)
        await store.commit(Commit(P, 1, 2))  # the pool replaced the dead connections
    assert await store.position(P) == 2


async def test_in_memory_sqlite() -> None:
    async with await Store.open("sqlite:///:memory:") as store:
        assert store.dialect == "sqlite"
        await store.commit(Commit(P, 0, 1, objects=[obj("vm", "a", 1)]))
        async with store.reader() as view:
            assert view.revision == 1
            assert keys(await view.list("vm")) == [("vm", "a")]
            # one connection: a write from inside a reader would wait for itself
            with pytest.raises(StoreError, match="one operation at a time"):
                await store.commit(Commit(P, 1, 2))
        # other tasks wait their turn instead
        async with store.reader() as view:
            writer = asyncio.create_task(store.commit(Commit(P, 1, 2)))
            await asyncio.sleep(0.05)
            assert not writer.done()
            assert view.revision == 1
        await asyncio.wait_for(writer, 5)
        assert await store.position(P) == 2


async def test_closed_store_refuses(store: Store) -> None:
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.position(P)
