"""``VM.*`` lifecycle handlers: what xapi's ``message_forwarding.ml`` and ``xapi_vm*.ml`` do to
the database, with simulated time in between.

Every operation follows xapi's ``with_vm_operation``: check the rules (`vm_ops`), mark
``current_operations[task] = op`` and recompute ``allowed_operations``, spend the simulated time
(``ctx.work``, a cancellation point), apply the side effects in one go, then unmark. A cancelled
or failed operation therefore leaves the VM exactly as it found it.

Choices where the simulator has no xenopsd or SM behind it (each follows xapi where it can):

- Memory: a host's free memory is ``host_metrics.memory_total - host.memory_overhead`` minus what
  its live and scheduled VMs hold (`vm_ops.resident_memory`, `vm_ops.start_memory`); it is written
  back to ``host_metrics.memory_free`` after every change. A VM is reserved on its target through
  ``scheduled_to_be_resident_on`` while it starts, resumes or migrates, as xapi does.
- SR visibility: an SR is usable from a host if it has an attached PBD there, or no PBDs at all.
- Guest tools: a VM whose ``guest_metrics`` row exists has tools; it goes live with addresses in
  ``networks`` when the VM runs and ``live=false`` when it halts. Other VMs never get one.
- Domids grow per host and are never reused within a simulator run.
- Storage is accounted by ``handlers.storage`` (``charge``, ``footprint``): a copy takes what
  ``VDI.copy`` takes, snapshots and clones are leaves, a suspend image holds the static maximum.
  Copies and provisioning check every SR first and fail with ``SR_FULL [requested, maximum]``.
  VBD and VDI ``allowed_operations`` are recomputed there after every attach or detach.
- ``pool_migrate`` to the VM's own host is a localhost migration, which xenopsd supports: it
  needs memory for a second copy and gives the VM a new domid.
- ``VM.destroy`` keeps the VM's VDIs, suspend image included (xapi does); ``revert`` destroys
  the VM's disks that no other VBD uses and gives it fresh clones of the snapshot's disks.
- ``VM_metrics.state`` stays empty, as in every recorded database; ``memory_actual``,
  ``VCPUs_number``, ``start_time`` and ``current_domain_type`` follow the domain.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from xorca.xapi.datamodel import EPOCH, NULL_REF
from xorca.xapi.errors import XapiError
from xorca.xapi.sim import vm_ops
from xorca.xapi.sim.context import CallContext
from xorca.xapi.sim.db import Database, Record
from xorca.xapi.sim.handlers import storage
from xorca.xapi.sim.registry import api
from xorca.xapi.sim.relations import sets_of
from xorca.xapi.values import Value

#: fractions of SimConfig.operation_seconds
DURATION = {
    "start": 1.0,
    "start_on": 1.0,
    "resume": 1.0,
    "resume_on": 1.0,
    "clean_shutdown": 1.0,
    "hard_shutdown": 0.3,
    "clean_reboot": 1.0,
    "hard_reboot": 0.6,
    "suspend": 1.0,
    "pause": 0.1,
    "unpause": 0.1,
    "pool_migrate": 1.0,
    "clone": 0.3,
    "copy": 1.0,
    "snapshot": 0.3,
    "checkpoint": 0.6,
    "revert": 0.5,
    "destroy": 0.1,
    "provision": 0.3,
}

_domids: weakref.WeakKeyDictionary[Database, dict[str, int]] = weakref.WeakKeyDictionary()


# ---- reading ---------------------------------------------------------------------------------


def _s(rec: Record, key: str) -> str:
    return str(rec[key])


def _i(rec: Record, key: str) -> int:
    value = rec[key]
    return int(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else 0


def _refs(rec: Record, key: str) -> list[str]:
    value = rec[key]
    return [str(v) for v in value] if isinstance(value, list) else []


def _map(rec: Record, key: str) -> dict[str, str]:
    value = rec[key]
    return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _opt(db: Database, cls: str, ref: str) -> Record | None:
    return db.get(cls, ref) if db.exists(cls, ref) else None


def facts_of(db: Database, vm: str) -> vm_ops.VmFacts:
    """The facts `vm_ops` checks, gathered from the VM's row and the rows it points at."""
    rec = db.get("VM", vm)
    vdis = []
    for vbd in _refs(rec, "VBDs"):
        vbd_rec = _opt(db, "VBD", vbd)
        vdi = _opt(db, "VDI", _s(vbd_rec, "VDI")) if vbd_rec else None
        if vdi is not None:
            vdis.append(vdi)
    pools = db.refs("pool")
    clone_suspended = bool(pools) and _map(db.get("pool", pools[0]), "other_config").get(
        "allow_clone_suspended_vm"
    ) in ("true", "1")
    return vm_ops.VmFacts.from_records(
        vm,
        rec,
        metrics=_opt(db, "VM_metrics", _s(rec, "metrics")),
        guest_metrics=_opt(db, "VM_guest_metrics", _s(rec, "guest_metrics")),
        vdis=vdis,
        clone_suspended_vm_enabled=clone_suspended,
        valid=lambda ref: ref in db.class_of,
    )


def update_allowed_operations(db: Database, vm: str) -> None:
    """Recompute ``VM.allowed_operations``: what inventory code calls after creating a VM."""
    db.update("VM", vm, allowed_operations=list(vm_ops.allowed_operations(facts_of(db, vm))))


# ---- marking an operation (with_vm_operation) ------------------------------------------------


@asynccontextmanager
async def vm_operation(
    ctx: CallContext, vm: str, op: str, *, strict: bool = True
) -> AsyncIterator[str]:
    """Check ``op``, mark it in ``current_operations`` under the call's task, unmark at the end.

    The check and the mark happen without an ``await`` in between, so two calls racing for one
    VM see each other exactly as xapi's global lock makes them.
    """
    db = ctx.db
    vm_ops.assert_operation_valid(facts_of(db, vm), op, strict=strict)
    task = ctx.ensure_task()
    db.update(
        "VM", vm, current_operations={**_map(db.get("VM", vm), "current_operations"), task: op}
    )
    update_allowed_operations(db, vm)
    try:
        yield task
    finally:
        if db.exists("VM", vm):
            current = _map(db.get("VM", vm), "current_operations")
            if task in current:
                rest: dict[str, Value] = {t: o for t, o in current.items() if t != task}
                db.update("VM", vm, current_operations=rest)
            update_allowed_operations(db, vm)


async def _work(ctx: CallContext, op: str) -> None:
    await ctx.work(ctx.pool.config.operation_seconds * DURATION.get(op, 1.0))


async def _cancel_conflicting(ctx: CallContext, vm: str, op: str, own: str) -> None:
    """hard_shutdown/hard_reboot first cancel the softer operations in flight and wait for them."""
    db = ctx.db
    victims = [
        t
        for t, o in _map(db.get("VM", vm), "current_operations").items()
        if o in vm_ops.CANCELLED_BY[op] and t != own
    ]
    for task in victims:
        if db.exists("task", task) and db.field("task", task, "status") == "pending":
            db.update("task", task, current_operations={task: "cancel"}, status="cancelling")
    deadline = asyncio.get_running_loop().time() + 10 * ctx.pool.config.operation_seconds + 1
    while any(t in _map(db.get("VM", vm), "current_operations") for t in victims):
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(ctx.pool.config.operation_seconds / 20)


# ---- hosts and memory ------------------------------------------------------------------------


def free_memory(db: Database, host: str) -> int:
    """Bytes still free on ``host``: total minus overheads, live domains and reservations."""
    host_rec = db.get("host", host)
    metrics = _opt(db, "host_metrics", _s(host_rec, "metrics"))
    used = _i(host_rec, "memory_overhead")
    for _, vm in db.records("VM"):
        if vm["resident_on"] == host:
            used += vm_ops.resident_memory(vm, _opt(db, "VM_metrics", _s(vm, "metrics")))
        elif vm["scheduled_to_be_resident_on"] == host:
            used += vm_ops.start_memory(vm)
    return (_i(metrics, "memory_total") if metrics else 0) - used


def refresh_host_memory(db: Database, host: str) -> None:
    """Write ``free_memory`` into ``host_metrics.memory_free`` (removed field, still emitted)."""
    if db.exists("host", host):
        metrics = _s(db.get("host", host), "metrics")
        if db.exists("host_metrics", metrics):
            db.update("host_metrics", metrics, memory_free=max(free_memory(db, host), 0))


def _sr_visible(db: Database, sr: str, host: str) -> bool:
    pbds = [db.get("PBD", p) for p in _refs(db.get("SR", sr), "PBDs") if db.exists("PBD", p)]
    return not pbds or any(p["host"] == host and p["currently_attached"] for p in pbds)


def _required_srs(db: Database, rec: Record) -> list[str]:
    vdis = [_s(db.get("VBD", v), "VDI") for v in _refs(rec, "VBDs") if db.exists("VBD", v)]
    vdis.append(_s(rec, "suspend_VDI"))
    srs = [_s(db.get("VDI", v), "SR") for v in vdis if db.exists("VDI", v)]
    return list(dict.fromkeys(sr for sr in srs if db.exists("SR", sr)))


def host_error(db: Database, vm: str, host: str, needed: int) -> XapiError | None:
    """Why ``vm`` cannot run on ``host`` (``assert_can_boot_here``), or None."""
    host_rec = db.get("host", host)
    if not host_rec["enabled"]:
        return XapiError("HOST_DISABLED", [host])
    metrics = _opt(db, "host_metrics", _s(host_rec, "metrics"))
    if metrics is not None and not metrics["live"]:
        return XapiError("HOST_OFFLINE", [host])
    for sr in _required_srs(db, db.get("VM", vm)):
        if not _sr_visible(db, sr, host):
            return XapiError("VM_REQUIRES_SR", [vm, sr])
    free = free_memory(db, host)
    if needed > free:
        return XapiError("HOST_NOT_ENOUGH_FREE_MEMORY", [needed, max(free, 0)])
    return None


def choose_host(db: Database, vm: str, needed: int) -> str:
    """The affinity host if it can take the VM, else the one with most free memory."""
    affinity = _s(db.get("VM", vm), "affinity")
    hosts = sorted(db.refs("host"), key=lambda h: (h != affinity, -free_memory(db, h)))
    for host in hosts:
        if host_error(db, vm, host, needed) is None:
            return host
    raise XapiError("NO_HOSTS_AVAILABLE", [])


@contextmanager
def _reserved(db: Database, vm: str, host: str) -> Iterator[None]:
    db.update("VM", vm, scheduled_to_be_resident_on=host)
    refresh_host_memory(db, host)
    try:
        yield
    finally:
        if db.exists("VM", vm) and db.field("VM", vm, "scheduled_to_be_resident_on") == host:
            db.update("VM", vm, scheduled_to_be_resident_on=NULL_REF)
        refresh_host_memory(db, host)


# ---- the domain: boot, halt ------------------------------------------------------------------


def _next_domid(db: Database, host: str) -> int:
    counters = _domids.setdefault(db, {})
    live = [_i(v, "domid") for _, v in db.records("VM") if v["resident_on"] == host]
    domid = max([counters.get(host, 0), *live]) + 1
    counters[host] = domid
    return domid


def _metrics_ref(db: Database, vm: str) -> str:
    ref = _s(db.get("VM", vm), "metrics")
    if not db.exists("VM_metrics", ref):
        ref = db.create("VM_metrics")
        db.update("VM", vm, metrics=ref)
    return ref


def _make_consoles(ctx: CallContext, vm: str, host: str) -> None:
    db = ctx.db
    for console in _refs(db.get("VM", vm), "consoles"):
        if db.exists("console", console):
            db.destroy("console", console)
    address = ctx.pool.address_of(host)
    for protocol in vm_ops.console_protocols(vm_ops.domain_kind(db.get("VM", vm))):
        ref = db.create("console", protocol=protocol, VM=vm)
        uuid = _s(db.get("console", ref), "uuid")
        db.update("console", ref, location=vm_ops.console_location(address, uuid))


def _set_attached(db: Database, vm: str, attached: bool) -> None:
    """Devices follow the domain; their (and their VDIs') allowed_operations follow them."""
    rec = db.get("VM", vm)
    kind = vm_ops.domain_kind(rec)
    for vbd in _refs(rec, "VBDs"):
        if db.exists("VBD", vbd):
            vbd_rec = db.get("VBD", vbd)
            device = _s(vbd_rec, "device") or vm_ops.vbd_device(_s(vbd_rec, "userdevice"), kind)
            db.update("VBD", vbd, currently_attached=attached, device=device)
    for vif in _refs(rec, "VIFs"):
        if db.exists("VIF", vif):
            db.update("VIF", vif, currently_attached=attached)
    storage.refresh_vm_disks(db, vm)


def _guest_live(ctx: CallContext, vm: str, live: bool) -> None:
    db = ctx.db
    rec = db.get("VM", vm)
    gm = _s(rec, "guest_metrics")
    if not db.exists("VM_guest_metrics", gm):
        return
    changes: dict[str, Value] = {"live": live, "last_updated": ctx.pool.now()}
    if live and not _map(db.get("VM_guest_metrics", gm), "networks"):
        vifs = [db.get("VIF", v) for v in _refs(rec, "VIFs") if db.exists("VIF", v)]
        pairs = [(_s(v, "device"), _s(v, "MAC")) for v in vifs]
        changes["networks"] = dict(vm_ops.guest_networks(_s(rec, "uuid"), pairs))
    db.update("VM_guest_metrics", gm, **changes)


def boot(ctx: CallContext, vm: str, host: str, *, paused: bool) -> None:
    """A fresh domain for ``vm`` on ``host``: Running (or Paused) with consoles and devices."""
    db = ctx.db
    rec = db.get("VM", vm)
    kind = vm_ops.domain_kind(rec)
    db.update(
        "VM",
        vm,
        power_state="Paused" if paused else "Running",
        resident_on=host,
        scheduled_to_be_resident_on=NULL_REF,
        domid=_next_domid(db, host),
        memory_target=_i(rec, "memory_dynamic_max"),
    )
    now = ctx.pool.now()
    db.update(
        "VM_metrics",
        _metrics_ref(db, vm),
        memory_actual=_i(rec, "memory_dynamic_max"),
        VCPUs_number=_i(rec, "VCPUs_at_startup"),
        start_time=now,
        last_updated=now,
        hvm=kind == "hvm",
        current_domain_type=kind,
    )
    _make_consoles(ctx, vm, host)
    _set_attached(db, vm, True)
    _guest_live(ctx, vm, True)
    refresh_host_memory(db, host)


def halt(ctx: CallContext, vm: str, state: str = "Halted") -> None:
    """The domain is gone: Halted (or Suspended), no host, no consoles, devices detached."""
    db = ctx.db
    rec = db.get("VM", vm)
    host = _s(rec, "resident_on")
    for console in _refs(rec, "consoles"):
        if db.exists("console", console):
            db.destroy("console", console)
    db.update(
        "VM",
        vm,
        power_state=state,
        resident_on=NULL_REF,
        scheduled_to_be_resident_on=NULL_REF,
        domid=-1,
        memory_target=0,
    )
    if db.exists("VM_metrics", _s(rec, "metrics")):
        db.update("VM_metrics", _s(rec, "metrics"), current_domain_type="unspecified")
    _set_attached(db, vm, False)
    _guest_live(ctx, vm, False)
    refresh_host_memory(db, host)


# ---- storage ---------------------------------------------------------------------------------


def new_vdi(db: Database, sr: str, physical: int, **fields: Value) -> str:
    """A VDI the simulated SM made on ``sr``, its space charged as ``VDI.create`` charges it."""
    storage.charge(db, sr, physical, _i(fields, "virtual_size"))
    return storage.new_vdi(db, sr, physical, **fields)


def destroy_vdi(db: Database, vdi: str) -> None:
    if db.exists("VDI", vdi):
        rec = db.get("VDI", vdi)
        if db.exists("SR", _s(rec, "SR")):
            storage.charge(
                db, _s(rec, "SR"), -_i(rec, "physical_utilisation"), -_i(rec, "virtual_size")
            )
        db.destroy("VDI", vdi)


def insert(db: Database, cls: str, fields: dict[str, Value]) -> str:
    """``db.create`` for a field map built elsewhere (``copied``)."""
    return db.create(cls, None, **fields)


def copied(db: Database, cls: str, rec: Record, **overrides: Value) -> dict[str, Value]:
    """The fields of a new row copied from ``rec``: fresh uuid, no operations, empty set sides."""
    out = {k: v for k, v in rec.items() if k != "uuid"}
    for rel in sets_of(db.dm, cls):
        out[rel.one_field] = []
    for key in ("current_operations", "allowed_operations"):
        if key in out:
            out[key] = {} if key == "current_operations" else []
    out.update(overrides)
    return out


def copy_physical(db: Database, vdi: Record, sr: str) -> int:
    """Bytes a full copy of ``vdi`` takes on ``sr`` (as ``VDI.copy``): its whole size on thick
    SRs, the data it holds on thin ones."""
    size = _i(vdi, "virtual_size")
    if storage.is_thick(db, sr):
        return storage.footprint(db, sr, size)
    return max(_i(vdi, "physical_utilisation"), storage.footprint(db, sr, size))


def copy_vdi(ctx: CallContext, vdi: str, *, sr: str | None = None, snapshot: bool = False) -> str:
    """A snapshot or clone leaf on the VDI's own SR, or a full copy onto ``sr`` when given."""
    db = ctx.db
    rec = db.get("VDI", vdi)
    target = sr or _s(rec, "SR")
    physical = copy_physical(db, rec, target) if sr else storage.leaf_footprint(db, target)
    fields = {
        k: v
        for k, v in copied(db, "VDI", rec).items()
        if k in storage.VDI_CREATE_FIELDS or k in ("on_boot", "allow_caching")
    }
    fields.pop("SR")
    if snapshot:
        fields |= {"is_a_snapshot": True, "snapshot_of": vdi, "snapshot_time": ctx.pool.now()}
    return new_vdi(db, target, physical, **fields)


def suspend_sr(ctx: CallContext, vm: str) -> str:
    """VM.suspend_SR, else pool.suspend_image_SR, else the host's (``choose_suspend_sr``)."""
    db = ctx.db
    rec = db.get("VM", vm)
    candidates = [_s(rec, "suspend_SR")]
    candidates += [_s(db.get("pool", p), "suspend_image_SR") for p in db.refs("pool")]
    if db.exists("host", _s(rec, "resident_on")):
        candidates.append(_s(db.get("host", _s(rec, "resident_on")), "suspend_image_sr"))
    for sr in candidates:
        if db.exists("SR", sr):
            return sr
    raise XapiError("VM_NO_SUSPEND_SR", [vm])


def memory_image(ctx: CallContext, vm: str, sr: str, *, snapshot: bool = False) -> str:
    """The suspend image of ``vm``: its static maximum, all of it written."""
    rec = ctx.db.get("VM", vm)
    size = _i(rec, "memory_static_max")
    extra: dict[str, Value] = {"is_a_snapshot": True, "snapshot_time": ctx.pool.now()}
    return new_vdi(
        ctx.db,
        sr,
        storage.footprint(ctx.db, sr, size) if storage.is_thick(ctx.db, sr) else size,
        name_label="Suspend image",
        name_description="Suspend image",
        type="suspend",
        virtual_size=size,
        other_config={"content_id": _s(rec, "uuid")},
        **(extra if snapshot else {}),
    )


def check_space(db: Database, needs: dict[str, int]) -> None:
    for sr, needed in needs.items():
        rec = db.get("SR", sr)
        size, used = _i(rec, "physical_size"), _i(rec, "physical_utilisation")
        if size > 0 and used + needed > size:
            raise XapiError("SR_FULL", [used + needed, size])


# ---- copying VMs: clone, copy, snapshot, checkpoint ------------------------------------------


def copy_vm(
    ctx: CallContext,
    vm: str,
    name: str,
    mode: str,
    *,
    sr: str | None = None,
    ignore: frozenset[str] = frozenset(),
) -> str:
    """The new VM of a clone, copy (onto ``sr``, else each disk's own SR), snapshot or checkpoint.

    As ``xapi_vm_clone.ml``: snapshots are templates pointing back at their VM, keep its MACs and
    a copy of its guest metrics; clones of templates stay templates (``provision`` and
    ``is_a_template=false`` turn them into VMs) but never default ones, and get new MACs.
    """
    db = ctx.db
    src = db.get("VM", vm)
    snap = mode in ("snapshot", "checkpoint")
    now = ctx.pool.now()
    other = _map(src, "other_config")
    if not snap:
        other.pop(vm_ops.DEFAULT_TEMPLATE_KEY, None)
    fields = copied(
        db,
        "VM",
        src,
        name_label=name,
        power_state="Halted",
        resident_on=NULL_REF,
        scheduled_to_be_resident_on=NULL_REF,
        domid=-1,
        memory_target=0,
        is_a_template=snap or bool(src["is_a_template"]),
        is_default_template=False,
        is_a_snapshot=snap,
        snapshot_of=vm if snap else NULL_REF,
        snapshot_time=now if snap else EPOCH,
        snapshot_info={
            "disk-snapshot-type": "crash_consistent",
            vm_ops.SNAPSHOT_INFO_POWER_STATE: _s(src, "power_state"),
        }
        if snap
        else {},
        parent=src["parent"] if snap else NULL_REF,
        metrics=db.create("VM_metrics", install_time=now),
        guest_metrics=NULL_REF,
        suspend_VDI=NULL_REF,
        other_config=dict(other),
        appliance=NULL_REF,
        protection_policy=NULL_REF,
        snapshot_schedule=NULL_REF,
        ha_always_run=False,
        groups=[],
        attached_PCIs=[],
        blobs={},
    )
    new = insert(db, "VM", fields)
    new_uuid = _s(db.get("VM", new), "uuid")
    gm = _s(src, "guest_metrics")
    if snap and db.exists("VM_guest_metrics", gm):
        gm_copy = insert(
            db, "VM_guest_metrics", copied(db, "VM_guest_metrics", db.get("VM_guest_metrics", gm))
        )
        db.update("VM", new, guest_metrics=gm_copy)
    for vbd in _refs(src, "VBDs"):
        if not db.exists("VBD", vbd):
            continue
        rec = db.get("VBD", vbd)
        vdi = _s(rec, "VDI")
        disk = rec["type"] == "Disk" and not rec["empty"] and db.exists("VDI", vdi)
        if disk and vdi in ignore:
            continue
        if disk:
            target = (sr or _s(db.get("VDI", vdi), "SR")) if mode == "copy" else None
            vdi = copy_vdi(ctx, vdi, sr=target, snapshot=snap)
        insert(db, "VBD", copied(db, "VBD", rec, VM=new, VDI=vdi, currently_attached=False))
    for vif in _refs(src, "VIFs"):
        if db.exists("VIF", vif):
            rec = db.get("VIF", vif)
            mac = _s(rec, "MAC") if snap else vm_ops.generate_mac(f"{new_uuid}/{_s(rec, 'device')}")
            insert(db, "VIF", copied(db, "VIF", rec, VM=new, MAC=mac, currently_attached=False))
    image = _s(src, "suspend_VDI")
    if mode == "checkpoint" and src["power_state"] in ("Running", "Paused"):
        image = memory_image(ctx, vm, suspend_sr(ctx, vm), snapshot=True)
    elif src["power_state"] == "Suspended" and db.exists("VDI", image):
        target = (sr or _s(db.get("VDI", image), "SR")) if mode == "copy" else None
        image = copy_vdi(ctx, image, sr=target, snapshot=snap)
    else:
        image = NULL_REF
    if image != NULL_REF:
        db.update("VM", new, suspend_VDI=image, power_state="Suspended")
    update_allowed_operations(db, new)
    storage.refresh_vm_disks(db, new)
    return new


def copy_needs(db: Database, vm: str, sr: str | None) -> dict[str, int]:
    """Bytes a full copy takes per SR: every disk, and the memory image."""
    src = db.get("VM", vm)
    vdis = [_s(db.get("VBD", v), "VDI") for v in _refs(src, "VBDs") if db.exists("VBD", v)]
    disks = [
        db.get("VDI", v)
        for v in vdis
        if db.exists("VDI", v) and db.field("VDI", v, "type") != "iso"
    ]
    if db.exists("VDI", _s(src, "suspend_VDI")):
        disks.append(db.get("VDI", _s(src, "suspend_VDI")))
    needs: dict[str, int] = {}
    for rec in disks:
        target = sr or _s(rec, "SR")
        if db.exists("SR", target):
            needs[target] = needs.get(target, 0) + copy_physical(db, rec, target)
    return needs


def destroy_vm_rows(db: Database, vm: str) -> None:
    """``VM.destroy``: the VM and what belongs to it, but not its VDIs (xapi keeps them)."""
    rec = db.get("VM", vm)
    for child in _refs(rec, "children"):
        if db.exists("VM", child):
            db.update("VM", child, parent=rec["parent"])
    for cls, key in (
        ("VBD", "VBDs"),
        ("VIF", "VIFs"),
        ("console", "consoles"),
        ("VTPM", "VTPMs"),
        ("crashdump", "crash_dumps"),
    ):
        for ref in _refs(rec, key):
            if db.exists(cls, ref):
                db.destroy(cls, ref)
    for cls, key in (("VM_metrics", "metrics"), ("VM_guest_metrics", "guest_metrics")):
        if db.exists(cls, _s(rec, key)):
            db.destroy(cls, _s(rec, key))
    db.destroy("VM", vm)


# ---- power-state handlers --------------------------------------------------------------------


def _host(db: Database, host: str) -> str:
    db.get("host", host)
    return host


async def _boot_on(ctx: CallContext, vm: str, op: str, host: str | None, paused: bool) -> None:
    """start, start_on, resume, resume_on: find or check the host, reserve, wait, boot."""
    db = ctx.db
    async with vm_operation(ctx, vm, op):
        needed = vm_ops.start_memory(db.get("VM", vm))
        if host is None:
            host = choose_host(db, vm, needed)
        else:
            err = host_error(db, vm, _host(db, host), needed)
            if err is not None:
                raise err
        image = _s(db.get("VM", vm), "suspend_VDI")
        if op.startswith("resume") and not db.exists("VDI", image):
            raise XapiError("VM_HAS_NO_SUSPEND_VDI", [vm])
        with _reserved(db, vm, host):
            await _work(ctx, op)
            if op.startswith("resume"):
                db.update("VM", vm, suspend_VDI=NULL_REF)
                destroy_vdi(db, image)
            boot(ctx, vm, host, paused=paused)


@api("VM.start")
async def start(ctx: CallContext, vm: str, start_paused: bool, force: bool) -> Value:
    await _boot_on(ctx, vm, "start", None, start_paused)
    return ""


@api("VM.start_on")
async def start_on(ctx: CallContext, vm: str, host: str, start_paused: bool, force: bool) -> Value:
    await _boot_on(ctx, vm, "start_on", host, start_paused)
    return ""


@api("VM.resume")
async def resume(ctx: CallContext, vm: str, start_paused: bool, force: bool) -> Value:
    await _boot_on(ctx, vm, "resume", None, start_paused)
    return ""


@api("VM.resume_on")
async def resume_on(ctx: CallContext, vm: str, host: str, start_paused: bool, force: bool) -> Value:
    await _boot_on(ctx, vm, "resume_on", host, start_paused)
    return ""


async def _clean_shutdown(ctx: CallContext, vm: str) -> None:
    async with vm_operation(ctx, vm, "clean_shutdown"):
        await _work(ctx, "clean_shutdown")
        halt(ctx, vm)


async def _hard_shutdown(ctx: CallContext, vm: str) -> None:
    db = ctx.db
    async with vm_operation(ctx, vm, "hard_shutdown") as task:
        await _cancel_conflicting(ctx, vm, "hard_shutdown", task)
        await _work(ctx, "hard_shutdown")
        image = _s(db.get("VM", vm), "suspend_VDI")
        if db.field("VM", vm, "power_state") == "Suspended":
            db.update("VM", vm, suspend_VDI=NULL_REF)
            destroy_vdi(db, image)
        halt(ctx, vm)


@api("VM.clean_shutdown")
async def clean_shutdown(ctx: CallContext, vm: str) -> Value:
    await _clean_shutdown(ctx, vm)
    return ""


@api("VM.hard_shutdown")
async def hard_shutdown(ctx: CallContext, vm: str) -> Value:
    await _hard_shutdown(ctx, vm)
    return ""


@api("VM.shutdown")
async def shutdown(ctx: CallContext, vm: str) -> Value:
    """A clean shutdown when the guest can do one, else a hard one (``Xapi_vm.shutdown``)."""
    facts = facts_of(ctx.db, vm)
    vm_ops.assert_operation_valid(facts, "shutdown")
    if facts.power_state == "Running" and vm_ops.operation_error(facts, "clean_shutdown") is None:
        await _clean_shutdown(ctx, vm)
    else:
        await _hard_shutdown(ctx, vm)
    return ""


async def _reboot(ctx: CallContext, vm: str, op: str) -> None:
    db = ctx.db
    async with vm_operation(ctx, vm, op) as task:
        if op == "hard_reboot":
            await _cancel_conflicting(ctx, vm, op, task)
        await _work(ctx, op)
        host = _s(db.get("VM", vm), "resident_on")
        db.update("VM", vm, power_state="Running", domid=_next_domid(db, host))
        now = ctx.pool.now()
        db.update("VM_metrics", _metrics_ref(db, vm), start_time=now, last_updated=now)
        _make_consoles(ctx, vm, host)


@api("VM.clean_reboot")
async def clean_reboot(ctx: CallContext, vm: str) -> Value:
    await _reboot(ctx, vm, "clean_reboot")
    return ""


@api("VM.hard_reboot")
async def hard_reboot(ctx: CallContext, vm: str) -> Value:
    await _reboot(ctx, vm, "hard_reboot")
    return ""


@api("VM.suspend")
async def suspend(ctx: CallContext, vm: str) -> Value:
    async with vm_operation(ctx, vm, "suspend"):
        sr = suspend_sr(ctx, vm)
        await _work(ctx, "suspend")
        image = memory_image(ctx, vm, sr)
        halt(ctx, vm, "Suspended")
        ctx.db.update("VM", vm, suspend_VDI=image)
    return ""


@api("VM.pause", "VM.unpause")
async def pause(ctx: CallContext, vm: str) -> Value:
    op = ctx.method.partition(".")[2]
    async with vm_operation(ctx, vm, op):
        await _work(ctx, op)
        ctx.db.update("VM", vm, power_state="Paused" if op == "pause" else "Running")
    return ""


@api("VM.pool_migrate")
async def pool_migrate(ctx: CallContext, vm: str, host: str, options: dict[str, str]) -> Value:
    """Live migration inside the pool; ``options:force=true`` skips the guest-feature checks."""
    db = ctx.db
    force = options.get("force", "").lower() == "true"
    async with vm_operation(ctx, vm, "pool_migrate", strict=not force):
        rec = db.get("VM", vm)
        needed = vm_ops.resident_memory(rec, _opt(db, "VM_metrics", _s(rec, "metrics")))
        err = host_error(db, vm, _host(db, host), needed)
        if err is not None:
            raise err
        with _reserved(db, vm, host):
            await _work(ctx, "pool_migrate")
            source = _s(db.get("VM", vm), "resident_on")
            db.update(
                "VM",
                vm,
                resident_on=host,
                scheduled_to_be_resident_on=NULL_REF,
                domid=_next_domid(db, host),
            )
            address = ctx.pool.address_of(host)
            for console in _refs(db.get("VM", vm), "consoles"):
                if db.exists("console", console):
                    uuid = _s(db.get("console", console), "uuid")
                    db.update("console", console, location=vm_ops.console_location(address, uuid))
            refresh_host_memory(db, source)
    return ""


# ---- copies ----------------------------------------------------------------------------------


@api("VM.clone")
async def clone(ctx: CallContext, vm: str, new_name: str) -> Value:
    async with vm_operation(ctx, vm, "clone"):
        await _work(ctx, "clone")
        return copy_vm(ctx, vm, new_name, "clone")


@api("VM.copy")
async def copy(ctx: CallContext, vm: str, new_name: str, sr: str) -> Value:
    """A full copy onto ``sr``, or onto each disk's own SR when ``sr`` is not a valid SR ref."""
    db = ctx.db
    async with vm_operation(ctx, vm, "copy"):
        target = sr if db.exists("SR", sr) else None
        check_space(db, copy_needs(db, vm, target))
        await _work(ctx, "copy")
        return copy_vm(ctx, vm, new_name, "copy", sr=target)


@api("VM.snapshot")
async def snapshot(
    ctx: CallContext, vm: str, new_name: str, ignore_vdis: list[str] | None = None
) -> Value:
    async with vm_operation(ctx, vm, "snapshot"):
        await _work(ctx, "snapshot")
        snap = copy_vm(ctx, vm, new_name, "snapshot", ignore=frozenset(ignore_vdis or ()))
        ctx.db.update("VM", vm, parent=snap)
        return snap


@api("VM.checkpoint")
async def checkpoint(ctx: CallContext, vm: str, new_name: str) -> Value:
    async with vm_operation(ctx, vm, "checkpoint"):
        if ctx.db.field("VM", vm, "power_state") != "Suspended":
            suspend_sr(ctx, vm)
        await _work(ctx, "checkpoint")
        snap = copy_vm(ctx, vm, new_name, "checkpoint")
        ctx.db.update("VM", vm, parent=snap)
        return snap


def _vm_from_snapshot(ctx: CallContext, snap: str) -> str:
    """``create_vm_from_snapshot``: a revert whose VM is gone recreates it, without disks."""
    db = ctx.db
    rec = db.get("VM", snap)
    other = _map(rec, "other_config")
    vm = insert(
        db,
        "VM",
        copied(
            db,
            "VM",
            rec,
            name_label=_s(rec, "name_label"),
            is_a_snapshot=False,
            is_a_template=False,
            snapshot_of=NULL_REF,
            snapshot_time=EPOCH,
            snapshot_info={},
            power_state="Halted",
            suspend_VDI=NULL_REF,
            guest_metrics=NULL_REF,
            metrics=db.create("VM_metrics"),
            other_config=dict(other),
        ),
    )
    db.update("VM", snap, snapshot_of=vm)
    update_allowed_operations(db, vm)
    return vm


_RESTORED = (
    "memory_static_min",
    "memory_static_max",
    "memory_dynamic_min",
    "memory_dynamic_max",
    "memory_overhead",
    "VCPUs_max",
    "VCPUs_at_startup",
    "VCPUs_params",
    "platform",
    "HVM_boot_policy",
    "HVM_boot_params",
    "PV_bootloader",
    "PV_kernel",
    "PV_ramdisk",
    "PV_args",
    "PV_bootloader_args",
    "domain_type",
    "actions_after_shutdown",
    "actions_after_reboot",
    "actions_after_crash",
)


@api("VM.revert")
async def revert(ctx: CallContext, snapshot: str) -> Value:
    """Put the snapshot's VM back as it was: settings, fresh disks, power state (Halted, or
    Suspended for a checkpoint), after hard-shutting it down if it ran."""
    db = ctx.db
    vm = _s(db.get("VM", snapshot), "snapshot_of")
    async with vm_operation(ctx, snapshot, "revert"):
        if not db.exists("VM", vm):
            vm = _vm_from_snapshot(ctx, snapshot)
        async with vm_operation(ctx, vm, "reverting"):
            await _work(ctx, "revert")
            rec = db.get("VM", vm)
            if rec["power_state"] in ("Running", "Paused"):
                halt(ctx, vm)
            old_image = _s(rec, "suspend_VDI")
            db.update("VM", vm, suspend_VDI=NULL_REF, power_state="Halted")
            destroy_vdi(db, old_image)
            for vbd in _refs(rec, "VBDs"):
                vdi = _s(db.get("VBD", vbd), "VDI") if db.exists("VBD", vbd) else NULL_REF
                disk = db.exists("VBD", vbd) and db.field("VBD", vbd, "type") == "Disk"
                if db.exists("VBD", vbd):
                    db.destroy("VBD", vbd)
                if disk and db.exists("VDI", vdi) and not _refs(db.get("VDI", vdi), "VBDs"):
                    destroy_vdi(db, vdi)
            for vif in _refs(rec, "VIFs"):
                if db.exists("VIF", vif):
                    db.destroy("VIF", vif)
            _restore_from(ctx, snapshot, vm)
    return ""


def _restore_from(ctx: CallContext, snapshot: str, vm: str) -> None:
    db = ctx.db
    snap = db.get("VM", snapshot)
    for vbd in _refs(snap, "VBDs"):
        rec = db.get("VBD", vbd)
        vdi = _s(rec, "VDI")
        if rec["type"] == "Disk" and db.exists("VDI", vdi):
            vdi = copy_vdi(ctx, vdi)
        insert(db, "VBD", copied(db, "VBD", rec, VM=vm, VDI=vdi, currently_attached=False))
    for vif in _refs(snap, "VIFs"):
        insert(db, "VIF", copied(db, "VIF", db.get("VIF", vif), VM=vm, currently_attached=False))
    changes: dict[str, Value] = {k: snap[k] for k in _RESTORED}
    image = _s(snap, "suspend_VDI")
    if db.exists("VDI", image):
        changes |= {"suspend_VDI": copy_vdi(ctx, image), "power_state": "Suspended"}
    db.update("VM", vm, parent=snapshot, **changes)
    storage.refresh_vm_disks(db, vm)


# ---- the rest of the lifecycle ---------------------------------------------------------------


@api("VM.destroy")
async def destroy(ctx: CallContext, self: str) -> Value:
    async with vm_operation(ctx, self, "destroy"):
        await _work(ctx, "destroy")
        destroy_vm_rows(ctx.db, self)
    return ""


@api("VM.provision")
async def provision(ctx: CallContext, vm: str) -> Value:
    """Create the disks a template's ``other_config:disks`` describes, on the SR it names or the
    pool's default SR, then drop the key so a second provision adds nothing."""
    db = ctx.db
    async with vm_operation(ctx, vm, "provision"):
        rec = db.get("VM", vm)
        other = _map(rec, "other_config")
        disks = vm_ops.provision_disks(other.get("disks", ""))
        default = _s(db.get("pool", db.refs("pool")[0]), "default_SR") if db.refs("pool") else ""
        plan: list[tuple[dict[str, str], str]] = []
        for disk in disks:
            sr = db.by_uuid["SR"].get(disk.get("sr", ""), default)
            if not db.exists("SR", sr):
                raise XapiError("DEFAULT_SR_NOT_FOUND", [sr])
            plan.append((disk, sr))
        needs: dict[str, int] = {}
        for disk, sr in plan:
            needs[sr] = needs.get(sr, 0) + storage.footprint(db, sr, int(disk["size"]))
        check_space(db, needs)
        await _work(ctx, "provision")
        for disk, sr in plan:
            vdi = new_vdi(
                db,
                sr,
                storage.footprint(db, sr, int(disk["size"])),
                name_label=f"{_s(rec, 'name_label')} {disk['device']}",
                virtual_size=int(disk["size"]),
                type=disk.get("type", "system")
                if disk.get("type") in ("system", "user")
                else "system",
            )
            db.create(
                "VBD",
                VM=vm,
                VDI=vdi,
                userdevice=disk["device"],
                bootable=disk.get("bootable") == "true",
                mode="RW",
                type="Disk",
                empty=False,
            )
        other.pop("disks", None)
        db.update("VM", vm, other_config=dict(other))
        storage.refresh_vm_disks(db, vm)
    return ""


@api("VM.power_state_reset")
async def power_state_reset(ctx: CallContext, vm: str) -> Value:
    """Force the record to Halted (an escape hatch for hosts that died); never on dom0."""
    db = ctx.db
    rec = db.get("VM", vm)
    if rec["is_control_domain"]:
        raise XapiError("CANNOT_RESET_CONTROL_DOMAIN", [vm])
    db.update("VM", vm, current_operations={}, suspend_VDI=NULL_REF)
    halt(ctx, vm)
    update_allowed_operations(db, vm)
    return ""


@api("VM.assert_operation_valid")
async def assert_operation_valid(ctx: CallContext, self: str, op: str) -> Value:
    vm_ops.assert_operation_valid(facts_of(ctx.db, self), op)
    return ""


@api("VM.update_allowed_operations")
async def update_allowed(ctx: CallContext, self: str) -> Value:
    update_allowed_operations(ctx.db, self)
    return ""


def _used(db: Database, vm: str, cls: str, key: str, field: str) -> list[str]:
    refs = _refs(db.get("VM", vm), key)
    return [_s(db.get(cls, r), field) for r in refs if db.exists(cls, r)]


@api("VM.get_allowed_VBD_devices")
async def get_allowed_vbd_devices(ctx: CallContext, vm: str) -> Value:
    facts = facts_of(ctx.db, vm)
    kind = vm_ops.domain_kind(ctx.db.get("VM", vm))
    used = _used(ctx.db, vm, "VBD", "VBDs", "userdevice")
    return list(vm_ops.allowed_vbd_devices(kind, facts.has_pv_drivers, used))


@api("VM.get_allowed_VIF_devices")
async def get_allowed_vif_devices(ctx: CallContext, vm: str) -> Value:
    return list(vm_ops.allowed_vif_devices(_used(ctx.db, vm, "VIF", "VIFs", "device")))


# ---- memory and VCPUs ------------------------------------------------------------------------

_MEMORY_FIELDS = (
    "memory_static_min",
    "memory_dynamic_min",
    "memory_dynamic_max",
    "memory_static_max",
)


async def _set_memory(ctx: CallContext, vm: str, op: str, **values: int) -> None:
    """Change memory limits under ``op``: checked order, and on a live VM a new target that the
    host must have room for (``reserve_memory_for_dynamic_change``)."""
    db = ctx.db
    async with vm_operation(ctx, vm, op):
        rec = db.get("VM", vm)
        limits = {k: values.get(k, _i(rec, k)) for k in _MEMORY_FIELDS}
        if not vm_ops.memory_order_ok(*limits.values()):
            raise XapiError("MEMORY_CONSTRAINT_VIOLATION_ORDER", [])
        host = _s(rec, "resident_on")
        if rec["power_state"] in ("Running", "Paused") and db.exists("host", host):
            metrics = _metrics_ref(db, vm)
            grow = limits["memory_dynamic_max"] - _i(db.get("VM_metrics", metrics), "memory_actual")
            free = free_memory(db, host)
            if grow > free:
                raise XapiError("HOST_NOT_ENOUGH_FREE_MEMORY", [grow, max(free, 0)])
            db.update("VM_metrics", metrics, memory_actual=limits["memory_dynamic_max"])
            limits["memory_target"] = limits["memory_dynamic_max"]
        db.update("VM", vm, **{k: v for k, v in limits.items() if v != rec[k]})
        refresh_host_memory(db, host)


@api("VM.set_memory_dynamic_range")
async def set_memory_dynamic_range(ctx: CallContext, self: str, min: int, max: int) -> Value:
    await _set_memory(
        ctx, self, "changing_dynamic_range", memory_dynamic_min=min, memory_dynamic_max=max
    )
    return ""


@api("VM.set_memory_dynamic_max", "VM.set_memory_dynamic_min")
async def set_memory_dynamic_one(ctx: CallContext, self: str, value: int) -> Value:
    key = ctx.method.partition(".set_")[2]
    await _set_memory(ctx, self, "changing_dynamic_range", **{key: value})
    return ""


@api("VM.set_memory_static_range")
async def set_memory_static_range(ctx: CallContext, self: str, min: int, max: int) -> Value:
    await _set_memory(
        ctx, self, "changing_static_range", memory_static_min=min, memory_static_max=max
    )
    return ""


@api("VM.set_memory_static_max", "VM.set_memory_static_min")
async def set_memory_static_one(ctx: CallContext, self: str, value: int) -> Value:
    key = ctx.method.partition(".set_")[2]
    await _set_memory(ctx, self, "changing_static_range", **{key: value})
    return ""


@api("VM.set_memory_limits")
async def set_memory_limits(
    ctx: CallContext,
    self: str,
    static_min: int,
    static_max: int,
    dynamic_min: int,
    dynamic_max: int,
) -> Value:
    await _set_memory(
        ctx,
        self,
        "changing_memory_limits",
        memory_static_min=static_min,
        memory_static_max=static_max,
        memory_dynamic_min=dynamic_min,
        memory_dynamic_max=dynamic_max,
    )
    return ""


@api("VM.set_memory")
async def set_memory(ctx: CallContext, self: str, value: int) -> Value:
    """static_max, dynamic_min and dynamic_max all become ``value``; static_min stays."""
    await _set_memory(
        ctx,
        self,
        "changing_memory_limits",
        memory_static_max=value,
        memory_dynamic_min=value,
        memory_dynamic_max=value,
    )
    return ""


def _vcpus_invalid(field: str, value: int) -> XapiError:
    return XapiError(
        "VALUE_NOT_SUPPORTED",
        [field, value, "VCPU values must satisfy: 0 < VCPUs_at_startup <= VCPUs_max"],
    )


@api("VM.set_VCPUs_max")
async def set_vcpus_max(ctx: CallContext, self: str, value: int) -> Value:
    async with vm_operation(ctx, self, "changing_VCPUs"):
        if value < max(1, _i(ctx.db.get("VM", self), "VCPUs_at_startup")):
            raise _vcpus_invalid("VCPUs_max", value)
        ctx.db.update("VM", self, VCPUs_max=value)
    return ""


@api("VM.set_VCPUs_at_startup")
async def set_vcpus_at_startup(ctx: CallContext, self: str, value: int) -> Value:
    if not 0 < value <= _i(ctx.db.get("VM", self), "VCPUs_max"):
        raise _vcpus_invalid("VCPUs_at_startup", value)
    ctx.db.update("VM", self, VCPUs_at_startup=value)
    update_allowed_operations(ctx.db, self)
    return ""


@api("VM.set_VCPUs_number_live")
async def set_vcpus_number_live(ctx: CallContext, self: str, nvcpu: int) -> Value:
    db = ctx.db
    async with vm_operation(ctx, self, "changing_VCPUs_live"):
        if not 0 < nvcpu <= _i(db.get("VM", self), "VCPUs_max"):
            raise _vcpus_invalid("VCPUs_number", nvcpu)
        db.update("VM_metrics", _metrics_ref(db, self), VCPUs_number=nvcpu)
        db.update("VM", self, VCPUs_at_startup=nvcpu)
    return ""
