"""The projection against real parts: the simulator, a collector, NATS with JetStream, and the
state store on SQLite and on PostgreSQL (the ``store_url`` fixture runs each test on both).

What is checked, each time against values computed independently of the projection's own state:
- after activity, the store's live objects are the translation of the simulator's records;
- a projection killed in the middle and restarted applies every log message once (the messages
  each run applied add up to the stream, and the rows equal a rebuild's, revisions included);
- a rebuild from the stream gives the same rows;
- a VM_metrics change moves its VM's revision to that message's sequence, as a patch;
- the deltas published after a snapshot, applied to it, give the later snapshot;
- a malformed message is dead-lettered and skipped; a store outage pauses and resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy.engine import make_url

from tests.support.control import activity, still
from tests.support.nats import NatsServer
from tests.support.objects_log import settled, wait_status
from tests.support.postgres import admin_execute
from tests.support.registry import entry_of, register
from tests.support.replica import Replica, settings_for
from tests.support.simthread import SimThread, on_sim, simulated, uuid_of
from tests.support.waiting import eventually
from xorca.contracts import merge_patch
from xorca.contracts.deltas import OBJECT_TYPES, decode_delta
from xorca.contracts.subjects import OBJECTS_STREAM, object_subject
from xorca.projection.bootstrap import rebuild
from xorca.projection.bootstrap import run as run_projection
from xorca.projection.core.records import Raw
from xorca.projection.core.translate import translate
from xorca.projection.service import Projection
from xorca.projection.settings import ProjectionSettings
from xorca.runtime.aio import cancel_and_wait
from xorca.runtime.inprocess import service_running
from xorca.store import Store
from xorca.xapi.watcher import default_classes
from xorca.xapi_sim.state.pool import SimPool

Rows = dict[tuple[str, str], dict[str, Any]]

# ---------------------------------------------------------------------------------- harness


def projection_settings(server: NatsServer, store_url: str, **overrides: Any) -> ProjectionSettings:
    values: dict[str, Any] = {
        "nats_url": server.url,
        "database_url": store_url,
        "projection_wait": 0.1,
        "retry_pause": 0.05,
        "http_port": -1,
        "log_json": False,
    }
    return ProjectionSettings(**(values | overrides))


async def last_seq(js: JetStreamContext) -> int:
    return (await js.stream_info(OBJECTS_STREAM)).state.last_seq


async def caught_up(projection: Projection, js: JetStreamContext, timeout: float = 30) -> int:
    """Wait until the projection has committed everything the stream holds; that position."""

    async def committed() -> int:
        end = await last_seq(js)
        assert projection.position >= end, f"projection at {projection.position}, stream at {end}"
        return end

    return await eventually(
        committed, what="the projection to catch up", timeout=timeout, interval=0.05
    )


async def expected_objects(sim: SimThread, index: int = 1) -> Rows:
    """The translation of every record the simulator holds now (the projection's target)."""

    def read(pool: SimPool) -> list[Raw]:
        raws = []
        for cls in default_classes():
            rows = pool.db.messages.items() if cls == "message" else pool.db.records(cls)
            for ref, record in rows:
                plain = orjson.loads(orjson.dumps(dict(record)))
                raws.append(Raw(pool.uuid, cls.lower(), ref, str(record["uuid"]), plain))
        return raws

    raws: list[Raw] = await on_sim(sim, read, index)
    by_ref = {(raw.pool, raw.ref): raw for raw in raws}
    out: Rows = {}
    for raw in raws:
        obj = translate(raw, lambda pool, ref: by_ref.get((pool, ref)))
        if obj is not None:
            out[(obj.type, obj.id)] = obj.data
    return out


async def live_objects(store: Store, *, skip: tuple[str, ...] = ("pool-status",)) -> Rows:
    out: Rows = {}
    async with store.reader() as reader:
        for type_ in OBJECT_TYPES:
            if type_ in skip:
                continue
            for row in await reader.list(type_):
                assert row.data is not None
                out[(row.type, row.id)] = row.data
    return out


async def all_rows(store: Store) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Every row, tombstones included, with everything but the time it was written."""
    async with store.reader() as reader:
        rows = await reader.changes(0)
    return {(r.type, r.id): (r.pool, r.rev, r.deleted, r.data) for r in rows}


def rebuild_differences(rebuilt: dict[Any, Any], incremental: dict[Any, Any]) -> list[str]:
    """How a rebuild's rows differ from the incrementally built ones beyond what the design allows:
    the same live objects with the same data; the same revision, or a lower one (the incremental
    projection moved it for a link that came late, docs/projection.md); tombstones a subset (a
    rebuild never sees a VM that became a template as a VM)."""
    out = []
    for key, (pool, rev, deleted, data) in incremental.items():
        if deleted:
            continue
        if key not in rebuilt:
            out.append(f"missing {key}")
            continue
        r_pool, r_rev, r_deleted, r_data = rebuilt[key]
        if (r_pool, r_deleted, r_data) != (pool, deleted, data):
            out.append(f"differs {key}")
        elif r_rev > rev:
            out.append(f"{key}: rebuilt at {r_rev}, incrementally at {rev}")
    for key, (_, r_rev, r_deleted, _) in rebuilt.items():
        if r_deleted and incremental.get(key, (None, None, False))[2] is not True:
            out.append(f"tombstone {key} only in the rebuild")
        elif r_deleted and incremental[key][1] != r_rev:
            out.append(f"tombstone {key}: rebuilt at {r_rev}, incrementally {incremental[key][1]}")
    return out


def mismatches(got: Rows, want: Rows) -> list[str]:
    out = [f"missing {key}" for key in want if key not in got]
    out += [f"extra {key}" for key in got if key not in want]
    out += [f"differs {key}: {merge_patch.diff(want[key], got[key])}"
            for key in want if key in got and got[key] != want[key]]  # fmt: skip
    return out


class Deltas:
    """Every delta a core NATS subscriber hears, with its headers."""

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, str], Any]] = []

    async def handle(self, msg: Msg) -> None:
        self.seen.append((dict(msg.headers or {}), decode_delta(msg.subject, msg.data)))


@contextlib.asynccontextmanager
async def listening(nc: Client) -> AsyncIterator[Deltas]:
    deltas = Deltas()
    sub = await nc.subscribe("xorca.v1.delta.>", cb=deltas.handle)
    await nc.flush()
    try:
        yield deltas
    finally:
        await nc.flush()
        await sub.unsubscribe()


@contextlib.asynccontextmanager
async def living_pool(
    nats_server: NatsServer, js: JetStreamContext, vms: int = 12
) -> AsyncIterator[SimThread]:
    """A simulated pool with a collector publishing it, synced."""
    with simulated(vms=vms) as sim:
        await register(js, entry_of(sim, 1))
        async with Replica(settings_for(nats_server)):
            await wait_status(js, "pool-1", "synced", timeout=30)
            yield sim


async def busy(sim: SimThread, js: JetStreamContext, seconds: float, rate: float = 60) -> None:
    """Activity for a while, then still, and the log settled to the pool's state."""
    await activity(sim, rate)
    await asyncio.sleep(seconds)
    await still(sim)
    await settled(js, sim)


# ------------------------------------------------------------------------------------ tests


async def test_after_activity_the_store_is_the_translated_pool(
    nats_server: NatsServer, js: JetStreamContext, store_url: str
) -> None:
    settings = projection_settings(nats_server, store_url)
    async with (
        living_pool(nats_server, js) as sim,
        service_running(run_projection, settings) as projection,
    ):
        await busy(sim, js, 3)
        await caught_up(projection, js)
        assert mismatches(await live_objects(projection.store), await expected_objects(sim)) == []
        async with projection.store.reader() as reader:
            status = await reader.get("pool-status", "pool-1")
            assert reader.revision == projection.position
        assert status is not None and status.data is not None
        assert status.data["state"] == "synced" and status.pool == uuid_of(sim)
        ready, body = projection.readiness()
        assert ready and body["position"] == projection.position


async def test_killed_and_restarted_it_applies_each_change_once(
    nats_server: NatsServer, js: JetStreamContext, nc: Client, store_url: str, tmp_path: Any
) -> None:
    settings = projection_settings(
        nats_server, store_url, projection_batch=25, projection_catchup=25
    )
    async with living_pool(nats_server, js, vms=60) as sim, listening(nc) as deltas:
        await busy(sim, js, 2)
        end = await last_seq(js)
        # 1. killed (cancelled wherever it is: inside a transaction, a fetch, a publish)
        started: asyncio.Future[Projection] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_projection(settings, started=started.set_result))
        first = await started
        await eventually(
            lambda: first.metrics.value("xorca_projection_messages_total") >= end // 3,
            what="a third of the stream applied",
            timeout=60,
            interval=0.001,
        )
        assert await cancel_and_wait(task, 10)
        async with await_store(store_url) as store:
            committed = await store.position("projection")
        assert 0 < committed < end
        # 2. restarted: it goes on from the committed position, not from what it had fetched
        async with service_running(run_projection, settings) as second:
            assert await caught_up(second, js) == end
            applied = second.metrics.value("xorca_projection_messages_total")
            assert applied == await messages_between(js, committed, end)
            assert mismatches(await live_objects(second.store), await expected_objects(sim)) == []
            incremental = await all_rows(second.store)
        await nc.flush()
        # no delta twice: a batch applied twice would publish its changes again
        published = [(d.type, d.id, d.rev) for _, d in deltas.seen]
        assert len(published) == len(set(published))
        # 3. the rows, revisions included, are what a rebuild from the same stream gives
        other = f"sqlite:///{tmp_path / 'rebuilt.db'}"
        report = await rebuild(projection_settings(nats_server, other))
        assert report.position == end  # nothing was published meanwhile
        async with await_store(other) as rebuilt:
            assert rebuild_differences(await all_rows(rebuilt), incremental) == []


async def test_a_rebuild_gives_the_same_rows(
    nats_server: NatsServer, js: JetStreamContext, store_url: str
) -> None:
    settings = projection_settings(nats_server, store_url)
    async with living_pool(nats_server, js) as sim:
        async with service_running(run_projection, settings) as projection:
            await busy(sim, js, 3)
            await caught_up(projection, js)
            before = await all_rows(projection.store)
            assert any(deleted for _, _, deleted, _ in before.values())  # tombstones too
        report = await rebuild(settings)
        assert report.position == await last_seq(js)
        async with await_store(store_url) as store:
            assert rebuild_differences(await all_rows(store), before) == []
            assert await store.position("projection") == report.position
            async with store.reader() as reader:
                assert reader.horizon >= 1  # clients from before the rebuild reload


async def test_a_metrics_change_moves_its_vms_revision(
    nats_server: NatsServer, js: JetStreamContext, nc: Client, store_url: str
) -> None:
    settings = projection_settings(nats_server, store_url)
    async with (
        living_pool(nats_server, js) as sim,
        service_running(run_projection, settings) as projection,
    ):
        await caught_up(projection, js)

        def running_vm(pool: SimPool) -> tuple[str, str, str, int]:
            for ref, vm in pool.db.records("VM"):
                if vm["power_state"] == "Running" and not vm["is_control_domain"]:
                    metrics = str(vm["metrics"])
                    actual = int(pool.db.field("VM_metrics", metrics, "memory_actual"))  # type: ignore[arg-type]
                    return ref, str(vm["uuid"]), metrics, actual
            raise AssertionError("no running VM")

        vm_ref, vm_uuid, metrics_ref, actual = await on_sim(sim, running_vm)
        async with projection.store.reader() as reader:
            before = await reader.get("vm", vm_uuid)
        assert before is not None and before.data is not None
        assert before.ref == vm_ref  # what commands name it by
        async with listening(nc) as deltas:
            grown = actual + (1 << 20)
            await on_sim(sim, lambda p: p.db.update("VM_metrics", metrics_ref, memory_actual=grown))
            await settled(js, sim)
            await caught_up(projection, js)
        async with projection.store.reader() as reader:
            after = await reader.get("vm", vm_uuid)
        assert after is not None and after.data is not None
        assert after.rev > before.rev
        metrics_uuid = await on_sim(
            sim, lambda p: str(p.db.field("VM_metrics", metrics_ref, "uuid"))
        )
        stored = await js.get_msg(
            OBJECTS_STREAM,
            subject=object_subject(uuid_of(sim), "vm_metrics", metrics_uuid),
            direct=True,
        )
        assert after.rev == stored.seq
        mine = [d for _, d in deltas.seen if d.type == "vm" and d.id == vm_uuid]
        assert [d.op for d in mine] == ["patch"] and mine[0].rev == after.rev
        assert merge_patch.apply(before.data, mine[0].patch) == after.data
        assert len(orjson.dumps(mine[0].patch)) < len(orjson.dumps(after.data)) / 4


async def test_deltas_after_a_snapshot_give_the_later_snapshot(
    nats_server: NatsServer, js: JetStreamContext, nc: Client, store_url: str
) -> None:
    settings = projection_settings(nats_server, store_url)
    async with (
        living_pool(nats_server, js) as sim,
        service_running(run_projection, settings) as projection,
        listening(nc) as deltas,
    ):
        await caught_up(projection, js)
        earlier, at = await snapshot(projection.store)
        await busy(sim, js, 3)
        await caught_up(projection, js)
        later, _ = await snapshot(projection.store)
    state = dict(earlier)
    applied = 0
    for headers, delta in deltas.seen:
        if int(headers["Xorca-Commit"]) <= at:
            continue  # the snapshot has it already
        applied += 1
        key = (delta.type, delta.id)
        if delta.op == "put":
            state[key] = delta.data
        elif delta.op == "patch":
            state[key] = merge_patch.apply(state[key], delta.patch)
        else:
            state.pop(key, None)
    assert applied > 20
    assert mismatches(state, later) == []
    # in revision order within a commit, each revision's last delta marked complete
    by_commit: dict[str, list[tuple[dict[str, str], Any]]] = {}
    for headers, delta in deltas.seen:
        by_commit.setdefault(headers["Xorca-Commit"], []).append((headers, delta))
    for commit, group in by_commit.items():
        revs = [delta.rev for _, delta in group]
        assert revs == sorted(revs)
        assert group[-1][0]["Xorca-Complete"] == commit
        for (headers, delta), nxt in zip(group, [*revs[1:], None], strict=True):
            if nxt is not None:
                assert ("Xorca-Complete" in headers) == (nxt != delta.rev)
    chains = [headers["Xorca-Chain"] for headers, _ in deltas.seen]
    numbers = [int(chain.split(":")[1]) for chain in chains]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


async def snapshot(store: Store) -> tuple[Rows, int]:
    out: Rows = {}
    async with store.reader() as reader:
        for type_ in OBJECT_TYPES:
            for row in await reader.list(type_):
                assert row.data is not None
                out[(row.type, row.id)] = row.data
        return out, reader.revision


async def test_a_malformed_message_is_dead_lettered_and_skipped(
    nats_server: NatsServer, js: JetStreamContext, nc: Client, store_url: str
) -> None:
    settings = projection_settings(nats_server, store_url)
    dead: list[Msg] = []

    async def keep(msg: Msg) -> None:
        dead.append(msg)

    await nc.subscribe("xorca.v1.deadletter.>", cb=keep)
    async with (
        living_pool(nats_server, js) as sim,
        service_running(run_projection, settings) as projection,
    ):
        await caught_up(projection, js)
        bad = [
            (b"{not json", {"Xorca-Op": "mod"}),
            (b"[1, 2]", {"Xorca-Op": "mod"}),
            (b"{}", {"Xorca-Op": "explode"}),
        ]
        for n, (body, headers) in enumerate(bad):
            await js.publish(object_subject("elsewhere", "vm", f"bad-{n}"), body, headers=headers)
        # and a good change after them, which must still be applied
        await busy(sim, js, 1)
        end = await caught_up(projection, js)
        assert mismatches(await live_objects(projection.store), await expected_objects(sim)) == []
        assert (
            projection.metrics.value("xorca_projection_dead_letters_total", reason="malformed") == 3
        )
        assert projection.position == end
    await nc.flush()
    assert sorted(m.headers["Xorca-Subject"] for m in dead if m.headers) == [
        object_subject("elsewhere", "vm", f"bad-{n}") for n in range(3)
    ]
    assert all(m.headers and m.headers["Xorca-Reason"] == "malformed" for m in dead)


async def test_a_store_outage_pauses_it_and_it_resumes_without_loss(
    nats_server: NatsServer, js: JetStreamContext, postgres_admin_url: str, tmp_path: Any
) -> None:
    """PostgreSQL refuses connections (and drops those it had) while the pool changes."""
    name = f"xorca_t_outage_{secrets.token_hex(4)}"
    await admin_execute(postgres_admin_url, f"CREATE DATABASE {name}")
    url = str(make_url(postgres_admin_url).set(database=name))
    settings = projection_settings(nats_server, url)
    try:
        async with (
            living_pool(nats_server, js) as sim,
            service_running(run_projection, settings) as projection,
        ):
            await caught_up(projection, js)
            await admin_execute(
                postgres_admin_url,
                f"ALTER DATABASE {name} ALLOW_CONNECTIONS false",
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
            )
            await busy(sim, js, 2)
            await eventually(
                lambda: projection.metrics.value("xorca_projection_failures_total", what="store"),
                what="the outage noticed",
                timeout=20,
                interval=0.05,
            )
            assert not projection.readiness()[0]
            await admin_execute(postgres_admin_url, f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
            await caught_up(projection, js)
            assert (
                mismatches(await live_objects(projection.store), await expected_objects(sim)) == []
            )
            incremental = await all_rows(projection.store)
            assert projection.readiness()[0]
            other = f"sqlite:///{tmp_path / 'rebuilt.db'}"
            await rebuild(projection_settings(nats_server, other))
            async with await_store(other) as rebuilt:
                assert rebuild_differences(await all_rows(rebuilt), incremental) == []
    finally:
        await admin_execute(postgres_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def test_a_nats_restart_pauses_it_and_it_resumes_without_loss(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Any
) -> None:
    settings = projection_settings(nats_server, f"sqlite:///{tmp_path / 'state.db'}")
    async with (
        living_pool(nats_server, js) as sim,
        service_running(run_projection, settings) as projection,
    ):
        await caught_up(projection, js)
        nats_server.stop()
        await asyncio.sleep(1.5)
        nats_server.start()
        await busy(sim, js, 2)
        await caught_up(projection, js)
        assert mismatches(await live_objects(projection.store), await expected_objects(sim)) == []


async def messages_between(js: JetStreamContext, after: int, end: int) -> int:
    """How many messages the stream holds with after < seq <= end."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    sub = await js.pull_subscribe(
        "",
        durable=None,
        stream=OBJECTS_STREAM,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after + 1,
            ack_policy=AckPolicy.NONE,
        ),
    )
    count = 0
    try:
        while True:
            try:
                msgs = await sub.fetch(1000, timeout=0.5)
            except TimeoutError:
                return count
            for msg in msgs:
                if msg.metadata.sequence.stream <= end:
                    count += 1
                else:
                    return count
    finally:
        await sub.unsubscribe()


@contextlib.asynccontextmanager
async def await_store(url: str) -> AsyncIterator[Store]:
    store = await Store.open(url)
    try:
        yield store
    finally:
        await store.close()
