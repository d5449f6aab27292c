"""Wiring: the one place that reads `ProjectionSettings` and builds the real adapters.

    await run(ProjectionSettings())                       # until stopped or cancelled
    await run(settings, started=lambda p: ...)            # hands out the Projection (to stop it)
    await rebuild(settings)                               # empty the store, replay the stream

Start-up: open the store (migrating its schema), connect to NATS (waiting for it), lay out the
streams (`ensure_streams`, idempotent: the projection may start before any collector), open
``/healthz``, ``/readyz`` and ``/metrics``, then project. Everything is closed in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from xorca.bus.connection import NatsBus
from xorca.bus.setup import ensure_streams_when_ready
from xorca.projection.adapters.log import stream_state
from xorca.projection.service import CONSUMER, Projection, ProjectionOptions
from xorca.projection.settings import ProjectionSettings
from xorca.runtime.http import HttpServer, make_app
from xorca.store import Store

__all__ = ["RebuildReport", "options_for", "rebuild", "run", "run_until_signalled"]

log = logging.getLogger(__name__)

#: the longest pause between attempts after a failure
LONGEST_PAUSE = 30.0


def options_for(settings: ProjectionSettings) -> ProjectionOptions:
    return ProjectionOptions(
        batch=settings.projection_batch,
        catchup_batch=max(settings.projection_catchup, settings.projection_batch),
        wait=settings.projection_wait,
        tombstone_ttl=settings.tombstone_ttl,
        purge_interval=settings.purge_interval,
        retry_pause=(settings.retry_pause, max(LONGEST_PAUSE, settings.retry_pause)),
    )


@contextlib.asynccontextmanager
async def _connected(settings: ProjectionSettings) -> AsyncIterator[tuple[Store, NatsBus]]:
    store = await Store.open(settings.database_url)
    try:
        bus = await NatsBus.connect(settings.servers, name="xorca-projection")
        try:
            await ensure_streams_when_ready(bus.js, settings)
            yield store, bus
        finally:
            await bus.close()
    finally:
        await store.close()


async def run(
    settings: ProjectionSettings, *, started: Callable[[Projection], None] | None = None
) -> None:
    """Project until `Projection.stop` or cancellation."""
    async with _connected(settings) as (store, bus):
        projection = Projection(store, bus, options_for(settings))
        http: HttpServer | None = None
        if settings.http_port >= 0:
            app = make_app(projection.readiness, projection.metrics.exposition)
            http = HttpServer(app, settings.http_host, settings.http_port)
            await http.start()
            log.info("projection: store %s, health and metrics on %s", store.url, http.url)
        projection.http = http
        try:
            if started is not None:
                started(projection)
            await projection.run()
        finally:
            if http is not None:
                await http.stop()


@dataclass(frozen=True, slots=True)
class RebuildReport:
    position: int
    messages: int
    seconds: float
    objects: dict[str, int]


async def rebuild(settings: ProjectionSettings) -> RebuildReport:
    """Empty the store and apply the whole stream again, up to its end at the start of the
    rebuild. Stop the running projection first: the store has one writer."""
    async with _connected(settings) as (store, bus):
        started = time.perf_counter()
        end = (await stream_state(bus.js)).last_seq
        await store.clear(CONSUMER)
        projection = Projection(store, bus, options_for(settings))
        await projection.run(until=end)
        return RebuildReport(
            position=projection.position,
            messages=int(projection.metrics.value("xorca_projection_messages_total")),
            seconds=time.perf_counter() - started,
            objects=await store.stats(),
        )


async def run_until_signalled(settings: ProjectionSettings) -> None:
    """`run`, stopped cleanly by SIGINT or SIGTERM (``python -m xorca.projection``)."""
    loop = asyncio.get_running_loop()
    projections: list[Projection] = []
    main = asyncio.current_task()

    def started(projection: Projection) -> None:
        projections.append(projection)

    def stop() -> None:
        if projections:
            projections[0].stop()
        elif main is not None:
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await run(settings, started=started)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
