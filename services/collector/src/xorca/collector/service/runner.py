"""`PoolRunner`: everything this replica does for one registry entry while it holds its lease.

    connecting ─▶ log in, read the pool's uuid ─▶ read the log's newest message per subject
              ─▶ first load: publish what differs, tombstone what vanished ─▶ "synced"
              ─▶ each batch: publish it, then the status if it changed ─▶ …

- A malformed entry is reported ``error`` (``XORCA_REGISTRY_ENTRY_INVALID [reason]``), a disabled
  one ``disabled``, and nothing else happens until the entry changes.
- Refused credentials (``SESSION_AUTHENTICATION_FAILED``) are reported ``error`` and not retried:
  a human must change the entry. Any other failure to reach the pool is reported (``disconnected``
  or ``degraded``) and retried with backoff; the watcher does the same once it runs.
- Statuses go through the same lock as batches, so a consumer of the stream sees ``synced`` only
  after the changes it covers. A watcher that says "synced" may still hold the batch that made it
  so; that status waits until the batch is published, or until the watcher is polling again (its
  answer then had no changes).
- `stop` ends cleanly: the batch in progress is finished, the watcher closed, and (``final``) a
  last ``disconnected`` status says that nobody watches the pool any more. A runner whose lease
  was lost is stopped without that status: the new holder speaks for the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from xorca.bus.connection import NATS_ERRORS
from xorca.collector.adapters.log import JetStreamLog
from xorca.collector.adapters.metrics import Metrics
from xorca.collector.adapters.xapi import PoolLink, XapiLinks
from xorca.collector.core.publish import LogIndex, Stored
from xorca.collector.core.status import (
    COLLECTOR_STOPPED,
    ENTRY_INVALID,
    PoolView,
    error_body,
    master_address,
    message,
    view_of,
)
from xorca.collector.service.publisher import PoolPublisher
from xorca.contracts.base import ErrorBody
from xorca.contracts.errors import RegistryEntryInvalid
from xorca.contracts.registry import PoolEntry
from xorca.contracts.status import PoolState, encode_status
from xorca.runtime.aio import cancel_and_wait, gc_paused, wait_event
from xorca.runtime.backoff import Backoff
from xorca.xapi.errors import AuthenticationFailed, TransportError, XapiError
from xorca.xapi.watcher import Batch, PoolWatcher, State

__all__ = ["POOL_RETRY", "PoolRunner", "Routes"]

log = logging.getLogger(__name__)

DUPLICATE_POOL = "XORCA_POOL_REGISTERED_TWICE"
#: pauses between attempts to reach a failing pool (bootstrap's: ``XORCA_RETRY_PAUSE``)
POOL_RETRY = Backoff(0.5, 30.0)
#: pauses between attempts to read the log back while NATS fails
_LOG_RETRY = Backoff(0.2, 5.0)


class Routes(Protocol):
    """Where commands for a pool uuid are routed (the command service)."""

    async def route(self, pool: str, runner: PoolRunner) -> str | None:
        """Serve ``pool``'s commands with ``runner``; the registry id already serving it, if
        another runner does (then nothing changes)."""

    async def unroute(self, pool: str, runner: PoolRunner) -> None: ...


class PoolRunner:
    """Serves one registry entry: watcher, publishing, statuses, and the client for commands."""

    def __init__(
        self,
        entry: PoolEntry | RegistryEntryInvalid,
        *,
        collector: str,
        log_: JetStreamLog,
        links: XapiLinks,
        routes: Routes,
        metrics: Metrics,
        tombstone_ttl: float | None,
        duplicate_window: float,
        may_publish: Callable[[], bool] = lambda: True,
        retry: Backoff = POOL_RETRY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.entry = entry
        self.registry_id = entry.id
        self.collector = collector
        self.log = log_
        self.links = links
        self.routes = routes
        self.metrics = metrics
        self.tombstone_ttl = tombstone_ttl
        self.duplicate_window = duplicate_window
        self.retry = retry
        self.clock = clock
        self.publisher = PoolPublisher(log_, metrics=metrics, may_publish=may_publish, clock=clock)
        self.pool_uuid: str | None = None
        self.link: PoolLink | None = None
        master = master_address(entry.url) if isinstance(entry, PoolEntry) else None
        self.view = PoolView("connecting", clock(), master=master)
        self._published: PoolView | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._final = False
        self._fatal: XapiError | None = None
        self._watcher: PoolWatcher | None = None

    @property
    def state(self) -> PoolState:
        return self.view.state

    @property
    def synced(self) -> bool:
        """Whether the last status published says ``synced``."""
        return self._published is not None and self._published.state == "synced"

    # -------------------------------------------------------------------------------- running

    async def run(self) -> None:
        entry = self.entry
        if isinstance(entry, RegistryEntryInvalid):
            await self._report(self._view("error", ErrorBody(code=ENTRY_INVALID,
                                                             params=[entry.reason])))  # fmt: skip
            await self._stop.wait()
            return
        if not entry.enabled:
            await self._report(self._view("disabled"))
            await self._stop.wait()
            return
        await self._report(self._view("connecting"))
        link = self.links.open(entry)
        self.link = link
        try:
            pool = await self._connect(link)
            if pool is not None:
                await self._serve(link, pool)
        finally:
            self.link = None
            closing = asyncio.ensure_future(link.close())
            await asyncio.wait({closing}, timeout=5)  # a logout must not hold a stop up
            if not await cancel_and_wait(closing, 1):
                log.warning("pool %s: the client did not close", self.registry_id)
        if self._fatal is not None:
            await self._report(self._view("error", error_body(self._fatal)))
            await self._stop.wait()
        elif self._final:
            stopped = ErrorBody(code=COLLECTOR_STOPPED, params=[self.collector])
            await self._report(self._view("disconnected", stopped))

    def stop(self, *, final: bool) -> None:
        """End after the batch in progress; ``final``: say that nobody watches the pool now."""
        self._final = final
        self._stop.set()
        if self._watcher is not None:
            self._watcher.close()

    async def _connect(self, link: PoolLink) -> str | None:
        """The pool's uuid, retrying with backoff; None if stopped or refused for good."""
        pauses = self.retry.pauses()
        while not self._stop.is_set():
            try:
                return await link.pool_uuid()
            except AuthenticationFailed as e:
                self._fatal = e
                return None
            except XapiError as e:
                state: PoolState = "disconnected" if isinstance(e, TransportError) else "degraded"
                await self._report(self._view(state, error_body(e)))
                await self._sleep(next(pauses))
        return None

    async def _serve(self, link: PoolLink, pool: str) -> None:
        other = await self.routes.route(pool, self)
        if other is not None:
            self._fatal = XapiError(DUPLICATE_POOL, [pool, other])
            return
        self.pool_uuid = pool
        try:
            await self._follow(link, pool)
        finally:
            await self.routes.unroute(pool, self)

    async def _follow(self, link: PoolLink, pool: str) -> None:
        watcher = link.watcher(on_call=self._wake.set)
        self._watcher = watcher
        if self._stop.is_set():
            watcher.close()
        unsubscribe = watcher.subscribe(lambda status: self._wake.set())
        statuses = asyncio.create_task(self._follow_statuses(watcher, link))
        # the first load runs while the log is read back: both take seconds on a large pool
        next_batch: asyncio.Future[Batch] = asyncio.ensure_future(anext(watcher))
        try:
            started = self.clock()
            stored = await self._read_log(pool)
            if stored is None:
                return
            log.debug("pool %s: %d subjects read back from the log in %.2f s",
                      pool, len(stored), self.clock() - started)  # fmt: skip
            index = LogIndex(
                pool,
                stored,
                tombstone_ttl=self.tombstone_ttl,
                forget_tombstones_after=self.duplicate_window,
            )
            first = True
            while True:
                try:
                    batch = await next_batch
                except StopAsyncIteration:
                    break
                received = self.clock()
                self.metrics.changes.labels(self.registry_id).inc(len(batch))
                async with self._lock:
                    with gc_paused() if first else contextlib.nullcontext():
                        count = await self.publisher.publish(index, batch.changes, first=first)
                    first = False
                    self.metrics.lag.observe(self.clock() - received)
                    log.debug("pool %s: %d changes, %d messages stored in %.3f s",
                              pool, len(batch), count, self.clock() - received)  # fmt: skip
                    await self._report_locked(view_of(watcher.status, self.collector))
                next_batch = asyncio.ensure_future(anext(watcher))
        finally:
            self._watcher = None
            watcher.close()
            unsubscribe()
            await cancel_and_wait(statuses)
            await cancel_and_wait(next_batch)

    async def _read_log(self, pool: str) -> dict[str, Stored] | None:
        """The newest message of each of the pool's subjects, retrying while NATS fails; None
        if stopped meanwhile."""
        pauses = _LOG_RETRY.pauses()
        while not self._stop.is_set():
            try:
                with gc_paused():
                    return await self.log.read_last(pool)
            except NATS_ERRORS as e:
                log.warning("pool %s: cannot read the log back (%r), retrying", pool, e)
                await self._sleep(next(pauses))
                await self.log.bus.wait_connected(_LOG_RETRY.longest)
        return None

    async def _follow_statuses(self, watcher: PoolWatcher, link: PoolLink) -> None:
        """Publish the watcher's status changes that happen between batches."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            status = watcher.status
            if status.state is State.STOPPED:
                continue  # the runner says why it stopped, if it should
            if isinstance(status.last_error, AuthenticationFailed):
                self._fatal = status.last_error  # the password changed: a human must act
                watcher.close()
                continue
            view = view_of(status, self.collector)
            self.view = view
            if view.state == "synced" and not link.in_call:
                continue  # its batch may be on its way: published after it
            async with self._lock:
                await self._report_locked(view_of(watcher.status, self.collector))

    # ------------------------------------------------------------------------------ reporting

    def _view(self, state: PoolState, error: ErrorBody | None = None) -> PoolView:
        same = self.view.state == state
        return PoolView(
            state=state,
            since=self.view.since if same else self.clock(),
            master=self.view.master,
            last_event_at=self.view.last_event_at,
            error=error,
        )

    async def _report(self, view: PoolView) -> None:
        async with self._lock:
            await self._report_locked(view)

    async def _report_locked(self, view: PoolView) -> None:
        self.view = view
        if view.last_event_at is not None:
            age = max(0.0, self.clock() - view.last_event_at)
            self.metrics.event_age.labels(self.registry_id).set(age)
        if not view.changed_from(self._published):
            return
        status = message(
            view,
            registry_id=self.registry_id,
            pool_uuid=self.pool_uuid,
            collector=self.collector,
            now=self.clock(),
        )
        await self.publisher.publish_status(encode_status(status))
        self._published = view

    async def _sleep(self, seconds: float) -> None:
        await wait_event(self._stop, seconds)
