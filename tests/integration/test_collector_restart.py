"""Crashes and outages: a collector killed in the middle of publishing and restarted, and NATS
stopped and started again while a pool changes. Each ends with the log equal to the pool, and
with every change stored exactly once: counted, not assumed.

How the counting works: a core NATS subscriber sees every object message *published* (the ones
JetStream then drops as duplicates included), the stream's sequence counts every message
*stored*. A change republished after a crash carries the same ``Nats-Msg-Id`` (the chain), so
stored messages must equal the distinct ids published; and no subject may hold the same change
twice in a row (which is what a republish with a *new* id would look like).
"""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from tests.support.control import activity, still
from tests.support.nats import NatsServer
from tests.support.objects_log import (
    pool_state,
    repeats,
    settled,
    stored_objects,
    tapped,
    wait_status,
)
from tests.support.registry import entry_of, register
from tests.support.replica import Replica, settings_for
from tests.support.simthread import simulated, uuid_of
from tests.support.waiting import eventually
from xorca.bus.connection import NatsBus
from xorca.bus.setup import ensure_streams
from xorca.collector.adapters.log import JetStreamLog
from xorca.collector.adapters.metrics import Metrics
from xorca.collector.core.publish import LogIndex
from xorca.collector.service.publisher import PoolPublisher
from xorca.contracts.subjects import OBJECTS_STREAM
from xorca.xapi.watcher import Change

#: every message kept, so that a change stored twice cannot hide behind the per-subject limit
HISTORY = 64


async def count_statuses(nc: Client, seen: list[str]) -> None:
    async def handle(msg: Msg) -> None:
        seen.append(msg.subject)

    await nc.subscribe("xorca.v1.status.>", cb=handle)


async def stored_count(js: JetStreamContext) -> int:
    return (await js.stream_info(OBJECTS_STREAM)).state.last_seq


async def test_a_collector_killed_mid_stream_and_restarted(
    nats_server: NatsServer, nc: Client, js: JetStreamContext
) -> None:
    statuses: list[str] = []
    await count_statuses(nc, statuses)
    with simulated(vms=300) as sim:  # ~3,600 objects: the first load takes a while to publish
        await register(js, entry_of(sim, 1))
        pool = uuid_of(sim)
        settings = settings_for(nats_server, objects_history=HISTORY, max_in_flight=500)
        async with tapped(nc, pool) as tap:
            # 1. killed while its first load is half published, with messages in flight
            first = await Replica(settings).start()
            assert first.collector is not None
            metrics = first.collector.metrics
            await eventually(
                lambda: metrics.value("xorca_collector_messages_total", outcome="stored") >= 800,
                what="800 messages stored",
                timeout=60,
                interval=0.002,
            )
            await first.kill()
            at_kill = len(tap.messages)
            async with Replica(settings):
                await wait_status(js, "pool-1", "synced", timeout=30)
                log = await settled(js, sim, timeout=30)
                objects = len(await pool_state(sim))
                stored = await stored_objects(js, pool)
                assert len(log) == objects
                # no lost and no extra: one stored message per object, nothing repeated
                assert len(stored) == objects == len({s for s, _, _ in stored})
                assert await stored_count(js) - len(statuses) == objects == tap.distinct_ids()
                assert 800 <= at_kill < objects

                # 2. killed again while the pool changes, restarted, the pool goes still
                await activity(sim, 60)
                await asyncio.sleep(1.5)
            # (the clean stop above is the restart's own; the next one is killed)
            second = await Replica(settings).start()
            await asyncio.sleep(1.0)
            await second.kill()
            await asyncio.sleep(0.5)
            async with Replica(settings):
                await asyncio.sleep(1.0)
                await still(sim)
                await settled(js, sim)
            stored = await stored_objects(js, pool)
        assert repeats(stored) == []
        assert await stored_count(js) - len(statuses) == tap.distinct_ids()
        duplicates = len(tap.messages) - tap.distinct_ids()
        print(f"published {len(tap.messages)}, stored {tap.distinct_ids()}, "
              f"dropped as duplicates {duplicates}")  # fmt: skip


async def test_nats_restarted_mid_stream(
    nats_server: NatsServer, nc: Client, js: JetStreamContext
) -> None:
    with simulated(vms=20) as sim:
        await register(js, entry_of(sim, 1))
        # a lease long enough to outlive the outage: this is the hold-back-and-resume path
        settings = settings_for(nats_server, objects_history=HISTORY, lease_period=9.0)
        async with Replica(settings) as replica:
            assert replica.collector is not None
            metrics = replica.collector.metrics
            await wait_status(js, "pool-1", "synced")
            await activity(sim, 60)
            await asyncio.sleep(1.5)
            await asyncio.to_thread(nats_server.stop)
            await asyncio.sleep(2.0)  # the pool keeps changing meanwhile
            await asyncio.to_thread(nats_server.start)
            await asyncio.sleep(1.5)
            await still(sim)
            await settled(js, sim, timeout=30)
            await wait_status(js, "pool-1", "synced")
            assert metrics.value("xorca_collector_nats_reconnects_total") >= 1
            assert metrics.value("xorca_collector_lease_changes_total", what="fenced") == 0
            assert replica.held == {"pool-1"}
            # still following the pool after the outage
            await activity(sim, 60)
            await asyncio.sleep(1.0)
            await still(sim)
            await settled(js, sim)
        assert repeats(await stored_objects(js, uuid_of(sim))) == []


# ------------------------------------------------- the publisher alone, failures made to order

POOL = "3a1c5e0e-9c8f-4f8e-b1a4-2b7d6f0c9e11"


def changes(count: int, power: str = "Halted") -> list[Change]:
    return [
        Change("add", "VM", f"OpaqueRef:{i}",
               {"uuid": f"00000000-0000-0000-0000-{i:012d}", "power_state": power})
        for i in range(count)
    ]  # fmt: skip


async def test_acks_that_never_come_are_checked_against_the_stream(
    nats_server: NatsServer, js: JetStreamContext
) -> None:
    """Every acknowledgement "times out" although every message lands: each is read back from
    the stream, found there, and not sent again."""
    await ensure_streams(js)
    bus = await NatsBus.connect([nats_server.url], name="test")
    try:
        metrics = Metrics()
        log = JetStreamLog(bus, max_in_flight=16, ack_timeout=1e-9)
        index = LogIndex(POOL)
        await PoolPublisher(log, metrics=metrics).publish(index, changes(50))
        assert await stored_count(js) == 50
        assert metrics.value("xorca_collector_publish_retries_total") == 0
        assert all(index.plan(change) is None for change in changes(50))  # learnt from the stream
    finally:
        await bus.close()


async def test_a_republish_after_a_crash_is_dropped_as_duplicates(
    nats_server: NatsServer, js: JetStreamContext
) -> None:
    """A collector that read the log before its predecessor's last messages landed plans the
    same changes after the same previous ids: the same ``Nats-Msg-Id``\\ s, dropped by JetStream."""
    await ensure_streams(js)
    bus = await NatsBus.connect([nats_server.url], name="test")
    try:
        log = JetStreamLog(bus, max_in_flight=8)
        first, second = Metrics(), Metrics()
        index = LogIndex(POOL)
        await PoolPublisher(log, metrics=first).publish(index, changes(40, "Halted"))
        # the successor reads the log now, and the predecessor's next batch lands after that
        stale = LogIndex(POOL, await log.read_last(POOL))
        await PoolPublisher(log, metrics=first).publish(index, changes(40, "Running"))
        assert await stored_count(js) == 80
        await PoolPublisher(log, metrics=second).publish(stale, changes(40, "Running"))
        assert await stored_count(js) == 80
        assert second.value("xorca_collector_messages_total", outcome="duplicate") == 40
        assert second.value("xorca_collector_messages_total", outcome="stored") == 0
        # and had it read the log after: nothing to send at all
        fresh = LogIndex(POOL, await log.read_last(POOL))
        assert all(fresh.plan(change) is None for change in changes(40, "Running"))
    finally:
        await bus.close()


async def test_a_record_larger_than_nats_accepts_is_refused_not_retried_for_ever(
    nats_server: NatsServer, js: JetStreamContext
) -> None:
    await ensure_streams(js)
    bus = await NatsBus.connect([nats_server.url], name="test")
    try:
        metrics = Metrics()
        record = {"uuid": "00000000-0000-0000-0000-00000000000f", "blob": "x" * bus.nc.max_payload}
        huge = Change("add", "VM", "OpaqueRef:huge", record)
        log = JetStreamLog(bus, max_in_flight=4)
        stored = await asyncio.wait_for(
            PoolPublisher(log, metrics=metrics).publish(LogIndex(POOL), [*changes(3), huge]), 10
        )
        assert stored == 3 == await stored_count(js)
        assert metrics.value("xorca_collector_messages_total", outcome="refused") == 1
    finally:
        await bus.close()
