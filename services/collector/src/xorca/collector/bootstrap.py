"""Wiring: the one place that reads `CollectorSettings` and builds the real adapters.

    await run(CollectorSettings())                        # until stopped or cancelled
    await run(settings, started=lambda c: ...)            # hands out the Collector (to stop it)

Start-up: connect to NATS (waiting for it if it is not there yet), lay out the streams and buckets
(idempotent), bind the registry (with ``XORCA_SECRET_KEY``) and the leases, then `serve`:
``/healthz``, ``/readyz`` and ``/metrics``, and the replica until it stops. The NATS connection is
closed last.
"""

from __future__ import annotations

from collections.abc import Callable

from xorca.bus.leases import Leases
from xorca.bus.registry import Registry
from xorca.collector.adapters.xapi import XapiLinks
from xorca.collector.service import Collector
from xorca.collector.settings import CollectorSettings
from xorca.runtime.backoff import Backoff
from xorca.runtime.bus import connected_bus
from xorca.runtime.serve import serve
from xorca.xapi.watcher import Backoff as WatchBackoff
from xorca.xapi.watcher import WatchOptions

__all__ = ["links_for", "run"]

#: the longest pause between attempts to reach a failing pool
LONGEST_PAUSE = 30.0


def links_for(settings: CollectorSettings) -> XapiLinks:
    """How pools are reached: the watcher's poll and backoff, the client's timeout."""
    first, longest = settings.retry_pause, max(LONGEST_PAUSE, settings.retry_pause)
    watch = WatchOptions(poll=settings.watch_poll, backoff=WatchBackoff(first, longest))
    return XapiLinks(watch=watch, timeout=settings.xapi_timeout)


async def run(
    settings: CollectorSettings, *, started: Callable[[Collector], None] | None = None
) -> None:
    """Serve until `Collector.stop` (clean) or cancellation (a kill: leases left to expire)."""
    secret_key = settings.require_secret_key()
    name = f"xorca-collector {settings.collector_id}"
    async with connected_bus(settings, name=name, max_in_flight=settings.max_in_flight) as bus:
        collector = Collector(
            settings,
            bus=bus,
            registry=await Registry.open(bus.js, secret_key),
            leases=await Leases.open(bus.js),
            links=links_for(settings),
            retry=Backoff(settings.retry_pause, max(LONGEST_PAUSE, settings.retry_pause)),
        )
        health = (settings.http_host, settings.http_port)
        await serve(collector, name=f"collector {collector.id}", health=health, started=started)
