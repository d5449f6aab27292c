"""The NATS connection: connected for ever (reconnecting without limit), observable.

A service must outlive NATS outages: the client reconnects on its own, and the rest of the
service only needs to know whether it is connected now, to wait until it is, and to be told
after each reconnection (to restart what does not survive one by itself, such as the registry
watch). The first connection is one attempt: a service that starts before NATS waits for it
with its backoff (``xorca.runtime.bus.connected_bus``), a tool fails at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

__all__ = ["NATS_ERRORS", "NatsBus"]

log = logging.getLogger(__name__)

#: what a NATS or JetStream call raises when the server is away, slow or refuses: every such
#: failure is retried by the caller, never fatal
NATS_ERRORS: tuple[type[BaseException], ...] = (nats.errors.Error, TimeoutError, OSError)


class NatsBus:
    """One connection to NATS and its JetStream context."""

    def __init__(self, nc: Client, js: JetStreamContext) -> None:
        self.nc = nc
        self.js = js
        self.reconnects = 0
        self._connected = asyncio.Event()
        self._connected.set()
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    async def connect(
        cls,
        servers: Sequence[str],
        *,
        name: str,
        max_in_flight: int = 1000,
        first_attempt_timeout: float = 5.0,
    ) -> NatsBus:
        """Connect (one attempt: `NATS_ERRORS` if NATS does not answer), reconnecting for ever
        afterwards."""
        holder: list[NatsBus] = []

        async def disconnected() -> None:
            if holder:
                holder[0]._connected.clear()

        async def reconnected() -> None:
            if holder:
                holder[0]._on_reconnected()

        async def error(e: Exception) -> None:
            log.debug("nats: %s", e)

        nc = await nats.connect(
            list(servers),
            name=name,
            connect_timeout=first_attempt_timeout,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.25,
            allow_reconnect=True,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
            # publishes made while reconnecting are buffered up to this: more than the
            # in-flight window of a pool's batch (~5 KB a record)
            pending_size=max(2 * 1024 * 1024, max_in_flight * 8 * 1024),
        )
        # JetStream's own bound on async publishes sits above ours (the publisher keeps its window)
        bus = cls(nc, nc.jetstream(publish_async_max_pending=max_in_flight * 2 + 16))
        holder.append(bus)
        return bus

    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    @property
    def closed(self) -> bool:
        return self.nc.is_closed

    def on_reconnect(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each reconnection; returns the function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    def _on_reconnected(self) -> None:
        self.reconnects += 1
        self._connected.set()
        log.info("nats: reconnected to %s", self.nc.connected_url)
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("reconnect listener failed")

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Whether the connection is up, waiting at most ``timeout`` seconds for it."""
        try:
            async with asyncio.timeout(timeout):
                while not self.connected:
                    if self.closed:
                        return False
                    # the event is set by the reconnect callback; the short wait re-checks the
                    # client's own state in case a callback came between the check and the wait
                    # (xorca.runtime.aio.wait_event, written out: the bus needs no runtime)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.1):
                            await self._connected.wait()
                    self._connected.clear()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Close the connection (what is buffered is flushed first, best effort)."""
        if not self.closed:
            with contextlib.suppress(*NATS_ERRORS):
                await self.nc.close()
