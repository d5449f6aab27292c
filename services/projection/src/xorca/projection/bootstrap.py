"""Wiring: the one place that reads `ProjectionSettings` and builds the real adapters.

    await run(ProjectionSettings())                       # until stopped or cancelled
    await run(settings, started=lambda p: ...)            # hands out the Projection (to stop it)
    await rebuild(settings)                               # empty the store, replay the stream

Start-up: open the store (migrating its schema), connect to NATS (waiting for it), lay out the
streams (idempotent: the projection may start before any collector), then `serve`: ``/healthz``,
``/readyz`` and ``/metrics``, and the projection until it stops. Everything is closed in reverse
order.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from xorca.bus.connection import NatsBus
from xorca.projection.service import Projection, ProjectionOptions, RebuildReport, rebuild_store
from xorca.projection.settings import ProjectionSettings
from xorca.runtime.backoff import Backoff
from xorca.runtime.bus import connected_bus
from xorca.runtime.serve import serve
from xorca.store import Store

__all__ = ["options_for", "rebuild", "run"]

#: the longest pause between attempts after a failure
LONGEST_PAUSE = 30.0


def options_for(settings: ProjectionSettings) -> ProjectionOptions:
    return ProjectionOptions(
        batch=settings.projection_batch,
        catchup_batch=max(settings.projection_catchup, settings.projection_batch),
        wait=settings.projection_wait,
        tombstone_ttl=settings.tombstone_ttl,
        purge_interval=settings.purge_interval,
        retry=Backoff(settings.retry_pause, max(LONGEST_PAUSE, settings.retry_pause)),
    )


@contextlib.asynccontextmanager
async def _connected(settings: ProjectionSettings) -> AsyncIterator[tuple[Store, NatsBus]]:
    async with (
        await Store.open(settings.database_url) as store,
        connected_bus(settings, name="xorca-projection") as bus,
    ):
        yield store, bus


async def run(
    settings: ProjectionSettings, *, started: Callable[[Projection], None] | None = None
) -> None:
    """Project until `Projection.stop` or cancellation."""
    async with _connected(settings) as (store, bus):
        projection = Projection(store, bus, options_for(settings))
        health = (settings.http_host, settings.http_port)
        await serve(projection, name=f"projection ({store.url})", health=health, started=started)


async def rebuild(settings: ProjectionSettings) -> RebuildReport:
    """Empty the store and apply the whole stream again (`rebuild_store`). Stop the running
    projection first: the store has one writer."""
    async with _connected(settings) as (store, bus):
        return await rebuild_store(store, bus, options_for(settings))
