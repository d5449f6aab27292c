"""Runs simulated pools: one HTTP endpoint per host on its own loopback address, the activity
that keeps them alive, and the fault-injection control endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from dataclasses import dataclass, field
from typing import Any

from xorca.xapi_sim.content.activity import Activity
from xorca.xapi_sim.content.inventory import build_pool
from xorca.xapi_sim.http.host import HostEndpoint
from xorca.xapi_sim.http.tls import Certificate, self_signed
from xorca.xapi_sim.metrics.pool import PoolMetrics
from xorca.xapi_sim.state.pool import Endpoint, SimConfig, SimPool

log = logging.getLogger(__name__)


@dataclass
class SimOptions:
    pools: int = 2
    hosts_per_pool: int = 3
    vms_per_pool: int = 50
    seed: int = 1
    #: changes per second per pool; 0 disables the activity mode
    activity_rate: float = 0.0
    #: pool i listens on base_port + i - 1 on each of its hosts' addresses; 0 picks free ports
    base_port: int = 0
    #: serve HTTPS with a self-signed certificate per pool, as real hosts do
    tls: bool = False
    config: SimConfig = field(default_factory=SimConfig)
    pool_names: list[str] = field(default_factory=list)


DEFAULT_NAMES = ["Paris DC", "Lyon DR", "Berlin Lab", "Oslo Edge", "Madrid Prod", "Dublin Test"]


class RunningPool:
    """A pool and its live endpoints; the control endpoint acts through this class."""

    def __init__(self, pool: SimPool, index: int, port: int = 0, tls: bool = False) -> None:
        self.pool = pool
        self.index = index
        self.port = port
        self.certificate: Certificate | None = None
        if tls:
            addresses = [pool.address_of(ref) for ref in pool.db.refs("host")]
            self.certificate = self_signed(f"{pool.name} (xorca simulator)", addresses)
        self.endpoints: dict[str, HostEndpoint] = {}
        self.activity: Activity | None = None
        self.metrics = PoolMetrics(pool, seed=index)

    @property
    def running(self) -> bool:
        return bool(self.endpoints)

    async def start(self) -> None:
        """Bind every host on one port (chosen by the system for the first when 0)."""
        for attempt in range(20):
            try:
                await self._bind_all()
                return
            except OSError as e:
                await self._close_all()
                if e.errno != errno.EADDRINUSE or attempt == 19:
                    raise
                if self.port and attempt > 0:
                    raise
                await asyncio.sleep(0.05)

    async def _bind_all(self) -> None:
        hosts = [self.pool.master_ref] + [
            ref for ref in self.pool.db.refs("host") if ref != self.pool.master_ref
        ]
        port = self.port
        context = self.certificate.server_context() if self.certificate else None
        for ref in hosts:
            endpoint = HostEndpoint(self.pool, ref, self.metrics, tls=context)
            port = await endpoint.http.start(self.pool.address_of(ref), port)
            self.endpoints[ref] = endpoint
        self.port = port
        self.pool.endpoints.clear()
        for ref in hosts:
            scheme = "https" if self.certificate else "http"
            self.pool.endpoints[ref] = Endpoint(ref, self.pool.address_of(ref), port, scheme)

    async def _close_all(self) -> None:
        endpoints, self.endpoints = self.endpoints, {}
        for endpoint in endpoints.values():
            await endpoint.http.stop()

    async def stop(self) -> None:
        """Stop answering at all, like a pool whose hosts are down."""
        await self._close_all()
        await self.metrics.stop()

    async def set_activity(self, rate: float, seed: int = 0) -> None:
        """Change (or start, or with 0 stop) the pool's activity mode."""
        if self.activity is not None:
            await self.activity.stop()
            self.activity = None
        if rate > 0:
            self.activity = Activity(self.pool, rate=rate, seed=seed + self.index)
            self.activity.start()

    def drop_connections(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.http.drop_connections()

    def switch_master(self, host_ref: str) -> None:
        """The new master serves the API; the old one answers HOST_IS_SLAVE; connections drop,
        as they do when xapi restarts on a master change."""
        self.pool.switch_master(host_ref)
        self.drop_connections()

    def describe(self) -> dict[str, Any]:
        master = self.pool.master_ref
        urls = {ref: ep.url for ref, ep in self.pool.endpoints.items()}
        return {
            "name": self.pool.name,
            "uuid": self.pool.uuid,
            "url": urls.get(master, ""),
            "master": urls.get(master, ""),
            "members": [url for ref, url in urls.items() if ref != master],
            "username": self.pool.config.username,
            "password": self.pool.config.password,
            "running": self.running,
            **(
                {
                    "tls_fingerprint": self.certificate.fingerprint,
                    "tls_certificate": self.certificate.pem.decode(),
                }
                if self.certificate
                else {}
            ),
        }


class Simulator:
    def __init__(self, options: SimOptions) -> None:
        self.options = options
        self.pools: list[RunningPool] = []

    def build(self) -> None:
        o = self.options
        names = o.pool_names or DEFAULT_NAMES
        for i in range(1, o.pools + 1):
            name = names[i - 1] if i <= len(names) else f"Pool {i}"
            pool = build_pool(
                name=name,
                index=i,
                hosts=o.hosts_per_pool,
                vms=o.vms_per_pool,
                seed=o.seed * 1000 + i,
                config=o.config,
            )
            port = o.base_port + i - 1 if o.base_port else 0
            self.pools.append(RunningPool(pool, i, port, tls=o.tls))

    async def start(self) -> None:
        if not self.pools:
            self.build()
        for running in self.pools:
            await running.start()
            await running.set_activity(self.options.activity_rate, self.options.seed)

    async def stop(self) -> None:
        for running in self.pools:
            await running.set_activity(0)
            for task in list(running.pool.running.values()):
                task.cancel()
            await running.stop()

    def find(self, name_or_uuid: str) -> RunningPool | None:
        for running in self.pools:
            if name_or_uuid in (running.pool.name, running.pool.uuid, str(running.index)):
                return running
        return None

    def describe(self) -> list[dict[str, Any]]:
        return [p.describe() for p in self.pools]


@contextlib.asynccontextmanager
async def running_simulator(options: SimOptions) -> Any:
    sim = Simulator(options)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
