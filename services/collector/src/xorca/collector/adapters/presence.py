"""Replica heartbeats on core NATS (``_XORCA.collector.presence``): who is alive and how many pools
each holds, for sharing the pools fairly (core/leases.py).

Not part of the public contract: only collectors speak it (``{"id", "held", "at"}``, and
``"leaving": true`` from a replica that stops cleanly, so that its share goes to the others at
once). A replica that hears one it did not know answers with its own heartbeat at once, so that a
newcomer learns its peers within a round trip rather than a renew interval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from xorca.bus.connection import NATS_ERRORS, NatsBus
from xorca.collector.core.leases import Peers

__all__ = ["PRESENCE", "Presence"]

log = logging.getLogger(__name__)

PRESENCE = "_XORCA.collector.presence"


class Presence:
    """Publishes this replica's heartbeat and keeps its peers' (`Peers`)."""

    def __init__(
        self,
        bus: NatsBus,
        me: str,
        horizon: float,
        held: Callable[[], int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.me = me
        self.held = held
        self.clock = clock
        self.peers = Peers(horizon)
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self.bus.nc.subscribe(PRESENCE, cb=self._heard)
        await self.beat()

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except NATS_ERRORS:
                log.debug("unsubscribe failed", exc_info=True)
            self._sub = None

    async def beat(self) -> None:
        body = orjson.dumps({"id": self.me, "held": self.held(), "at": self.clock()})
        try:
            await self.bus.nc.publish(PRESENCE, body)
        except NATS_ERRORS as e:
            log.debug("heartbeat not sent: %r", e)

    async def leave(self) -> None:
        """Say that this replica is stopping, so that peers stop counting it at once."""
        body = orjson.dumps({"id": self.me, "held": 0, "at": self.clock(), "leaving": True})
        try:
            await self.bus.nc.publish(PRESENCE, body)
            await self.bus.nc.flush(timeout=1)
        except NATS_ERRORS as e:
            log.debug("goodbye not sent: %r", e)

    def alive(self) -> dict[str, int]:
        """Live peers (not this replica) and the pools each holds."""
        return self.peers.alive(self.clock())

    async def _heard(self, msg: Msg) -> None:
        try:
            beat = orjson.loads(msg.data)
            replica, held, leaving = str(beat["id"]), int(beat["held"]), bool(beat.get("leaving"))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            log.warning("malformed heartbeat on %s: %.80r", PRESENCE, msg.data)
            return
        if replica == self.me:
            return
        if leaving:
            self.peers.forget(replica)
            return
        if self.peers.heard(replica, held, self.clock()):
            await self.beat()  # a newcomer: let it know us now
