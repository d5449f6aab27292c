"""NATS as every service starts with it: connected (waiting for the server as long as it takes),
xorca's streams and buckets laid out (waiting for JetStream), closed when the service is done.

A service may start before NATS (containers start in any order), and a server that just started
answers before its JetStream does: both waits use the services' one `Backoff`. Laying out is
given up after about a hundred seconds, since a JetStream that never comes is a configuration
error to report, not an outage to sit out.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from xorca.bus.connection import NATS_ERRORS, NatsBus
from xorca.bus.setup import ensure_streams
from xorca.runtime.backoff import Backoff, retry
from xorca.runtime.settings import ServiceSettings

__all__ = ["CONNECT_RETRY", "LAYOUT_ATTEMPTS", "LAYOUT_RETRY", "connected_bus"]

#: pauses between attempts to reach NATS
CONNECT_RETRY = Backoff(0.1, 5.0)
#: pauses between attempts to lay out the streams, and how many attempts before giving up
LAYOUT_RETRY = Backoff(0.1, 2.0)
LAYOUT_ATTEMPTS = 60


@contextlib.asynccontextmanager
async def connected_bus(
    settings: ServiceSettings, *, name: str, max_in_flight: int = 1000
) -> AsyncIterator[NatsBus]:
    """The connection, once NATS answers and the streams are laid out; closed on exit."""
    bus = await retry(
        lambda: NatsBus.connect(settings.servers, name=name, max_in_flight=max_in_flight),
        CONNECT_RETRY,
        on=NATS_ERRORS,
        failing=f"cannot reach NATS at {','.join(settings.servers)}",
    )
    try:
        await retry(
            lambda: ensure_streams(
                bus.js,
                replicas=settings.nats_replicas,
                history=settings.objects_history,
                duplicate_window=settings.duplicate_window,
                audit_max_age=settings.audit_max_age,
            ),
            LAYOUT_RETRY,
            on=NATS_ERRORS,
            failing="cannot lay out the streams yet",
            attempts=LAYOUT_ATTEMPTS,
        )
        yield bus
    finally:
        await bus.close()
