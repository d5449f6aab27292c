"""Metrics per host, as xcp-rrdd keeps them: each host knows only its resident VMs (XAPI.md §5).

A host's archives are created on first request (with a generated past), then updated every 5 s
while someone has asked for them in the last ten minutes, so a 10,000-VM pool nobody graphs costs
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence

from xorca.xapi.datamodel import NULL_REF
from xorca.xapi_sim.metrics.generator import HostSpec, MetricsGenerator, VmSpec, ds_spec
from xorca.xapi_sim.metrics.queries import rrd_dump_response, rrd_updates_response
from xorca.xapi_sim.metrics.rrd import (
    STEP,
    OwnerKind,
    RrdError,
    RrdNotFound,
    RrdQueryError,
    RrdStore,
)
from xorca.xapi_sim.state.pool import SimPool

DUMPS: dict[str, OwnerKind] = {"/host_rrd": "host", "/vm_rrd": "vm", "/sr_rrd": "sr"}
#: a host nobody asked about for this long stops being updated
IDLE_AFTER = 600.0
GIB = 1024**3


class PoolMetrics:
    def __init__(self, pool: SimPool, seed: int = 0) -> None:
        self.pool = pool
        self.generator = MetricsGenerator(seed)
        self.stores: dict[str, RrdStore] = {}
        self.last_asked: dict[str, float] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._creating: dict[str, asyncio.Future[RrdStore]] = {}

    # ---- what the database says ------------------------------------------------------------

    def host_spec(self, host: str) -> HostSpec:
        db = self.pool.db
        metrics = db.text("host", host, "metrics")
        total = (
            db.integer("host_metrics", metrics, "memory_total")
            if db.exists("host_metrics", metrics)
            else 0
        )
        pifs = tuple(db.text("PIF", p, "device") for p in db.ref_set("host", host, "PIFs"))
        srs = tuple(
            db.text("SR", db.text("PBD", p, "SR"), "uuid") for p in db.ref_set("host", host, "PBDs")
        )
        cpus = len(db.ref_set("host", host, "host_CPUs")) or 8
        return HostSpec(
            db.text("host", host, "uuid"), cpus, total or 64 * GIB, pifs or ("eth0",), srs
        )

    def vm_specs(self, host: str) -> list[VmSpec]:
        db = self.pool.db
        specs = []
        for vm in db.ref_set("host", host, "resident_VMs"):
            if db.text("VM", vm, "power_state") not in ("Running", "Paused"):
                continue
            vifs = tuple(
                int(db.text("VIF", v, "device") or 0) for v in db.ref_set("VM", vm, "VIFs")
            )
            vbds = tuple(
                db.text("VBD", b, "device")
                for b in db.ref_set("VM", vm, "VBDs")
                if db.text("VBD", b, "type") == "Disk" and db.text("VBD", b, "device")
            )
            vcpus = db.integer("VM", vm, "VCPUs_max") or 1
            memory = db.integer("VM", vm, "memory_dynamic_max") or GIB
            specs.append(VmSpec(db.text("VM", vm, "uuid"), vcpus, memory, vifs, vbds))
        return specs

    # ---- archives ----------------------------------------------------------------------------

    async def store(self, host: str) -> RrdStore:
        self.last_asked[host] = time.time()
        if host in self.stores:
            return self.stores[host]
        pending = self._creating.get(host)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._creating[host] = pending
            spec, vms, now = self.host_spec(host), self.vm_specs(host), time.time()
            try:
                store = await asyncio.to_thread(self._backfilled, spec, vms, now)
            except BaseException as e:
                pending.set_exception(e)
                raise
            finally:
                self._creating.pop(host, None)
            self.stores[host] = store
            pending.set_result(store)
            self._ensure_ticker()
            return store
        return await asyncio.shield(pending)

    def _backfilled(self, spec: HostSpec, vms: Sequence[VmSpec], now: float) -> RrdStore:
        store = RrdStore(specs=ds_spec)
        store.backfill(now, self.generator.history_source(now, spec, vms))
        return store

    def tick(self, now: float) -> None:
        for host, store in list(self.stores.items()):
            if now - self.last_asked.get(host, 0) > IDLE_AFTER or not self.pool.db.exists(
                "host", host
            ):
                del self.stores[host]
                continue
            vms = self.vm_specs(host)
            resident = {v.uuid for v in vms}
            for kind, uuid in store.owners("vm"):
                if uuid not in resident:
                    rrd = store.drop((kind, uuid))
                    target = self._store_of_vm(uuid)
                    if rrd is not None and target is not None:
                        target.adopt((kind, uuid), rrd)  # migrated: its history follows it
            store.update(now, self.generator.sample(now, self.host_spec(host), vms))

    def _store_of_vm(self, vm_uuid: str) -> RrdStore | None:
        db = self.pool.db
        ref = db.by_uuid["VM"].get(vm_uuid)
        if ref is None:
            self.generator.forget(vm_uuid)
            return None
        host = db.text("VM", ref, "resident_on")
        return self.stores.get(host) if host != NULL_REF else None

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def _tick_forever(self) -> None:
        while self.stores:
            await asyncio.sleep(STEP)
            self.tick(time.time())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    # ---- HTTP --------------------------------------------------------------------------------

    async def respond(
        self, host: str, path: str, query: Mapping[str, Sequence[str]], accept: str | None
    ) -> tuple[int, str, bytes]:
        """``/rrd_updates``, ``/host_rrd``, ``/vm_rrd``, ``/sr_rrd``: (status, type, body)."""
        try:
            store = await self.store(host)
            uuid = self.pool.db.text("host", host, "uuid")
            if path == "/rrd_updates":
                ctype, body = rrd_updates_response(store, query, host_uuid=uuid, accept=accept)
            else:
                kind: OwnerKind = DUMPS[path]
                ctype, body = rrd_dump_response(store, kind, query, host_uuid=uuid, accept=accept)
        except RrdQueryError as e:
            return 400, "text/plain", str(e).encode()
        except RrdNotFound as e:
            return 404, "text/plain", str(e).encode()
        except RrdError as e:
            return 500, "text/plain", str(e).encode()
        return 200, ctype, body
