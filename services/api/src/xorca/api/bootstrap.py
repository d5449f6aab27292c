"""Wiring: the one place that reads `ApiSettings` and builds the real adapters.

    await run(ApiSettings())                         # until stopped or cancelled
    await run(settings, started=lambda api: ...)     # hands out the `Gateway` (url, stop)

Start-up: open the store (the projection migrates it: wait until the schema is there), connect
to NATS, lay out the streams and buckets (idempotent), load the tokens, load the live view
(subscribing to the deltas first), then serve HTTP. Everything is closed in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from xorca.api.adapters.hub import Hub
from xorca.api.adapters.tokens import TokenCache
from xorca.api.app import make_app
from xorca.api.metrics import Metrics
from xorca.api.settings import ApiSettings
from xorca.api.state import ApiState
from xorca.bus.connection import NatsBus
from xorca.bus.setup import ensure_streams_when_ready
from xorca.bus.tokens import Tokens
from xorca.runtime.http import HttpServer
from xorca.store import SchemaOutdated, Store, StoreUnavailable

__all__ = ["Gateway", "run", "run_until_signalled"]

log = logging.getLogger(__name__)


class Gateway:
    """A running gateway: its state, its HTTP server, and how to stop it."""

    def __init__(self, state: ApiState, http: HttpServer) -> None:
        self.state = state
        self.http = http
        self._stop = asyncio.Event()

    @property
    def url(self) -> str:
        return self.http.url

    def stop(self) -> None:
        self._stop.set()

    async def wait(self) -> None:
        await self._stop.wait()


async def _open_store(url: str) -> Store:
    """The store once its schema is there (the projection migrates it), retrying meanwhile."""
    pause = 0.1
    while True:
        try:
            return await Store.open(url, migrate=False)
        except (SchemaOutdated, StoreUnavailable) as e:
            log.warning("state store not ready (%s): retrying", e)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


async def run(settings: ApiSettings, *, started: Callable[[Gateway], None] | None = None) -> None:
    """Serve until `Gateway.stop` or cancellation."""
    store = await _open_store(settings.database_url)
    try:
        bus = await NatsBus.connect(settings.servers, name="xorca-api")
        try:
            await ensure_streams_when_ready(bus.js, settings)
            tokens = TokenCache(await Tokens.open(bus.js))
            await tokens.start()
            metrics = Metrics()
            hub = Hub(store, bus)
            hub.on_resync = metrics.hub_resyncs.inc
            await hub.start()
            state = ApiState(settings, store, bus, hub, tokens, metrics)
            http = HttpServer(make_app(state), settings.api_host, settings.api_port)
            try:
                await tokens.ready.wait()
                await http.start()
                log.info("api on %s (store %s)", http.url, store.url)
                gateway = Gateway(state, http)
                if started is not None:
                    started(gateway)
                await gateway.wait()
            finally:
                await http.stop()
                await hub.stop()
                await tokens.stop()
        finally:
            await bus.close()
    finally:
        await store.close()


async def run_until_signalled(settings: ApiSettings) -> None:
    """`run`, stopped cleanly by SIGINT or SIGTERM (``python -m xorca.api``)."""
    loop = asyncio.get_running_loop()
    gateways: list[Gateway] = []
    main = asyncio.current_task()

    def stop() -> None:
        if gateways:
            gateways[0].stop()
        elif main is not None:
            main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await run(settings, started=gateways.append)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
