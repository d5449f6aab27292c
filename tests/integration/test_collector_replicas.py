"""Several collector replicas sharing pools through leases (KV XORCA_LEASES): each pool served by
exactly one replica at any moment, shared between them, and taken over when a replica dies (within
about a lease period) or stops cleanly (at once)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from nats.js import JetStreamContext

from tests.support.nats import NatsServer
from tests.support.objects_log import settled, wait_status
from tests.support.registry import entry_of, register
from tests.support.replica import Replica, settings_for
from tests.support.simthread import simulated
from tests.support.waiting import eventually
from xorca.bus.leases import Leases

POOLS = {"pool-1", "pool-2", "pool-3"}
LEASE = 1.5


@contextlib.asynccontextmanager
async def watched(replicas: list[Replica]) -> AsyncIterator[list[str]]:
    """Check, every few milliseconds for as long as it runs, that no pool has two servers."""
    overlaps: list[str] = []

    async def watch() -> None:
        while True:
            seen: set[str] = set()
            for replica in replicas:
                if seen & replica.held:
                    overlaps.append(f"{seen & replica.held} served twice")
                seen |= replica.held
            await asyncio.sleep(0.005)

    task = asyncio.create_task(watch())
    try:
        yield overlaps
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def holders(js: JetStreamContext) -> dict[str, str | None]:
    leases = await Leases.open(js)
    out: dict[str, str | None] = {}
    for key in POOLS:
        value, _ = await leases.current(key)
        out[key] = value.holder if value else None
    return out


async def test_two_replicas_share_three_pools_and_a_dead_ones_are_taken_over(
    nats_server: NatsServer, js: JetStreamContext
) -> None:
    with simulated(pools=3) as sim:
        await register(js, *(entry_of(sim, i) for i in (1, 2, 3)))
        a = Replica(settings_for(nats_server, "a", lease_period=LEASE))
        b = Replica(settings_for(nats_server, "b", lease_period=LEASE))
        async with watched([a, b]) as overlaps:
            await asyncio.gather(a.start(), b.start())
            try:
                await eventually(lambda: a.held | b.held == POOLS, what="all pools served")
                await eventually(lambda: {len(a.held), len(b.held)} == {1, 2},
                                 what="pools shared 2 and 1")  # fmt: skip
                for key in POOLS:
                    owner = a if key in a.held else b
                    await wait_status(js, key, "synced", collector=owner.id)
                assert await holders(js) == {k: ("a" if k in a.held else "b") for k in POOLS}

                victim, survivor = (a, b) if len(a.held) == 2 else (b, a)
                orphans = victim.held
                await victim.kill()
                killed = time.monotonic()
                await eventually(lambda: survivor.held == POOLS, what="the pools taken over",
                                 timeout=3 * LEASE, interval=0.01)  # fmt: skip
                took = time.monotonic() - killed
                # the dead replica's leases expire at most a period after their last renewal,
                # and the survivor looks every third of a period
                assert took <= LEASE + LEASE / 3 + 0.5, took
                for key in orphans:
                    await wait_status(js, key, "synced", collector=survivor.id)
                assert set((await holders(js)).values()) == {survivor.id}
                for index in (1, 2, 3):
                    await settled(js, sim, index)
            finally:
                for replica in (a, b):
                    if replica.running:
                        await replica.stop()
        assert overlaps == []


async def test_a_clean_stop_hands_the_pools_over_at_once(
    nats_server: NatsServer, js: JetStreamContext
) -> None:
    with simulated(pools=3) as sim:
        await register(js, *(entry_of(sim, i) for i in (1, 2, 3)))
        a = Replica(settings_for(nats_server, "a", lease_period=6.0))
        b = Replica(settings_for(nats_server, "b", lease_period=6.0))
        async with watched([a, b]) as overlaps:
            await a.start()
            await eventually(lambda: a.held == POOLS, what="all pools served by the first replica")
            await b.start()
            # the newcomer gets its share: the first gives one pool back
            await eventually(lambda: len(b.held) == 1 and len(a.held) == 2, what="pools shared")
            await wait_status(js, next(iter(b.held)), "synced", collector="b")
            started = time.monotonic()
            await a.stop()
            await eventually(lambda: b.held == POOLS, what="the pools taken over", interval=0.01)
            assert time.monotonic() - started < 6.0 / 3 + 1.0  # a round, not a lease period
            for key in POOLS:
                await wait_status(js, key, "synced", collector="b")
            await b.stop()
        assert overlaps == []
        for key in POOLS:  # the last replica said that nobody watches them any more
            await wait_status(js, key, "disconnected", collector="b")
        assert set((await holders(js)).values()) == {None}
