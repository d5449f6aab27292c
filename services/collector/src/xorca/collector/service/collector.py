"""`Collector`: one replica, assembled from its parts (bootstrap.py builds the real ones), as
`xorca.runtime.serve.serve` runs it.

    supervisor ── registry watch, leases, heartbeats ──▶ PoolRunner per held lease
    commands   ── xorca.v1.cmd.* (queue group), forwarding to the owner
    log        ── JetStream publishing shared by every runner

`run` serves until `stop` (clean: leases released, last statuses published) or cancellation (a
kill: nothing released, the leases expire). `readiness` is what ``/readyz`` reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from xorca.bus.connection import NatsBus
from xorca.bus.leases import Leases
from xorca.bus.registry import Registry
from xorca.collector.adapters.log import JetStreamLog
from xorca.collector.adapters.metrics import Metrics
from xorca.collector.adapters.presence import Presence
from xorca.collector.adapters.xapi import XapiLinks
from xorca.collector.service.commands import CommandService
from xorca.collector.service.runner import POOL_RETRY, PoolRunner
from xorca.collector.service.supervisor import Entry, Supervisor
from xorca.collector.settings import CollectorSettings
from xorca.runtime.backoff import Backoff
from xorca.runtime.http import HttpServer

__all__ = ["Collector"]


class Collector:
    """One collector replica."""

    def __init__(
        self,
        settings: CollectorSettings,
        *,
        bus: NatsBus,
        registry: Registry,
        leases: Leases,
        links: XapiLinks,
        metrics: Metrics | None = None,
        retry: Backoff = POOL_RETRY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.id = settings.collector_id
        self.bus = bus
        self.links = links
        self.metrics = metrics or Metrics()
        self.retry = retry
        self.clock = clock
        #: the health and metrics endpoint, when bootstrap opened one
        self.http: HttpServer | None = None
        self.log = JetStreamLog(
            bus,
            max_in_flight=settings.max_in_flight,
            ack_timeout=settings.ack_timeout,
            in_flight=self.metrics.in_flight.set,
        )
        self.commands = CommandService(
            bus, self.log, collector=self.id, timeout=settings.command_timeout,
            metrics=self.metrics, clock=clock,
        )  # fmt: skip
        self.presence = Presence(
            bus, self.id, horizon=2 * settings.renew_interval, held=self._held, clock=clock
        )
        self.supervisor = Supervisor(
            me=self.id,
            bus=bus,
            registry=registry,
            leases=leases,
            presence=self.presence,
            make_runner=self._runner,
            lease_period=settings.lease_period,
            metrics=self.metrics,
            clock=clock,
        )
        bus.on_reconnect(self.metrics.reconnects.inc)

    def _held(self) -> int:
        return len(self.supervisor.held)

    def _runner(self, entry: Entry, may_publish: Callable[[], bool]) -> PoolRunner:
        return PoolRunner(
            entry,
            collector=self.id,
            log_=self.log,
            links=self.links,
            routes=self.commands,
            metrics=self.metrics,
            tombstone_ttl=self.settings.tombstone_ttl or None,
            duplicate_window=self.settings.duplicate_window,
            may_publish=may_publish,
            retry=self.retry,
            clock=self.clock,
        )

    async def run(self) -> None:
        await self.commands.start()
        try:
            await self.supervisor.run()
        finally:
            await self.commands.stop()

    def stop(self) -> None:
        """End `run` cleanly (it returns once every lease is released)."""
        self.supervisor.stop()

    # -------------------------------------------------------------------------------- reading

    def runners(self) -> dict[str, PoolRunner]:
        """Registry id → the runner of each pool this replica holds."""
        return {key: held.runner for key, held in self.supervisor.held.items()}

    def pools(self) -> list[dict[str, Any]]:
        return [
            {
                "registry_id": key,
                "pool_uuid": runner.pool_uuid,
                "state": runner.state,
                "published": runner.synced,
            }
            for key, runner in sorted(self.runners().items())
        ]

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when NATS is connected and the registry was read: from then on, every pool
        this replica should serve is being served or reported."""
        connected = self.bus.connected
        loaded = self.supervisor.loaded.is_set()
        body = {
            "collector": self.id,
            "nats_connected": connected,
            "registry_loaded": loaded,
            "pools": self.pools(),
        }
        return connected and loaded, body
