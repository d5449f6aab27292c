"""Activity mode: a simulated pool that keeps changing, as a production pool does.

At a set rate (changes per second) one change is made: metrics move, guests renumber or grow a
network interface, alarms are raised and the oldest cleared, tags come and go, other clients'
tasks progress and finish, VMs change power state, and now and then a VM is created or destroyed.
Clients watching ``event.from`` thus see a realistic mix of ``mod``, ``add`` and ``del``.

Power operations and VM creation go through `dispatch.call`, exactly as a client's calls would,
with a pool session of the activity's own; if the pool has no handler for them yet
(``MESSAGE_METHOD_UNKNOWN``/``NOT_IMPLEMENTED``) power changes are skipped and VMs are created
and destroyed directly in the database instead.

Nothing grows without bound: alarms, tasks and created VMs are capped, guests keep at most four
interfaces, tags come from a small vocabulary. `step` (synchronous, no API calls) makes one
change and is deterministic for a seed and clock; `astep` may also call the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable

from xorca.xapi.datamodel import NULL_REF
from xorca.xapi.errors import XapiError
from xorca.xapi.values import DateTime, Value
from xorca.xapi_sim.content import guests, history, names
from xorca.xapi_sim.content.devices import adjust_sr_usage
from xorca.xapi_sim.content.guests import destroy_vm
from xorca.xapi_sim.content.rowbatch import Batch, Ids, as_int
from xorca.xapi_sim.content.site import Site, load_site
from xorca.xapi_sim.handlers.session import open_session
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state import tasks
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.state.pool import SimPool

log = logging.getLogger(__name__)

#: relative frequency of each kind of change
WEIGHTS: dict[str, int] = {
    "vm_metrics": 30,
    "host_metrics": 8,
    "guest_network": 8,
    "alarm": 8,
    "tags": 6,
    "client_task": 10,
    "power": 20,
    "lifecycle": 3,
}
#: power operations by the state they apply to, with their relative frequency
POWER_OPS: dict[str, tuple[tuple[str, int], ...]] = {
    "Running": (("clean_reboot", 3), ("clean_shutdown", 2), ("hard_reboot", 1), ("suspend", 1),
                ("pause", 1)),
    "Halted": (("start", 1),),
    "Suspended": (("resume", 1),),
    "Paused": (("unpause", 1),),
}  # fmt: skip
#: calls with (start_paused, force) after the VM
_WITH_FLAGS = frozenset({"start", "resume"})
CLIENT_TASKS = ("Async.SR.scan", "VM.export", "Async.host.call_plugin")
_UNSUPPORTED = frozenset({"MESSAGE_METHOD_UNKNOWN", "NOT_IMPLEMENTED"})
LIVE = ("Running", "Paused")


#: steps between re-reads of the guest list (VMs other clients created or destroyed)
REFRESH_EVERY = 500
#: shortest pause between bursts of changes, seconds
TICK = 0.01


class Activity:
    """Changes ``pool`` ``rate`` times a second once started; `counts` tallies what was done."""

    def __init__(
        self,
        pool: SimPool,
        *,
        rate: float = 5.0,
        seed: int = 0,
        max_alarms: int = 50,
        max_created_vms: int = 8,
        max_client_tasks: int = 3,
        kept_tasks: int = 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool
        self.rate = rate
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
        self.clock = clock
        self.max_alarms = max_alarms
        self.max_created_vms = max_created_vms
        self.max_client_tasks = max_client_tasks
        self.kept_tasks = kept_tasks
        self.counts: Counter[str] = Counter()
        self.alarms: deque[str] = deque()
        self.created: list[str] = []
        self.client_tasks: list[str] = []
        self.finished_tasks: deque[str] = deque()
        self.power_supported = True
        self.clone_supported = True
        self._session: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._lifecycle_task: asyncio.Task[None] | None = None
        self._site: Site | None = None
        self.ids.macs.update(str(vif["MAC"]) for _, vif in self.db.records("VIF"))
        self._guests: list[str] = []
        self._steps = 0
        self.refresh()

    @property
    def db(self) -> Database:
        return self.pool.db

    def refresh(self) -> None:
        """Re-read which guest VMs exist (they are picked from this list, then checked)."""
        self._guests = [
            ref
            for ref, vm in self.db.records("VM")
            if not (vm["is_a_template"] or vm["is_control_domain"] or vm["is_a_snapshot"])
        ]
        self._targets = history.targets_of(self.db, self.pool.pool_ref)
        self._templates = [ref for ref, vm in self.db.records("VM") if vm["is_default_template"]]

    # ---- running -----------------------------------------------------------------------------

    def start(self) -> None:
        """Run in the background on the current event loop until `stop`."""
        if self._task is None and self.rate > 0:
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def settle(self) -> None:
        """Wait for the change still running beside the others (a clone or destroy), if any."""
        if self._lifecycle_task is not None:
            with contextlib.suppress(Exception):
                await self._lifecycle_task

    async def stop(self) -> None:
        for task in (self._task, self._lifecycle_task):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception:  # a change that failed earlier must not fail the stop
                    log.warning("activity change had failed", exc_info=True)
        self._task = self._lifecycle_task = None
        if self._session is not None:
            self.pool.drop_session(self._session)
            self._session = None

    async def run(self) -> None:
        """``rate`` changes a second: one per tick at low rates, several per 10 ms tick above
        100/s (changes then arrive in small bursts, as on a busy pool). After a stall the
        backlog is capped at a quarter of a second's worth, so the pool never floods."""
        loop = asyncio.get_running_loop()
        tick = max(1 / self.rate, TICK)
        last = loop.time()
        owed = 1.0
        while True:
            for _ in range(int(owed)):
                try:
                    await self.astep()
                except Exception:  # one failed change must not end the activity
                    log.exception("activity step failed")
            owed -= int(owed)
            await asyncio.sleep(tick)
            now = loop.time()
            owed = min(owed + (now - last) * self.rate, max(1.0, self.rate / 4))
            last = now

    def step(self) -> str:
        """Make one change without calling the API; returns its kind."""
        kinds = {k: w for k, w in WEIGHTS.items() if k != "power"}
        kind = self.rng.choices(list(kinds), list(kinds.values()))[0]
        self._apply(kind)
        return kind

    async def astep(self) -> str:
        """Make one change of any kind, power operations included; returns its kind."""
        kind = self.rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0]
        if kind == "power":
            self._tick()
            await self._power()
        elif kind == "lifecycle" and self.clone_supported:
            # a clone takes the operation's simulated time: run it beside the other changes
            if self._lifecycle_task is None or self._lifecycle_task.done():
                self._tick()
                self._lifecycle_task = asyncio.get_running_loop().create_task(self._lifecycle_api())
            else:
                self._apply("vm_metrics")
        else:
            self._apply(kind)
        return kind

    def _apply(self, kind: str) -> None:
        self._tick()
        changed = getattr(self, f"_{kind}")()
        self.counts[kind if changed is not False else f"{kind}:skipped"] += 1

    def _tick(self) -> None:
        self._steps += 1
        if self._steps % REFRESH_EVERY == 0:
            self.refresh()
        self._reap_tasks()

    # ---- changes made in the database --------------------------------------------------------

    def _now(self) -> DateTime:
        return DateTime.from_timestamp(self.clock())

    def _pick(self, *, live: bool = False) -> str | None:
        """A random guest VM that still exists (and has a domain, if ``live``), or None."""
        for _ in range(8):
            if not self._guests:
                return None
            ref = self.rng.choice(self._guests)
            if not self.db.exists("VM", ref):
                self._guests.remove(ref)
            elif not live or self.db.field("VM", ref, "power_state") in LIVE:
                return ref
        return None

    def _vm_metrics(self) -> bool:
        vm = self._pick(live=True)
        if vm is None:
            return False
        rec = self.db.get("VM", vm)
        low, high = as_int(rec["memory_dynamic_min"]), as_int(rec["memory_dynamic_max"])
        vcpus = as_int(rec["VCPUs_at_startup"])
        self.db.update(
            "VM_metrics",
            str(rec["metrics"]),
            memory_actual=self.rng.randint(low, high) // 4096 * 4096,
            VCPUs_utilisation={str(i): round(self.rng.random() ** 2, 4) for i in range(vcpus)},
            last_updated=self._now(),
        )
        return True

    def _host_metrics(self) -> bool:
        host = self.rng.choice(self.db.refs("host"))
        ref = str(self.db.field("host", host, "metrics"))
        rec = self.db.get("host_metrics", ref)
        total = as_int(rec["memory_total"])
        free = as_int(rec["memory_free"]) + int(total * self.rng.uniform(-0.01, 0.01))
        free = min(total, max(0, free))
        self.db.update("host_metrics", ref, memory_free=free, last_updated=self._now())
        return True

    def _guest_network(self) -> bool:
        vm = self._pick(live=True)
        metrics = str(self.db.field("VM", vm, "guest_metrics")) if vm else NULL_REF
        if not self.db.exists("VM_guest_metrics", metrics):
            return False
        networks = dict(self.db.get("VM_guest_metrics", metrics)["networks"])  # type: ignore[arg-type]
        devices = sorted({int(k.split("/")[0]) for k in networks})
        roll = self.rng.random()
        if devices and roll < 0.6:  # DHCP gave interface 0 a new lease
            octets = str(networks.get("0/ip", "10.0.0.2")).split(".")
            octets[2:] = [str(self.rng.randint(0, 250)), str(self.rng.randint(2, 251))]
            networks["0/ip"] = networks["0/ipv4/0"] = ".".join(octets)
        elif len(devices) < 4 and roll < 0.85:  # an interface came up
            n = max(devices, default=-1) + 1
            ip = f"192.168.{self.rng.randint(0, 255)}.{self.rng.randint(2, 251)}"
            networks.update(
                {
                    f"{n}/ip": ip,
                    f"{n}/ipv4/0": ip,
                    f"{n}/ipv6/0": guests.ipv6_link_local(self.ids.mac()),
                }
            )
        elif len(devices) > 1:  # and went down again
            last = f"{devices[-1]}/"
            networks = {k: v for k, v in networks.items() if not k.startswith(last)}
        else:
            return False
        self.db.update("VM_guest_metrics", metrics, networks=networks, last_updated=self._now())
        return True

    def _alarm(self) -> bool:
        made = history.random_message(self.db, self.ids, self.rng, self.clock(), self._targets)
        if made is None:
            return False
        ref, record = made
        self.db.add_message(record, ref)
        self.alarms.append(ref)
        while len(self.alarms) > self.max_alarms:
            old = self.alarms.popleft()
            if old in self.db.messages:
                self.db.destroy_message(old)
        return True

    def _tags(self) -> bool:
        vm = self._pick()
        if vm is None:
            return False
        tags = [str(t) for t in self.db.field("VM", vm, "tags")]  # type: ignore[union-attr]
        tag = self.rng.choice(names.TAG_VOCABULARY)
        self.db.update(
            "VM", vm, tags=[t for t in tags if t != tag] if tag in tags else [*tags, tag]
        )
        return True

    def _client_task(self) -> bool:
        """Another client's long operation: started, moved forward, then finished."""
        self.client_tasks = [t for t in self.client_tasks if self.db.exists("task", t)]
        if len(self.client_tasks) < self.max_client_tasks and self.rng.random() < 0.4:
            label = self.rng.choice(CLIENT_TASKS)
            self.client_tasks.append(tasks.create_task(self.pool, label, self.pool.master_ref))
            return True
        if not self.client_tasks:
            return False
        task = self.rng.choice(self.client_tasks)
        progress = self.db.field("task", task, "progress")
        assert isinstance(progress, float)
        progress += self.rng.uniform(0.1, 0.4)
        if progress < 1.0:
            tasks.set_progress(self.pool, task, progress)
            return True
        self.client_tasks.remove(task)
        if self.rng.random() < 0.1:
            tasks.fail(self.pool, task, XapiError("VDI_IO_ERROR", ["Device I/O errors"]))
        else:
            tasks.succeed(self.pool, task, "")
        self.finished_tasks.append(task)
        return True

    def _reap_tasks(self) -> None:
        """Destroy our own finished tasks beyond the newest few, as a tidy client does."""
        while len(self.finished_tasks) > self.kept_tasks:
            task = self.finished_tasks.popleft()
            if self.db.exists("task", task):
                if self.db.field("task", task, "status") in tasks.FINISHED:
                    self.db.destroy("task", task)
                else:
                    self.finished_tasks.append(task)
                    return

    def _lifecycle(self) -> bool:
        """Create a halted VM, or destroy the oldest one we created, directly in the database."""
        self.created = [vm for vm in self.created if self.db.exists("VM", vm)]
        if len(self.created) < self.max_created_vms and self.rng.random() < 0.6:
            if self._site is None:
                self._site = load_site(self.db, self.clock())
            self._site.now = self.clock()
            batch = Batch(self.db.dm)
            vm = guests.add_vm(
                batch, self.ids, self.rng, self._site, power_state="Halted", snapshot_rate=0.0
            )
            disks = list(batch.rows["VDI"])
            batch.insert(self.db)
            adjust_sr_usage(self.db, disks, 1)
            self.created.append(vm)
            self._guests.append(vm)
            return True
        for vm in self.created:
            if self.db.field("VM", vm, "power_state") == "Halted":
                self.created.remove(vm)
                destroy_vm(self.db, vm)
                return True
        return False

    # ---- changes made through the API --------------------------------------------------------

    async def _call(self, method: str, *params: Value) -> Value:
        if self._session is None or self._session not in self.pool.sessions:
            self._session = open_session(
                self.pool, self.pool.master_ref, "root", "xorca-activity", is_pool=True
            )
        return await dispatch.call(
            self.pool, self.pool.master_ref, method, [self._session, *params]
        )

    async def _power(self) -> None:
        vm = self._pick()
        if not self.power_supported or vm is None or self.db.field("VM", vm, "current_operations"):
            self.counts["power:skipped"] += 1
            return
        # like a client's menu: only what the VM advertises right now
        allowed = self.db.field("VM", vm, "allowed_operations")
        assert isinstance(allowed, list)
        state = str(self.db.field("VM", vm, "power_state"))
        choices = [(o, w) for o, w in POWER_OPS[state] if o in allowed]
        if not choices:
            self.counts["power:skipped"] += 1
            return
        op = self.rng.choices([o for o, _ in choices], [w for _, w in choices])[0]
        params: list[Value] = [vm, False, False] if op in _WITH_FLAGS else [vm]
        try:
            task = await self._call(f"Async.VM.{op}", *params)
        except XapiError as e:
            if e.code in _UNSUPPORTED:
                log.info("activity: no VM power handlers (%s), power changes disabled", e.code)
                self.power_supported = False
            self.counts["power:rejected"] += 1
            return
        self.finished_tasks.append(str(task))
        self.counts["power"] += 1

    async def _lifecycle_api(self) -> None:
        """Clone a default template into a new VM, or destroy one we made, through the API."""
        self.created = [vm for vm in self.created if self.db.exists("VM", vm)]
        try:
            if len(self.created) < self.max_created_vms and self.rng.random() < 0.6:
                template = self.rng.choice(self._templates)
                name = f"clone-{self.ids.uuid()[:8]}"
                vm = str(await self._call("VM.clone", template, name))
                await self._call("VM.set_is_a_template", vm, False)
                self.created.append(vm)
                self._guests.append(vm)
            else:
                halted = [
                    v for v in self.created if self.db.field("VM", v, "power_state") == "Halted"
                ]
                if not halted:
                    self.counts["lifecycle:skipped"] += 1
                    return
                await self._call("VM.destroy", halted[0])
                self.created.remove(halted[0])
        except XapiError as e:
            if e.code not in _UNSUPPORTED:
                raise
            log.info("activity: no VM.clone/destroy handlers (%s), creating VMs directly", e.code)
            self.clone_supported = False
            self._apply("lifecycle")
            return
        self.counts["lifecycle"] += 1
