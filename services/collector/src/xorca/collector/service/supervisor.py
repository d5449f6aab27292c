"""`Supervisor`: the registry and the leases, turned into running pools.

It follows the registry (KV ``XORCA_POOLS``: every entry, then each change) and, every third of a
lease period, runs one round (`Supervisor.round`):

1. for each lease held: the entry was removed → stop and release; it changed → restart its
   runner; renew the lease → someone took it over (`LeaseLost`) → stop at once, silently; NATS
   did not answer and the lease is near its expiry → fence: stop at once, silently;
2. give one pool back if we hold more than our fair share and a live peer holds less;
3. try to take the free leases we should (core/leases.py), in this replica's order of
   preference, and start a runner for each one taken;
4. send our heartbeat.

A clean `stop` stops every runner after its batch in progress (each publishes a last
``disconnected`` status) and releases every lease, so another replica takes over at once. A
replica that dies releases nothing: its leases expire and the others take them within a lease
period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from xorca.bus.connection import NATS_ERRORS, NatsBus
from xorca.bus.leases import Lease, Leases
from xorca.bus.registry import Registry
from xorca.collector.adapters.metrics import Metrics
from xorca.collector.adapters.presence import Presence
from xorca.collector.core.leases import (
    fair_share,
    must_fence,
    preference,
    should_take,
    to_shed,
)
from xorca.collector.service.publisher import Fenced
from xorca.collector.service.runner import PoolRunner
from xorca.contracts.errors import LeaseLost, RegistryEntryInvalid
from xorca.contracts.registry import PoolEntry
from xorca.runtime.aio import cancel_and_wait, wait_event
from xorca.runtime.backoff import Backoff

__all__ = ["Held", "RunnerFactory", "Supervisor"]

log = logging.getLogger(__name__)

Entry = PoolEntry | RegistryEntryInvalid
#: makes the runner of an entry, given the function that says whether it may still publish
RunnerFactory = Callable[[Entry, Callable[[], bool]], PoolRunner]
#: pauses before following the registry again: 0.1 s after a reconnection, 0.2 s doubling up to
#: 5 s after consecutive failures
_WATCH_RETRY = Backoff(0.1, 5.0)


@dataclass
class Held:
    """A lease we hold and the runner serving it."""

    lease: Lease
    revision: int
    runner: PoolRunner
    task: asyncio.Task[None]


class Supervisor:
    """Takes, keeps and gives back pool leases, and runs a `PoolRunner` for each one held."""

    def __init__(
        self,
        *,
        me: str,
        bus: NatsBus,
        registry: Registry,
        leases: Leases,
        presence: Presence,
        make_runner: RunnerFactory,
        lease_period: float,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.me = me
        self.bus = bus
        self.registry = registry
        self.leases = leases
        self.presence = presence
        self.make_runner = make_runner
        self.lease_period = lease_period
        self.interval = lease_period / 3
        self.metrics = metrics
        self.clock = clock
        self.entries: dict[str, Entry] = {}
        self.revisions: dict[str, int] = {}
        self.held: dict[str, Held] = {}
        self.free_since: dict[str, float] = {}
        self.loaded = asyncio.Event()
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    # -------------------------------------------------------------------------------- running

    async def run(self) -> None:
        """Until `stop` (then clean: runners stopped, leases released) or cancellation (then
        nothing is released: a killed replica's leases expire)."""
        watch = asyncio.create_task(self._watch_registry())
        try:
            await self.presence.start()
            # hear the peers before taking anything: they answer a newcomer's heartbeat at once
            await wait_event(self._stopping, min(0.5, self.interval))
            await self._until_loaded(self.lease_period)
            while not self._stopping.is_set():
                try:
                    await self.round()
                except NATS_ERRORS as e:
                    log.warning("lease round failed: %r", e)
                await self._pause(self.interval)
            await self._release_all()
        finally:
            await cancel_and_wait(watch)
            # killed: stop serving, release nothing
            await asyncio.gather(*(cancel_and_wait(h.task) for h in self.held.values()))
            await self.presence.stop()

    async def _until_loaded(self, timeout: float) -> None:
        """Until the registry was read (or we are stopping, or ``timeout`` passed): taking leases
        for half a registry would take pools a peer should have."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not (self.loaded.is_set() or self._stopping.is_set()):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                log.warning("the registry is not read after %.0f s: going on", timeout)
                return
            await wait_event(self._wake, left)
            self._wake.clear()

    def stop(self) -> None:
        """Ask `run` to end cleanly."""
        self._stopping.set()
        self._wake.set()

    async def _pause(self, seconds: float) -> None:
        await wait_event(self._wake, seconds)
        self._wake.clear()

    # --------------------------------------------------------------------------------- rounds

    async def round(self) -> None:
        """One round of lease decisions (see the module docstring)."""
        for key in list(self.held):
            await self._keep(key)
        peers = self.presence.alive()
        fair = fair_share(len(self.entries), len(peers) + 1)
        shed = to_shed(preference(self.me, self.held), fair, peers)
        if shed is not None:
            log.info("giving %s back: %d held, fair share %d", shed, len(self.held), fair)
            await self._give_up(shed, release=True, final=True, why="released")
        for key in preference(self.me, self.entries):
            if key not in self.held and not self._stopping.is_set():
                await self._maybe_take(key, fair)
        self._report()
        await self.presence.beat()

    async def _keep(self, key: str) -> None:
        held = self.held[key]
        if key not in self.entries:
            await self._give_up(key, release=True, final=False, why="released")
            return
        if held.revision != self.revisions.get(key) or held.task.done():
            if held.task.done() and not held.task.cancelled() and held.task.exception():
                log.error("pool %s: runner failed", key, exc_info=held.task.exception())
            await self._restart(key)
            held = self.held[key]
        now = self.clock()
        try:
            held.lease = await self.leases.renew(held.lease, self.lease_period)
        except LeaseLost as e:
            log.warning("pool %s: lease lost to %s", key, e.holder)
            await self._give_up(key, release=False, final=False, why="lost")
        except NATS_ERRORS as e:
            if must_fence(held.lease.value.expires_at, now, self.interval):
                log.warning("pool %s: lease not renewed (%r): no longer serving it", key, e)
                await self._give_up(key, release=False, final=False, why="fenced")

    async def _maybe_take(self, key: str, fair: int) -> None:
        now = self.clock()
        value, _ = await self.leases.current(key)
        if value is None or value.expires_at <= now:
            self.free_since.setdefault(key, now)
        else:
            self.free_since.pop(key, None)
        take = should_take(
            value,
            self.me,
            now,
            held=len(self.held),
            fair=fair,
            free_since=self.free_since.get(key),
            grace=self.lease_period,
        )
        if not take:
            return
        lease = await self.leases.acquire(key, self.me, self.lease_period)
        if lease is None:
            return  # someone was quicker
        self.free_since.pop(key, None)
        self.metrics.lease_changes.labels("acquired").inc()
        log.info("pool %s: lease acquired", key)
        self.held[key] = self._start(key, lease)

    def _start(self, key: str, lease: Lease) -> Held:
        entry = self.entries[key]
        holder: list[Held] = []

        def may_publish() -> bool:
            held = self.held.get(key)
            if not holder or held is not holder[0]:
                return False
            return not must_fence(held.lease.value.expires_at, self.clock(), self.interval)

        runner = self.make_runner(entry, may_publish)
        task = asyncio.create_task(_quiet(runner.run()), name=f"pool {key}")
        held = Held(lease, self.revisions.get(key, 0), runner, task)
        holder.append(held)
        return held

    async def _restart(self, key: str) -> None:
        old = self.held[key]
        await self._end(old, final=False, wait=True)
        self.held[key] = self._start(key, old.lease)

    async def _give_up(self, key: str, *, release: bool, final: bool, why: str) -> None:
        held = self.held[key]
        if release:  # a clean hand-over: the batch in progress ends, then the lease goes
            await self._end(held, final=final, wait=True)
            self.held.pop(key, None)
            try:
                await self.leases.release(held.lease)
            except NATS_ERRORS as e:
                log.warning("pool %s: lease not released (%r): it will expire", key, e)
        else:  # not ours any more: not one more message
            self.held.pop(key, None)
            await self._end(held, final=False, wait=False)
        self.metrics.lease_changes.labels(why).inc()

    async def _end(self, held: Held, *, final: bool, wait: bool) -> None:
        """Stop a runner: let it finish its batch (``wait``, bounded), else cancel it."""
        held.runner.stop(final=final)
        if wait:
            await asyncio.wait({held.task}, timeout=max(self.lease_period, 5.0))
        if not await cancel_and_wait(held.task):
            log.error("pool %s: runner does not stop", held.runner.registry_id)

    async def _release_all(self) -> None:
        await self.presence.leave()  # peers recount their share before our leases come free
        await asyncio.gather(
            *(self._give_up(key, release=True, final=True, why="released") for key in self.held)
        )
        self._report()

    def _report(self) -> None:
        self.metrics.pools_owned.set(len(self.held))
        states = Counter(held.runner.state for held in self.held.values())
        for state in ("connecting", "synced", "degraded", "disconnected", "disabled", "error"):
            self.metrics.pools.labels(state).set(states.get(state, 0))

    # ------------------------------------------------------------------------------- registry

    async def _watch_registry(self) -> None:
        """Follow the registry; start over after each NATS reconnection (the KV watcher's
        consumer may not survive a server restart) and after any failure."""
        failures = 0
        while True:
            restarted = asyncio.Event()
            unsubscribe = self.bus.on_reconnect(restarted.set)
            follow = asyncio.create_task(self._follow_registry())
            waiting = asyncio.create_task(restarted.wait())
            try:
                await asyncio.wait({follow, waiting}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                unsubscribe()
                for task in (follow, waiting):
                    await cancel_and_wait(task)
            # after a reconnection, start over at once; after a failure, back off
            failures = failures + 1 if not restarted.is_set() else 0
            await asyncio.sleep(_WATCH_RETRY.delay(failures + 1))

    async def _follow_registry(self) -> None:
        seen: set[str] = set()
        caught_up = False
        try:
            async for change in self.registry.watch():
                if change is None:
                    if not caught_up:  # entries removed while we were not looking
                        for key in set(self.entries) - seen:
                            self._set(key, None, 0)
                        caught_up = True
                        self.loaded.set()
                        self._wake.set()
                    continue
                seen.add(change.id)
                self._set(change.id, change.entry, change.revision)
        except NATS_ERRORS as e:
            log.warning("registry watch failed (%r): starting over", e)

    def _set(self, key: str, entry: Entry | None, revision: int) -> None:
        if entry is None:
            self.entries.pop(key, None)
            self.revisions.pop(key, None)
        elif self.revisions.get(key) != revision:
            self.entries[key] = entry
            self.revisions[key] = revision
        else:
            return
        self._wake.set()  # act on it now rather than at the next round


async def _quiet(work: Coroutine[Any, Any, None]) -> None:
    """A runner's task: `Fenced` is how a runner learns it lost its lease, not a failure."""
    with contextlib.suppress(Fenced):
        await work
