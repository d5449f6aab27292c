"""Wiring: the one place that reads `ApiSettings` and builds the real adapters.

    await run(ApiSettings())                         # until stopped or cancelled
    await run(settings, started=lambda api: ...)     # hands out the `Gateway` (url, stop)

Start-up: open the store (the projection migrates it: wait until the schema is there), connect
to NATS, lay out the streams and buckets (idempotent), load the tokens, load the live view
(subscribing to the deltas first), listen, then `serve` until stopped. Everything is closed in
reverse order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from xorca.api.adapters.hub import Hub
from xorca.api.adapters.metrics import Metrics
from xorca.api.adapters.tokens import TokenCache
from xorca.api.app import make_app
from xorca.api.service import Gateway
from xorca.api.settings import ApiSettings
from xorca.api.state import ApiState
from xorca.bus.tokens import Tokens
from xorca.runtime.backoff import Backoff, retry
from xorca.runtime.bus import connected_bus
from xorca.runtime.http import HttpServer
from xorca.runtime.serve import serve
from xorca.store import SchemaOutdated, Store, StoreUnavailable

__all__ = ["STORE_RETRY", "run"]

log = logging.getLogger(__name__)

#: pauses between attempts to open a store the projection has not migrated yet
STORE_RETRY = Backoff(0.1, 5.0)


async def run(settings: ApiSettings, *, started: Callable[[Gateway], None] | None = None) -> None:
    """Serve until `Gateway.stop` or cancellation."""
    store = await retry(
        lambda: Store.open(settings.database_url, migrate=False),
        STORE_RETRY,
        on=(SchemaOutdated, StoreUnavailable),
        failing="state store not ready",
    )
    async with contextlib.AsyncExitStack() as opened:  # closed in reverse order
        await opened.enter_async_context(store)
        bus = await opened.enter_async_context(connected_bus(settings, name="xorca-api"))
        tokens = TokenCache(await Tokens.open(bus.js))
        await tokens.start()
        opened.push_async_callback(tokens.stop)
        metrics = Metrics()
        hub = Hub(store, bus)
        hub.on_resync = metrics.hub_resyncs.inc
        await hub.start()
        opened.push_async_callback(hub.stop)
        state = ApiState(settings, store, bus, hub, tokens, metrics)
        await tokens.ready.wait()
        app = make_app(state)
        http = await opened.enter_async_context(
            HttpServer(app, settings.api_host, settings.api_port)
        )
        log.info("api on %s (store %s)", http.url, store.url)
        await serve(Gateway(state, http), name="api", started=started)
