"""Wiring: the one place that reads `CollectorSettings` and builds the real adapters.

    await run(CollectorSettings())                        # until stopped or cancelled
    await run(settings, started=lambda c: ...)            # hands out the Collector (to stop it)

Start-up: connect to NATS (waiting for it if it is not there yet), lay out the streams and buckets
(`ensure_streams`, idempotent), bind the registry (with ``XORCA_SECRET_KEY``) and the leases, open
``/healthz``, ``/readyz`` and ``/metrics``, then serve. The NATS connection is closed last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from xorca.bus.connection import NatsBus
from xorca.bus.leases import Leases
from xorca.bus.registry import Registry
from xorca.bus.setup import ensure_streams_when_ready
from xorca.collector.adapters.xapi import XapiLinks
from xorca.collector.service import Collector
from xorca.collector.settings import CollectorSettings
from xorca.runtime.http import HttpServer, make_app
from xorca.xapi.watcher import Backoff, WatchOptions

__all__ = ["links_for", "run", "run_until_signalled"]

log = logging.getLogger(__name__)

#: the longest pause between attempts to reach a failing pool
LONGEST_PAUSE = 30.0


def links_for(settings: CollectorSettings) -> XapiLinks:
    """How pools are reached: the watcher's poll and backoff, the client's timeout."""
    watch = WatchOptions(
        poll=settings.watch_poll,
        backoff=Backoff(settings.retry_pause, max(LONGEST_PAUSE, settings.retry_pause)),
    )
    return XapiLinks(watch=watch, timeout=settings.xapi_timeout)


async def run(
    settings: CollectorSettings, *, started: Callable[[Collector], None] | None = None
) -> None:
    """Serve until `Collector.stop` (clean) or cancellation (a kill: leases left to expire)."""
    secret_key = settings.require_secret_key()
    bus = await NatsBus.connect(
        settings.servers,
        name=f"xorca-collector {settings.collector_id}",
        max_in_flight=settings.max_in_flight,
    )
    try:
        await ensure_streams_when_ready(bus.js, settings)
        collector = Collector(
            settings,
            bus=bus,
            registry=await Registry.open(bus.js, secret_key),
            leases=await Leases.open(bus.js),
            links=links_for(settings),
            retry_pause=(settings.retry_pause, max(LONGEST_PAUSE, settings.retry_pause)),
        )
        http: HttpServer | None = None
        if settings.http_port >= 0:
            app = make_app(collector.readiness, collector.metrics.exposition)
            http = HttpServer(app, settings.http_host, settings.http_port)
            await http.start()
            log.info("collector %s: health and metrics on %s", collector.id, http.url)
        collector.http = http
        try:
            if started is not None:
                started(collector)
            await collector.run()
        finally:
            if http is not None:
                await http.stop()
    finally:
        await bus.close()


async def run_until_signalled(settings: CollectorSettings) -> None:
    """`run`, stopped cleanly by SIGINT or SIGTERM (``python -m xorca.collector``, ``xorca
    collector``): the leases are released, so another replica takes over at once."""
    loop = asyncio.get_running_loop()
    collectors: list[Collector] = []
    stopping = False
    main = asyncio.current_task()

    def started(collector: Collector) -> None:
        collectors.append(collector)
        if stopping:  # the signal came while starting, and its cancellation was lost
            collector.stop()

    def stop() -> None:
        nonlocal stopping
        stopping = True
        if collectors:
            collectors[0].stop()
        elif main is not None:
            main.cancel()  # still starting: nothing to hand over

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await run(settings, started=started)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
