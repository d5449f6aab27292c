"""VMs made from VMs: ``VM.clone``, ``copy``, ``snapshot``, ``checkpoint``, ``revert`` and
``provision``, and the rows ``VM.destroy`` removes.

``snapshot``, ``checkpoint`` and ``revert`` post xapi's VM_SNAPSHOTTED, VM_CHECKPOINTED and
VM_SNAPSHOT_REVERTED once they succeed (`vm.messages`); clone, copy and provision post nothing.
"""

from __future__ import annotations

from xorca.xapi.datamodel import EPOCH, NULL_REF
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers import storage
from xorca.xapi_sim.handlers.vbd import refresh_vm_disks
from xorca.xapi_sim.handlers.vm_disks import (
    check_space,
    copy_needs,
    copy_vdi,
    destroy_vdi,
    memory_image,
    new_vdi,
    suspend_sr,
)
from xorca.xapi_sim.handlers.vm_domain import halt
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.state.rows import copied, insert, ref_list, str_map, text
from xorca.xapi_sim.vm import lifecycle, messages, shapes
from xorca.xapi_sim.vm.operation import update_allowed_operations, vm_operation, work

# ---- the rows of a VM ------------------------------------------------------------------------


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
    other = str_map(src, "other_config")
    if not snap:
        other.pop(lifecycle.DEFAULT_TEMPLATE_KEY, None)
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
            lifecycle.SNAPSHOT_INFO_POWER_STATE: text(src, "power_state"),
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
    new_uuid = text(db.get("VM", new), "uuid")
    gm = text(src, "guest_metrics")
    if snap and db.exists("VM_guest_metrics", gm):
        gm_copy = insert(
            db, "VM_guest_metrics", copied(db, "VM_guest_metrics", db.get("VM_guest_metrics", gm))
        )
        db.update("VM", new, guest_metrics=gm_copy)
    for vbd in ref_list(src, "VBDs"):
        if not db.exists("VBD", vbd):
            continue
        rec = db.get("VBD", vbd)
        vdi = text(rec, "VDI")
        disk = rec["type"] == "Disk" and not rec["empty"] and db.exists("VDI", vdi)
        if disk and vdi in ignore:
            continue
        if disk:
            target = (sr or text(db.get("VDI", vdi), "SR")) if mode == "copy" else None
            vdi = copy_vdi(ctx, vdi, sr=target, snapshot=snap)
        insert(db, "VBD", copied(db, "VBD", rec, VM=new, VDI=vdi, currently_attached=False))
    for vif in ref_list(src, "VIFs"):
        if db.exists("VIF", vif):
            rec = db.get("VIF", vif)
            mac = (
                text(rec, "MAC")
                if snap
                else shapes.generate_mac(f"{new_uuid}/{text(rec, 'device')}")
            )
            insert(db, "VIF", copied(db, "VIF", rec, VM=new, MAC=mac, currently_attached=False))
    image = text(src, "suspend_VDI")
    if mode == "checkpoint" and src["power_state"] in ("Running", "Paused"):
        image = memory_image(ctx, vm, suspend_sr(ctx, vm), snapshot=True)
    elif src["power_state"] == "Suspended" and db.exists("VDI", image):
        target = (sr or text(db.get("VDI", image), "SR")) if mode == "copy" else None
        image = copy_vdi(ctx, image, sr=target, snapshot=snap)
    else:
        image = NULL_REF
    if image != NULL_REF:
        db.update("VM", new, suspend_VDI=image, power_state="Suspended")
    update_allowed_operations(db, new)
    refresh_vm_disks(db, new)
    return new


def destroy_vm_rows(db: Database, vm: str) -> None:
    """``VM.destroy``: the VM and what belongs to it, but not its VDIs (xapi keeps them)."""
    rec = db.get("VM", vm)
    for child in ref_list(rec, "children"):
        if db.exists("VM", child):
            db.update("VM", child, parent=rec["parent"])
    for cls, key in (
        ("VBD", "VBDs"),
        ("VIF", "VIFs"),
        ("console", "consoles"),
        ("VTPM", "VTPMs"),
        ("crashdump", "crash_dumps"),
    ):
        for ref in ref_list(rec, key):
            if db.exists(cls, ref):
                db.destroy(cls, ref)
    for cls, key in (("VM_metrics", "metrics"), ("VM_guest_metrics", "guest_metrics")):
        if db.exists(cls, text(rec, key)):
            db.destroy(cls, text(rec, key))
    db.destroy("VM", vm)


def vm_from_snapshot(ctx: CallContext, snap: str) -> str:
    """``create_vm_from_snapshot``: a revert whose VM is gone recreates it, without disks."""
    db = ctx.db
    rec = db.get("VM", snap)
    other = str_map(rec, "other_config")
    vm = insert(
        db,
        "VM",
        copied(
            db,
            "VM",
            rec,
            name_label=text(rec, "name_label"),
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


def restore_from(ctx: CallContext, snapshot: str, vm: str) -> None:
    db = ctx.db
    snap = db.get("VM", snapshot)
    for vbd in ref_list(snap, "VBDs"):
        rec = db.get("VBD", vbd)
        vdi = text(rec, "VDI")
        if rec["type"] == "Disk" and db.exists("VDI", vdi):
            vdi = copy_vdi(ctx, vdi)
        insert(db, "VBD", copied(db, "VBD", rec, VM=vm, VDI=vdi, currently_attached=False))
    for vif in ref_list(snap, "VIFs"):
        insert(db, "VIF", copied(db, "VIF", db.get("VIF", vif), VM=vm, currently_attached=False))
    changes: dict[str, Value] = {k: snap[k] for k in _RESTORED}
    image = text(snap, "suspend_VDI")
    if db.exists("VDI", image):
        changes |= {"suspend_VDI": copy_vdi(ctx, image), "power_state": "Suspended"}
    db.update("VM", vm, parent=snapshot, **changes)
    refresh_vm_disks(db, vm)


# ---- the calls -------------------------------------------------------------------------------


@api("VM.clone")
async def clone(ctx: CallContext, vm: str, new_name: str) -> Value:
    async with vm_operation(ctx, vm, "clone"):
        await work(ctx, "clone")
        return copy_vm(ctx, vm, new_name, "clone")


@api("VM.copy")
async def copy(ctx: CallContext, vm: str, new_name: str, sr: str) -> Value:
    """A full copy onto ``sr``, or onto each disk's own SR when ``sr`` is not a valid SR ref."""
    db = ctx.db
    async with vm_operation(ctx, vm, "copy"):
        target = sr if db.exists("SR", sr) else None
        check_space(db, copy_needs(db, vm, target))
        await work(ctx, "copy")
        return copy_vm(ctx, vm, new_name, "copy", sr=target)


@api("VM.snapshot")
async def snapshot(
    ctx: CallContext, vm: str, new_name: str, ignore_vdis: list[str] | None = None
) -> Value:
    async with vm_operation(ctx, vm, "snapshot"):
        await work(ctx, "snapshot")
        snap = copy_vm(ctx, vm, new_name, "snapshot", ignore=frozenset(ignore_vdis or ()))
        ctx.db.update("VM", vm, parent=snap)
    messages.announce(ctx.pool, "snapshot", vm, snapshot_name=new_name)
    return snap


@api("VM.checkpoint")
async def checkpoint(ctx: CallContext, vm: str, new_name: str) -> Value:
    async with vm_operation(ctx, vm, "checkpoint"):
        if ctx.db.field("VM", vm, "power_state") != "Suspended":
            suspend_sr(ctx, vm)
        await work(ctx, "checkpoint")
        snap = copy_vm(ctx, vm, new_name, "checkpoint")
        ctx.db.update("VM", vm, parent=snap)
    messages.announce(ctx.pool, "checkpoint", vm, snapshot_name=new_name)
    return snap


@api("VM.revert")
async def revert(ctx: CallContext, snapshot: str) -> Value:
    """Put the snapshot's VM back as it was: settings, fresh disks, power state (Halted, or
    Suspended for a checkpoint), after hard-shutting it down if it was not halted.

    As message_forwarding.ml: the VM comes first — ``snapshot_of``, or a VM recreated from the
    snapshot when that ref is dangling — before any lifecycle check, and a VM that is not a
    snapshot has no snapshot metadata to recreate one from, so it fails there with
    ``VM_REVERT_FAILED [vm, snapshot_of]`` (``create_vm_from_snapshot``): the lifecycle's
    ``REVERT_ONLY_ALLOWED_ON_SNAPSHOT`` is only ever what ``VM.assert_operation_valid`` says.
    A VM that is not halted is first shut down as xapi's own ``VM.hard_shutdown`` call does it,
    VM_SHUTDOWN message included; the revert is not cancellable (``set_not_cancellable``).
    """
    db = ctx.db
    vm = text(db.get("VM", snapshot), "snapshot_of")
    if not db.exists("VM", vm):
        if not db.field("VM", snapshot, "is_a_snapshot"):
            raise XapiError("VM_REVERT_FAILED", [snapshot, vm])
        vm = vm_from_snapshot(ctx, snapshot)
    async with vm_operation(ctx, snapshot, "revert"), vm_operation(ctx, vm, "reverting"):
        await work(ctx, "revert", cancellable=False)
        rec = db.get("VM", vm)
        if rec["power_state"] in ("Running", "Paused"):
            halt(ctx, vm)
        old_image = text(rec, "suspend_VDI")
        db.update("VM", vm, suspend_VDI=NULL_REF, power_state="Halted")
        destroy_vdi(db, old_image)
        if rec["power_state"] != "Halted":
            messages.announce(ctx.pool, "hard_shutdown", vm)
        for vbd in ref_list(rec, "VBDs"):
            vdi = text(db.get("VBD", vbd), "VDI") if db.exists("VBD", vbd) else NULL_REF
            disk = db.exists("VBD", vbd) and db.field("VBD", vbd, "type") == "Disk"
            if db.exists("VBD", vbd):
                db.destroy("VBD", vbd)
            if disk and db.exists("VDI", vdi) and not ref_list(db.get("VDI", vdi), "VBDs"):
                destroy_vdi(db, vdi)
        for vif in ref_list(rec, "VIFs"):
            if db.exists("VIF", vif):
                db.destroy("VIF", vif)
        restore_from(ctx, snapshot, vm)
    messages.announce(ctx.pool, "revert", vm, snapshot=snapshot)
    return ""


@api("VM.provision")
async def provision(ctx: CallContext, vm: str) -> Value:
    """Create the disks a template's ``other_config:disks`` describes, on the SR it names or the
    pool's default SR, then drop the key so a second provision adds nothing."""
    db = ctx.db
    async with vm_operation(ctx, vm, "provision"):
        rec = db.get("VM", vm)
        other = str_map(rec, "other_config")
        disks = shapes.provision_disks(other.get("disks", ""))
        default = text(db.get("pool", db.refs("pool")[0]), "default_SR") if db.refs("pool") else ""
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
        await work(ctx, "provision")
        for disk, sr in plan:
            vdi = new_vdi(
                db,
                sr,
                storage.footprint(db, sr, int(disk["size"])),
                name_label=f"{text(rec, 'name_label')} {disk['device']}",
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
        refresh_vm_disks(db, vm)
    return ""
