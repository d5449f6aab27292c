"""``VBD.*``: xapi's ``xapi_vbd.ml``/``xapi_vbd_helpers.ml``.

One table of operation -> error gives both what a call accepts and ``allowed_operations``
(`refresh_vm_disks` recomputes a VM's after a power change). As in xapi, ``VBD.create`` checks no
power state and leaves a running VM's new VBD detached until ``VBD.plug``, and destroying an
attached VBD is ``OPERATION_NOT_ALLOWED``. Deviations: ``VDI_IN_USE`` carries the declared
``[vdi, operation]`` (xapi sends ``[vdi]`` from VBD checks), and the PV-driver check for
hot-plugging into HVM guests is left out.
"""

from __future__ import annotations

from collections.abc import Callable

from xorca.xapi.datamodel import NULL_REF, enum_values
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers.pool import as_map, as_refs
from xorca.xapi_sim.handlers.storage import refresh_vdi
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state.db import Database, Record
from xorca.xapi_sim.vm import operation
from xorca.xapi_sim.vm.shapes import allowed_vbd_devices, vbd_device

#: VDI types a VBD may point at (xapi_vbd.ml ``create``)
ATTACHABLE_VDI_TYPES = frozenset(
    {"system", "user", "ephemeral", "suspend", "crashdump", "metadata", "rrd", "pvs_cache"}
)

Forbid = Callable[..., None]


# ---- the rules -----------------------------------------------------------------------------------


def _power(db: Database, vm: str) -> str:
    return str(db.field("VM", vm, "power_state"))


def _kind(db: Database, vm: str) -> str:
    """``hvm`` or ``pv`` (the distinction device naming and hot-plug rules care about)."""
    rec = db.get("VM", vm)
    kind = str(rec["domain_type"])
    hvm = kind == "hvm" or (kind == "unspecified" and bool(rec["HVM_boot_policy"]))
    return "hvm" if hvm else "pv"


def vbd_errors(db: Database, vbd: str, *, sharing: bool = True) -> dict[str, XapiError | None]:
    """Each VBD operation mapped to the error that forbids it now (xapi ``valid_operations``);
    the VDI sharing checks only run when ``sharing`` (xapi skips them for allowed_operations)."""
    rec = db.get("VBD", vbd)
    vm = str(rec["VM"])
    table: dict[str, XapiError | None] = dict.fromkeys(enum_values("vbd_operations"))

    def forbid(code: str, params: list[Value], *ops: str) -> None:
        for op in ops:
            if table.get(op, False) is None:
                table[op] = XapiError(code, params)

    for task, op in as_map(rec["current_operations"]).items():
        forbid(
            "OTHER_OPERATION_IN_PROGRESS",
            ["VBD", vbd, op, task],
            *table.keys() - {"pause", "unpause"},
        )
    if not rec["unpluggable"]:
        forbid("VBD_NOT_UNPLUGGABLE", [vbd], "unplug", "unplug_force")
    if rec["type"] != "CD":
        forbid("VBD_NOT_REMOVABLE_MEDIA", [vbd], "insert", "eject")
    if rec["empty"]:
        forbid("VBD_IS_EMPTY", [vbd], "eject")
    else:
        forbid("VBD_NOT_EMPTY", [vbd], "insert")
    power = _power(db, vm)
    if power == "Running":
        if rec["currently_attached"]:
            forbid("DEVICE_ALREADY_ATTACHED", [vbd], "plug")
        else:
            forbid("DEVICE_ALREADY_DETACHED", [vbd], "unplug", "unplug_force")
    else:
        bad = ("plug", "unplug", "unplug_force") + (
            () if power == "Paused" else ("pause", "unpause")
        )
        forbid("VM_BAD_POWER_STATE", [vm, "running", power.lower()], *bad)
    busy = operation.hotplug_refusal(db, vm)
    if busy is not None:
        forbid("OPERATION_NOT_ALLOWED", [busy], "plug", "unplug")
    if power == "Running" and rec["type"] == "CD" and _kind(db, vm) == "hvm":
        reason = "HVM CDROMs cannot be hotplugged/unplugged, only inserted or ejected"
        forbid("OPERATION_NOT_ALLOWED", [reason], "plug", "unplug", "unplug_force")
    if rec["type"] == "CD" and power == "Suspended":
        forbid("VM_BAD_POWER_STATE", [vm, "halted, running", "suspended"], "insert", "eject")
    vdi = str(rec["VDI"])
    if not rec["empty"] and db.exists("VDI", vdi):
        _vdi_errors(db, vbd, rec, vdi, forbid, sharing=sharing)
    return table


def _vdi_errors(
    db: Database, vbd: str, rec: Record, vdi: str, forbid: Forbid, *, sharing: bool
) -> None:
    vdi_rec = db.get("VDI", vdi)
    if not vdi_rec["managed"]:
        forbid("VDI_NOT_MANAGED", [vbd], *enum_values("vbd_operations"))
    for task, op in as_map(vdi_rec["current_operations"]).items():
        if op not in ("copy", "mirror"):
            forbid(
                "OTHER_OPERATION_IN_PROGRESS", ["VDI", vdi, op, task], "attach", "plug", "insert"
            )
    if not sharing or rec["currently_attached"]:
        return
    others = [
        db.get("VBD", v) for v in as_refs(vdi_rec["VBDs"]) if v != vbd and db.exists("VBD", v)
    ]
    active = [
        o
        for o in others
        if db.exists("VM", str(o["VM"]))
        and _power(db, str(o["VM"])) != "Suspended"
        and not db.field("VM", str(o["VM"]), "is_control_domain")
        and (o["currently_attached"] or as_map(o["current_operations"]))
    ]
    write = rec["mode"] == "RW"
    if not vdi_rec["sharable"] and (any(o["mode"] == "RW" for o in active) or (write and active)):
        for op in ("attach", "insert", "plug"):
            forbid("VDI_IN_USE", [vdi, op], op)
    if write and vdi_rec["read_only"]:
        forbid("VDI_READONLY", [vdi], "attach", "insert", "plug")


def refresh_vbd(db: Database, vbd: str) -> None:
    if db.exists("VBD", vbd):
        errors = vbd_errors(db, vbd, sharing=False)
        allowed: list[Value] = [op for op, e in errors.items() if e is None]
        db.update("VBD", vbd, allowed_operations=allowed)


def refresh_vm_disks(db: Database, vm: str) -> None:
    """Recompute allowed_operations of a VM's VBDs and their VDIs (after a power change)."""
    for vbd in as_refs(db.field("VM", vm, "VBDs")):
        refresh_vbd(db, vbd)
        if db.exists("VBD", vbd):
            refresh_vdi(db, str(db.field("VBD", vbd, "VDI")))


def _assert_vbd(db: Database, vbd: str, op: str) -> None:
    error = vbd_errors(db, vbd).get(op)
    if error is not None:
        raise error


_LETTERS = "abcdefghijklmnop"


def device_names(userdevice: str) -> set[str]:
    """Every spelling of one disk slot: ``1`` = ``xvdb`` = ``hdb`` = ``sdb``."""
    if userdevice.isdigit() and int(userdevice) < len(_LETTERS):
        letter = _LETTERS[int(userdevice)]
        return {userdevice, f"xvd{letter}", f"hd{letter}", f"sd{letter}"}
    for prefix in ("xvd", "hd", "sd"):
        if userdevice.startswith(prefix) and userdevice[len(prefix) : len(prefix) + 1] in set(
            _LETTERS
        ):
            return device_names(str(_LETTERS.index(userdevice[len(prefix)]))) | {userdevice}
    return {userdevice}


def _valid_device(device: str, vbd_type: str) -> bool:
    if device == "autodetect":
        return True
    if device in ("fda", "fdb"):
        return True
    for prefix in ("xvd", "hd", "sd"):
        rest = device[len(prefix) + 1 :]
        if device.startswith(prefix) and device[len(prefix) : len(prefix) + 1] in set(_LETTERS):
            return rest == "" or rest.isdigit()
    return vbd_type != "Floppy" and device.isdigit()


# ---- the calls -----------------------------------------------------------------------------------


@api("VBD.create")
async def vbd_create(ctx: CallContext, args: dict[str, Value]) -> Value:
    db = ctx.db
    vm = str(args.get("VM", NULL_REF))
    vm_rec = db.get("VM", vm)
    vdi = str(args.get("VDI", NULL_REF))
    empty = bool(args.get("empty", False))
    vbd_type = str(args.get("type", "Disk"))
    mode = str(args.get("mode", "RW"))
    if not empty:
        vdi_type = str(db.field("VDI", vdi, "type"))
        if vdi_type not in ATTACHABLE_VDI_TYPES:
            raise XapiError("VDI_INCOMPATIBLE_TYPE", [vdi, vdi_type])
    if vbd_type == "CD" and mode != "RO":
        raise XapiError("VBD_CDS_MUST_BE_READONLY", [])
    if vbd_type != "CD" and empty:
        raise XapiError("VBD_NOT_REMOVABLE_MEDIA", ["in constructor"])
    if mode == "RW" and db.field("VDI", vdi, "read_only"):
        raise XapiError("VDI_READONLY", [vdi])
    for task, op in as_map(vm_rec["current_operations"]).items():
        if op in ("migrate_send", "pool_migrate"):
            raise XapiError("OTHER_OPERATION_IN_PROGRESS", ["VM", vm, op, task])
    used: set[str] = set()
    for other in as_refs(vm_rec["VBDs"]):
        used |= device_names(str(db.field("VBD", other, "userdevice")))
        used |= device_names(str(db.field("VBD", other, "device"))) - {""}
    userdevice = str(args.get("userdevice", "autodetect"))
    if not _valid_device(userdevice, vbd_type):
        raise XapiError("INVALID_DEVICE", [userdevice])
    if userdevice == "autodetect":
        if vbd_type == "Floppy":
            free = [d for d in ("fda", "fdb") if d not in used]
        else:
            tools = db.exists("VM_guest_metrics", str(vm_rec["guest_metrics"]))
            slots = allowed_vbd_devices(_kind(db, vm), tools, [])
            free = [d for d in slots if not device_names(d) & used]
        if not free:
            raise XapiError("INVALID_DEVICE", [userdevice])
        userdevice = free[0]
    if device_names(userdevice) & used:
        raise XapiError("DEVICE_ALREADY_EXISTS", [userdevice])
    suspended = vm_rec["power_state"] == "Suspended"
    keep = ("bootable", "unpluggable", "other_config", "qos_algorithm_type", "qos_algorithm_params")
    fields = {k: args[k] for k in keep if k in args}
    ref = db.create(
        "VBD",
        None,
        VM=vm,
        VDI=vdi,
        empty=empty,
        type=vbd_type,
        mode=mode,
        userdevice=userdevice,
        device=str(args.get("device", "")) if suspended else "",
        currently_attached=bool(args.get("currently_attached", False)) and suspended,
        **fields,
    )
    refresh_vbd(db, ref)
    refresh_vdi(db, vdi)
    return ref


@api("VBD.destroy")
async def vbd_destroy(ctx: CallContext, vbd: str) -> Value:
    db = ctx.db
    rec = db.get("VBD", vbd)
    if rec["currently_attached"]:
        vm_uuid = db.field("VM", str(rec["VM"]), "uuid") if db.exists("VM", str(rec["VM"])) else ""
        raise XapiError(
            "OPERATION_NOT_ALLOWED", [f"VBD '{rec['uuid']}' still attached to '{vm_uuid}'"]
        )
    db.destroy("VBD", vbd)
    refresh_vdi(db, str(rec["VDI"]))
    return ""


async def _device_operation(ctx: CallContext, vbd: str, op: str, **change: Value) -> None:
    """Mark ``op`` in the VBD's current_operations, spend a moment, apply ``change``."""
    db = ctx.db
    task = ctx.ensure_task()
    db.update("VBD", vbd, current_operations={task: op})
    refresh_vbd(db, vbd)
    try:
        await ctx.work(ctx.pool.config.operation_seconds / 10)
        db.update("VBD", vbd, **change)
    finally:
        if db.exists("VBD", vbd):
            db.update("VBD", vbd, current_operations={})
            refresh_vbd(db, vbd)
            refresh_vdi(db, str(db.field("VBD", vbd, "VDI")))


@api("VBD.plug")
async def vbd_plug(ctx: CallContext, vbd: str) -> Value:
    _assert_vbd(ctx.db, vbd, "plug")
    rec = ctx.db.get("VBD", vbd)
    device = str(rec["device"]) or vbd_device(str(rec["userdevice"]), _kind(ctx.db, str(rec["VM"])))
    await _device_operation(ctx, vbd, "plug", currently_attached=True, device=device)
    return ""


@api("VBD.unplug", "VBD.unplug_force")
async def vbd_unplug(ctx: CallContext, vbd: str) -> Value:
    op = ctx.method.partition(".")[2]
    _assert_vbd(ctx.db, vbd, op)
    await _device_operation(ctx, vbd, op, currently_attached=False)
    return ""


def _assert_not_suspended(db: Database, vm: str) -> None:
    if _power(db, vm) == "Suspended":
        raise XapiError("VM_BAD_POWER_STATE", [vm, "halted, running", "suspended"])


@api("VBD.insert")
async def vbd_insert(ctx: CallContext, vbd: str, vdi: str) -> Value:
    db = ctx.db
    rec = db.get("VBD", vbd)
    _assert_not_suspended(db, str(rec["VM"]))
    if rec["type"] != "CD":
        raise XapiError("VBD_NOT_REMOVABLE_MEDIA", [vbd])
    if not rec["empty"]:
        raise XapiError("VBD_NOT_EMPTY", [vbd])
    if not db.field("VDI", vdi, "managed"):
        raise XapiError("VDI_NOT_MANAGED", [vdi])
    await _device_operation(ctx, vbd, "insert", VDI=vdi, empty=False)
    return ""


@api("VBD.eject")
async def vbd_eject(ctx: CallContext, vbd: str) -> Value:
    db = ctx.db
    rec = db.get("VBD", vbd)
    if rec["type"] != "CD":
        raise XapiError("VBD_NOT_REMOVABLE_MEDIA", [vbd])
    if rec["empty"]:
        raise XapiError("VBD_IS_EMPTY", [vbd])
    _assert_not_suspended(db, str(rec["VM"]))
    await _device_operation(ctx, vbd, "eject", VDI=NULL_REF, empty=True)
    refresh_vdi(db, str(rec["VDI"]))
    return ""


@api("VBD.set_mode")
async def vbd_set_mode(ctx: CallContext, vbd: str, value: str) -> Value:
    vm = str(ctx.db.field("VBD", vbd, "VM"))
    if _power(ctx.db, vm) != "Halted":
        raise XapiError("VM_BAD_POWER_STATE", [vm, "halted", _power(ctx.db, vm).lower()])
    ctx.db.update("VBD", vbd, mode=value)
    return ""


@api("VBD.assert_attachable")
async def vbd_assert_attachable(ctx: CallContext, vbd: str) -> Value:
    _assert_vbd(ctx.db, vbd, "attach")
    return ""
