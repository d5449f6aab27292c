"""The pool watcher against the simulator, through every fault its control endpoint injects.

After each scenario the mirror must equal the pool's records of every watched class (read from
the simulator's database), and the batches the watcher yielded, replayed in order from nothing,
must give that same state — so nothing was lost, duplicated or invented on the way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.support.control import activity, control, still
from tests.support.simthread import SimThread, on_sim
from tests.support.watcher import (
    OPTIONS,
    Consumer,
    api,
    connect,
    nonempty,
    pool_tables,
    replay,
    vm_of,
)
from xorca.xapi.client import PoolUnreachable
from xorca.xapi.errors import ApiError
from xorca.xapi.watcher import PoolWatcher, State, Status, WatchOptions
from xorca.xapi_sim.state.pool import SimPool

# ------------------------------------------------------------------------------- scenarios


async def test_the_initial_load_and_the_changes_after_it(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi, Consumer(PoolWatcher(xapi, OPTIONS), fresh_sim) as c:
        first = c.batches[0]
        assert first.resync and {ch.op for ch in first.changes} == {"add"}
        await activity(fresh_sim, 80)
        await asyncio.sleep(1.5)
        await still(fresh_sim)
        server = await c.settled()
        assert len(c.batches) > 3 and not c.resyncs() and not c.visited(State.DEGRADED)
        # the same through the client's own get_all_records
        assert await xapi.VM.get_all_records() == server["VM"] == c.watcher.mirror["VM"]
        assert await xapi.message.get_all_records() == server["message"]
        assert c.watcher.status.last_event_at is not None


async def test_a_master_switch_during_the_event_loop(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi, Consumer(PoolWatcher(xapi, OPTIONS), fresh_sim) as c:
        await activity(fresh_sim, 50)
        await asyncio.sleep(0.5)
        pool = fresh_sim.pool(1).pool
        member = next(pool.address_of(r) for r in pool.db.refs("host") if r != pool.master_ref)
        await control(fresh_sim, "master", {"host": member})
        await asyncio.sleep(0.8)
        await still(fresh_sim)
        await c.settled()
        assert c.watcher.status.master == xapi.url_for(member)
        assert c.resyncs() and c.watcher.status.resyncs >= 1
        reasons = [s.reason for s in c.statuses if s.state is State.RESYNCING]
        assert any("master changed" in r for r in reasons), reasons


def resynced(times: int) -> Callable[[Status], bool]:
    return lambda status: status.resyncs == times and not status.stale


async def test_session_expiry(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi, Consumer(PoolWatcher(xapi, OPTIONS), fresh_sim) as c:
        for expiry in (1, 2):
            await activity(fresh_sim, 50)
            await asyncio.sleep(0.4)
            await still(fresh_sim)  # see still()
            await control(fresh_sim, "expire-sessions")  # wakes the blocked event.from
            await c.watcher.wait_status(resynced(expiry), 5)
            assert xapi.login_count == 1 + expiry
        await c.settled()
        assert not c.visited(State.DISCONNECTED) and not c.visited(State.DEGRADED)


async def test_connections_dropped_mid_call(fresh_sim: SimThread) -> None:
    """Cuts while event.from is held by the server (long poll or latency) and while a resync
    loads; truncated answer bodies are in test_watcher_input.py."""
    async with connect(fresh_sim) as xapi, Consumer(PoolWatcher(xapi, OPTIONS), fresh_sim) as c:
        await activity(fresh_sim, 50)
        await control(fresh_sim, "latency", {"seconds": 0.15})
        for pause in (0.1, 0.3, 0.05, 0.2, 0.4):
            await asyncio.sleep(pause)
            await control(fresh_sim, "drop-connections")
        await still(fresh_sim)  # see still()
        await control(fresh_sim, "expire-sessions")  # forces a resync: cut it while it loads
        await asyncio.sleep(0.25)
        await control(fresh_sim, "drop-connections")
        await control(fresh_sim, "reset")
        await c.settled()
        assert c.resyncs()


async def test_latency(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi, Consumer(PoolWatcher(xapi, OPTIONS), fresh_sim) as c:
        await control(fresh_sim, "latency", {"seconds": 0.3})
        await activity(fresh_sim, 50)
        await asyncio.sleep(1.5)
        await still(fresh_sim)
        await c.settled()
        await control(fresh_sim, "reset")
        assert not c.resyncs() and not c.visited(State.DEGRADED)
        assert not c.visited(State.DISCONNECTED)


async def test_calls_failing(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi, Consumer(PoolWatcher(xapi, OPTIONS), fresh_sim) as c:
        error = ["INTERNAL_ERROR", "injected"]
        await control(fresh_sim, "fail-calls", {"method": "event.from", "error": error})
        await c.wait(State.DEGRADED)
        status = c.watcher.status
        assert isinstance(status.last_error, ApiError) and status.last_error.description == error
        assert status.stale and status.reason == "event.from: INTERNAL_ERROR ['injected']"
        await on_sim(fresh_sim, lambda pool: api(pool, "VM.set_name_label", vm_of(pool), "moved"))
        await control(fresh_sim, "fail-calls", method="DELETE")
        await c.settled()
        assert not c.resyncs()  # the pool answered all along: the same token carried on
        renamed = c.batches[-1].changes
        assert [(ch.op, ch.record["name_label"]) for ch in renamed] == [("mod", "moved")]

        # a token the server no longer accepts, or lost events: a resync, not a degradation
        for code in ("EVENT_FROM_TOKEN_PARSE_FAILURE", "EVENTS_LOST"):
            resyncs = c.watcher.status.resyncs
            await control(fresh_sim, "fail-calls", {"method": "event.from", "error": [code]})
            await c.watcher.wait_status(lambda s: s.state is not State.SYNCED, 5)
            await control(fresh_sim, "fail-calls", method="DELETE")
            await c.settled()
            assert c.watcher.status.resyncs == resyncs + 1


async def test_a_pool_stopped_and_restarted_with_changes_meanwhile(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi, Consumer(PoolWatcher(xapi, OPTIONS), fresh_sim) as c:
        before = c.watcher.snapshot()
        await control(fresh_sim, "stop")
        down = await c.wait(State.DISCONNECTED)
        assert isinstance(down.last_error, PoolUnreachable) and down.stale

        async def meanwhile(pool: SimPool) -> tuple[str, str, str, str]:
            template = next(r for r, v in pool.db.records("VM") if v["is_default_template"])
            created = str(await api(pool, "VM.clone", template, "made while you were away"))
            doomed = vm_of(pool, "Halted")
            await api(pool, "VM.destroy", doomed)
            renamed = vm_of(pool)
            await api(pool, "VM.set_name_label", renamed, "renamed meanwhile")
            message = next(iter(pool.db.messages))
            await api(pool, "message.destroy", message)
            return created, doomed, renamed, message

        created, doomed, renamed, message = await on_sim(fresh_sim, meanwhile)
        await asyncio.sleep(0.5)  # a few failed attempts, with backoff
        assert c.watcher.status.since == down.since  # disconnected since the first failure
        await control(fresh_sim, "start")
        server = await c.settled()
        (resync,) = c.resyncs()
        ops = {(ch.op, ch.cls, ch.ref) for ch in resync.changes}
        assert {("add", "VM", created), ("del", "VM", doomed), ("mod", "VM", renamed)} <= ops
        assert ("del", "message", message) in ops
        # only differences: replayed onto the mirror before the stop, the resync gives the pool
        assert replay([resync], before) == server
        for change in resync.changes:
            assert change.op == "add" or before[change.cls][change.ref] != server.get(
                change.cls, {}
            ).get(change.ref)
        assert len(resync.changes) < 40  # not a wholesale reload


async def test_a_pool_down_from_the_start(fresh_sim: SimThread) -> None:
    await control(fresh_sim, "stop")
    xapi = connect(fresh_sim)
    try:
        watcher = PoolWatcher(xapi, OPTIONS)
        consumer = Consumer(watcher, fresh_sim)
        first = asyncio.create_task(anext(watcher))
        down = await consumer.wait(State.DISCONNECTED)
        assert consumer.statuses[0].state is State.DISCONNECTED and down.last_event_at is None
        await control(fresh_sim, "start")
        batch = await asyncio.wait_for(first, 10)
        assert batch.resync and watcher.status.state is State.SYNCED
        assert watcher.status.resyncs == 0  # the first load is not a resync
    finally:
        await xapi.close()


async def test_deletions_lost_from_tombstones_are_caught_by_valid_ref_counts(
    fresh_sim: SimThread,
) -> None:
    """A consumer that stops asking holds the watcher at an old token; meanwhile 600 objects
    are destroyed, more than xapi's 256 to 512 tombstones keep: only the ref counts tell."""
    async with connect(fresh_sim) as xapi:
        watcher = PoolWatcher(xapi, WatchOptions(classes=["blob", "VM"], poll=0.5))
        statuses: list[Status] = []
        watcher.subscribe(statuses.append)
        batches = [await anext(watcher)]

        async def create(pool: SimPool) -> list[str]:
            return [pool.db.create("blob", name_label=f"b{i}") for i in range(600)]

        blobs = await on_sim(fresh_sim, create)
        batches.append(await anext(watcher))
        assert batches[-1].count("add") == 600

        async def destroy(pool: SimPool) -> None:
            for ref in blobs:
                pool.db.destroy("blob", ref)
            assert len(pool.db.tombstones["blob"]) < 600

        await on_sim(fresh_sim, destroy)
        while watcher.mirror["blob"]:
            batches.append(await asyncio.wait_for(anext(watcher), 10))
        assert batches[-1].resync and batches[-1].count("del") > 0
        assert {c.cls for c in batches[-1].changes} == {"blob"}  # only the class that drifted
        assert batches[-2].count("del") + batches[-1].count("del") == 600
        reasons = [s.reason for s in statuses if s.state is State.RESYNCING]
        assert reasons and "valid_ref_counts" in reasons[0]
        server = await pool_tables(fresh_sim, watcher.classes)
        assert watcher.snapshot() == server and replay(batches) == nonempty(server)

        # the same when the tombstones are simply gone
        async def vanish(pool: SimPool) -> str:
            doomed = vm_of(pool, "Halted")
            await api(pool, "VM.destroy", doomed)
            pool.db.tombstones["VM"].clear()
            return doomed

        doomed = await on_sim(fresh_sim, vanish)
        while doomed in watcher.mirror["VM"]:
            batches.append(await asyncio.wait_for(anext(watcher), 10))
        assert batches[-1].resync and ("del", doomed) in {
            (c.op, c.ref) for c in batches[-1].changes
        }
        assert watcher.snapshot() == await pool_tables(fresh_sim, watcher.classes)
        watcher.close()


async def test_a_slow_consumer_holds_the_watcher_back(fresh_sim: SimThread) -> None:
    """Changes made while the consumer works are not queued: the next batch coalesces them."""
    async with connect(fresh_sim) as xapi:
        watcher = PoolWatcher(xapi, WatchOptions(poll=0.5))
        await anext(watcher)
        token, mirror = watcher.token, watcher.snapshot()

        async def churn(pool: SimPool) -> str:
            vm = vm_of(pool)
            for i in range(200):
                pool.db.update("VM", vm, name_label=f"name {i}")
            return vm

        vm = await on_sim(fresh_sim, churn)
        await asyncio.sleep(0.3)
        assert watcher.token == token and watcher.snapshot() == mirror  # nobody asked: no call
        batch = await anext(watcher)
        assert [(c.op, c.ref, c.record["name_label"]) for c in batch.changes] == [
            ("mod", vm, "name 199")
        ]
        watcher.close()
