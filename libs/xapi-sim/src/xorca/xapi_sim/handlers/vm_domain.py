"""A VM's domain coming and going: domids, consoles, attached devices, live guest metrics."""

from __future__ import annotations

import weakref

from xorca.xapi.datamodel import NULL_REF
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers.vbd import refresh_vm_disks
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.state import host_index
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.state.rows import integer, ref_list, str_map, text
from xorca.xapi_sim.vm import shapes
from xorca.xapi_sim.vm.placement import refresh_host_memory

_domids: weakref.WeakKeyDictionary[Database, dict[str, int]] = weakref.WeakKeyDictionary()


def next_domid(db: Database, host: str) -> int:
    """Above every domid ``host`` gave out and every one seen there: never reused in a run."""
    counters = _domids.setdefault(db, {})
    domid = max(counters.get(host, 0), host_index.highest_domid(db, host)) + 1
    counters[host] = domid
    return domid


def metrics_ref(db: Database, vm: str) -> str:
    ref = text(db.get("VM", vm), "metrics")
    if not db.exists("VM_metrics", ref):
        ref = db.create("VM_metrics")
        db.update("VM", vm, metrics=ref)
    return ref


def make_consoles(ctx: CallContext, vm: str, host: str) -> None:
    db = ctx.db
    for console in ref_list(db.get("VM", vm), "consoles"):
        if db.exists("console", console):
            db.destroy("console", console)
    address = ctx.pool.address_of(host)
    for protocol in shapes.console_protocols(shapes.domain_kind(db.get("VM", vm))):
        ref = db.create("console", protocol=protocol, VM=vm)
        uuid = text(db.get("console", ref), "uuid")
        db.update("console", ref, location=shapes.console_location(address, uuid))


def _set_attached(db: Database, vm: str, attached: bool) -> None:
    """Devices follow the domain; their (and their VDIs') allowed_operations follow them."""
    rec = db.get("VM", vm)
    kind = shapes.domain_kind(rec)
    for vbd in ref_list(rec, "VBDs"):
        if db.exists("VBD", vbd):
            vbd_rec = db.get("VBD", vbd)
            device = text(vbd_rec, "device") or shapes.vbd_device(text(vbd_rec, "userdevice"), kind)
            db.update("VBD", vbd, currently_attached=attached, device=device)
    for vif in ref_list(rec, "VIFs"):
        if db.exists("VIF", vif):
            db.update("VIF", vif, currently_attached=attached)
    refresh_vm_disks(db, vm)


def _guest_live(ctx: CallContext, vm: str, live: bool) -> None:
    db = ctx.db
    rec = db.get("VM", vm)
    gm = text(rec, "guest_metrics")
    if not db.exists("VM_guest_metrics", gm):
        return
    changes: dict[str, Value] = {"live": live, "last_updated": ctx.pool.now()}
    if live and not str_map(db.get("VM_guest_metrics", gm), "networks"):
        vifs = [db.get("VIF", v) for v in ref_list(rec, "VIFs") if db.exists("VIF", v)]
        pairs = [(text(v, "device"), text(v, "MAC")) for v in vifs]
        changes["networks"] = dict(shapes.guest_networks(text(rec, "uuid"), pairs))
    db.update("VM_guest_metrics", gm, **changes)


def boot(ctx: CallContext, vm: str, host: str, *, paused: bool) -> None:
    """A fresh domain for ``vm`` on ``host``: Running (or Paused) with consoles and devices."""
    db = ctx.db
    rec = db.get("VM", vm)
    kind = shapes.domain_kind(rec)
    db.update(
        "VM",
        vm,
        power_state="Paused" if paused else "Running",
        resident_on=host,
        scheduled_to_be_resident_on=NULL_REF,
        domid=next_domid(db, host),
        memory_target=integer(rec, "memory_dynamic_max"),
    )
    now = ctx.pool.now()
    db.update(
        "VM_metrics",
        metrics_ref(db, vm),
        memory_actual=integer(rec, "memory_dynamic_max"),
        VCPUs_number=integer(rec, "VCPUs_at_startup"),
        start_time=now,
        last_updated=now,
        hvm=kind == "hvm",
        current_domain_type=kind,
    )
    make_consoles(ctx, vm, host)
    _set_attached(db, vm, True)
    _guest_live(ctx, vm, True)
    refresh_host_memory(db, host)


def halt(ctx: CallContext, vm: str, state: str = "Halted") -> None:
    """The domain is gone: Halted (or Suspended), no host, no consoles, devices detached."""
    db = ctx.db
    rec = db.get("VM", vm)
    host = text(rec, "resident_on")
    for console in ref_list(rec, "consoles"):
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
    if db.exists("VM_metrics", text(rec, "metrics")):
        db.update("VM_metrics", text(rec, "metrics"), current_domain_type="unspecified")
    _set_attached(db, vm, False)
    _guest_live(ctx, vm, False)
    refresh_host_memory(db, host)
