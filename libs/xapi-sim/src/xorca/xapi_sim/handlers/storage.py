"""Storage: ``SR.*``, ``VDI.*`` and ``PBD.*`` as xapi and its SM backends behave.

Space is accounted the way recorded pools show it, so a manager's capacity views stay plausible:

- thick SRs (the LVM family) hold a VHD's whole size plus its metadata (1/256, rounded up to
  4 MiB extents: 4 GiB -> 4 GiB + 16 MiB, as recorded); thin SRs (file based) hold only the VHD
  header and block table until written;
- snapshots and clones start as small leaves (8 MiB on LVM);
- ``SR.physical_utilisation`` and ``virtual_allocation`` move with every create, resize, copy and
  destroy; ``SR.scan``/``SR.update`` recompute them from the VDIs. A VDI that does not fit fails
  with ``SR_FULL [requested, maximum]`` (bytes the SR would then use, its size).

``VBD.*``, which attaches these disks to VMs, is `handlers.vbd`.
"""

from __future__ import annotations

import uuid as uuidlib

from xorca.xapi.datamodel import NULL_REF, enum_values
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers.pool import as_int, as_map, as_refs
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state.db import Database, Record

MIB = 1 << 20
THICK_TYPES = frozenset({"lvm", "lvmoiscsi", "lvmohba", "lvmofcoe"})
#: SM drivers without VDI_CREATE (and friends): their VDIs are introduced, not made
READ_ONLY_TYPES = frozenset({"iso", "udev"})
#: the fields of a VDI record ``VDI.create`` takes (xapi_vdi.ml ``create``)
VDI_CREATE_FIELDS = (
    "name_label",
    "name_description",
    "SR",
    "virtual_size",
    "type",
    "sharable",
    "read_only",
    "other_config",
    "xenstore_data",
    "sm_config",
    "tags",
)


# ---- space accounting --------------------------------------------------------------------------


def _round_up(n: int, unit: int) -> int:
    return -(-n // unit) * unit


def is_thick(db: Database, sr: str) -> bool:
    return str(db.field("SR", sr, "type")) in THICK_TYPES


def footprint(db: Database, sr: str, virtual_size: int) -> int:
    """Bytes a new, unwritten VDI of ``virtual_size`` takes on ``sr``."""
    if is_thick(db, sr):
        return _round_up(virtual_size + virtual_size // 256, 4 * MIB)
    blocks = -(-virtual_size // (2 * MIB))
    return 1536 + _round_up(4 * blocks, 512)  # VHD footer, header and block allocation table


def leaf_footprint(db: Database, sr: str) -> int:
    """Bytes a fresh snapshot or clone leaf takes."""
    return 8 * MIB if is_thick(db, sr) else footprint(db, sr, 0)


def charge(db: Database, sr: str, physical: int, virtual: int) -> None:
    """Add (or, negative, release) space on ``sr``; SR_FULL when it does not fit."""
    rec = db.get("SR", sr)
    used = as_int(rec["physical_utilisation"]) + physical
    size = as_int(rec["physical_size"])
    if physical > 0 and size > 0 and used > size:  # size -1: unknown (e.g. the tools SR)
        raise XapiError("SR_FULL", [used, size])
    allocated = as_int(rec["virtual_allocation"]) + virtual
    db.update("SR", sr, physical_utilisation=max(0, used), virtual_allocation=max(0, allocated))


def recompute_usage(db: Database, sr: str) -> None:
    vdis = [db.get("VDI", v) for v in as_refs(db.field("SR", sr, "VDIs")) if db.exists("VDI", v)]
    db.update(
        "SR",
        sr,
        physical_utilisation=sum(as_int(v["physical_utilisation"]) for v in vdis),
        virtual_allocation=sum(as_int(v["virtual_size"]) for v in vdis),
    )


def assert_sr_usable(db: Database, sr: str, *, create: bool = True) -> None:
    """The SR exists, its driver can make VDIs, and some host has it plugged."""
    db.row("SR", sr)
    if create and str(db.field("SR", sr, "type")) in READ_ONLY_TYPES:
        raise XapiError("SR_OPERATION_NOT_SUPPORTED", [sr])
    if not any(
        db.exists("PBD", p) and db.field("PBD", p, "currently_attached")
        for p in as_refs(db.field("SR", sr, "PBDs"))
    ):
        raise XapiError("SR_HAS_NO_PBDS", [sr])


# ---- VDI ---------------------------------------------------------------------------------------


def vdi_attached(db: Database, vdi: str) -> bool:
    return any(
        db.exists("VBD", v) and db.field("VBD", v, "currently_attached")
        for v in as_refs(db.field("VDI", vdi, "VBDs"))
    )


def refresh_vdi(db: Database, vdi: str) -> None:
    """``allowed_operations`` of a VDI, from its SR's driver, attachment and snapshot status."""
    if not db.exists("VDI", vdi):
        return
    rec = db.get("VDI", vdi)
    sr = str(rec["SR"])
    ops: set[str] = set()
    if not as_map(rec["current_operations"]):
        if db.exists("SR", sr) and str(db.field("SR", sr, "type")) in READ_ONLY_TYPES:
            ops = {"copy", "forget", "update"}
        else:
            ops = {"clone", "copy", "snapshot", "update", "generate_config", "forget"}
            ops |= {"enable_cbt", "disable_cbt", "list_changed_blocks"}
            if vdi_attached(db, vdi):
                ops |= {"mirror", "resize_online"}
            else:
                ops |= {"destroy", "resize", "data_destroy", "set_on_boot"}
            if rec["is_a_snapshot"]:
                ops -= {"resize", "resize_online", "mirror"}
            if db.exists("SR", sr) and is_thick(db, sr):
                ops.discard("resize_online")
    allowed: list[Value] = [op for op in enum_values("vdi_operations") if op in ops]
    db.update("VDI", vdi, allowed_operations=allowed)


def _assert_vdi_idle(db: Database, vdi: str, op: str, *, detached: bool) -> Record:
    rec = db.get("VDI", vdi)
    for task, other in as_map(rec["current_operations"]).items():
        raise XapiError("OTHER_OPERATION_IN_PROGRESS", ["VDI", vdi, other, task])
    if detached and vdi_attached(db, vdi):
        raise XapiError("VDI_IN_USE", [vdi, op])
    return rec


def new_vdi(db: Database, sr: str, physical: int, **fields: Value) -> str:
    """A VDI row as an SM backend reports it: location = uuid, managed, VHD unless raw."""
    uuid = str(uuidlib.uuid4())
    sm_config = {"vdi_type": "vhd", **as_map(fields.pop("sm_config", {}))}
    ref = db.create(
        "VDI",
        None,
        uuid=uuid,
        location=uuid,
        SR=sr,
        physical_utilisation=physical,
        managed=True,
        missing=False,
        sm_config={**sm_config},
        **fields,
    )
    refresh_vdi(db, ref)
    return ref


def _copied_fields(rec: Record) -> dict[str, Value]:
    keep = ("name_label", "name_description", "type", "sharable", "read_only", "virtual_size")
    out = {k: rec[k] for k in keep}
    for k in ("other_config", "xenstore_data", "sm_config", "tags"):
        v = rec[k]
        out[k] = dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v
    return out


@api("VDI.create")
async def vdi_create(ctx: CallContext, args: dict[str, Value]) -> Value:
    db = ctx.db
    sr = str(args.get("SR", NULL_REF))
    assert_sr_usable(db, sr)
    size = as_int(args.get("virtual_size", 0))
    if size < 0:
        raise XapiError("INVALID_VALUE", ["virtual_size", size])
    physical = footprint(db, sr, size)
    charge(db, sr, physical, 0)  # check and reserve before the (cancellable) work
    try:
        await ctx.work(ctx.pool.config.operation_seconds / 5)
    except BaseException:
        charge(db, sr, -physical, 0)
        raise
    fields = {k: args[k] for k in VDI_CREATE_FIELDS if k in args and k != "SR"}
    fields["virtual_size"] = size
    charge(db, sr, 0, size)
    return new_vdi(db, sr, physical, **fields)


@api("VDI.destroy")
async def vdi_destroy(ctx: CallContext, vdi: str) -> Value:
    db = ctx.db
    rec = _assert_vdi_idle(db, vdi, "destroy", detached=True)
    sr = str(rec["SR"])
    assert_sr_usable(db, sr)
    await ctx.work(ctx.pool.config.operation_seconds / 5)
    _forget(db, vdi)
    charge(db, sr, -as_int(rec["physical_utilisation"]), -as_int(rec["virtual_size"]))
    return ""


def _forget(db: Database, vdi: str) -> None:
    """Drop a VDI row and the (detached) VBDs that point at it, as xapi does right away."""
    for vbd in as_refs(db.field("VDI", vdi, "VBDs")):
        if db.exists("VBD", vbd):
            db.destroy("VBD", vbd)
    db.destroy("VDI", vdi)


async def _resize(ctx: CallContext, vdi: str, size: int, op: str) -> Value:
    db = ctx.db
    rec = _assert_vdi_idle(db, vdi, op, detached=op == "resize")
    sr = str(rec["SR"])
    assert_sr_usable(db, sr)
    if rec["is_a_snapshot"]:
        raise XapiError("OPERATION_NOT_ALLOWED", ["Snapshots cannot be resized"])
    old = as_int(rec["virtual_size"])
    if size < old:
        raise XapiError(
            "SR_BACKEND_FAILURE_79", ["", "VDI Invalid size [opterr=shrinking not allowed]", ""]
        )
    old_physical = as_int(rec["physical_utilisation"])
    physical = footprint(db, sr, size) if is_thick(db, sr) else old_physical
    charge(db, sr, physical - old_physical, size - old)
    await ctx.work(ctx.pool.config.operation_seconds / 5)
    db.update("VDI", vdi, virtual_size=size, physical_utilisation=physical)
    return ""


@api("VDI.resize")
async def vdi_resize(ctx: CallContext, vdi: str, size: int) -> Value:
    return await _resize(ctx, vdi, size, "resize")


@api("VDI.resize_online")
async def vdi_resize_online(ctx: CallContext, vdi: str, size: int) -> Value:
    sr = str(ctx.db.field("VDI", vdi, "SR"))
    if ctx.db.exists("SR", sr) and is_thick(ctx.db, sr):
        raise XapiError("SR_OPERATION_NOT_SUPPORTED", [sr])
    return await _resize(ctx, vdi, size, "resize_online")


async def _leaf(ctx: CallContext, vdi: str, *, snapshot: bool) -> str:
    db = ctx.db
    rec = _assert_vdi_idle(db, vdi, "snapshot" if snapshot else "clone", detached=False)
    sr = str(rec["SR"])
    assert_sr_usable(db, sr)
    physical = leaf_footprint(db, sr)
    charge(db, sr, physical, as_int(rec["virtual_size"]))
    await ctx.work(ctx.pool.config.operation_seconds / 5)
    extra: dict[str, Value] = {}
    if snapshot:
        extra = {"is_a_snapshot": True, "snapshot_of": vdi, "snapshot_time": ctx.pool.now()}
    return new_vdi(db, sr, physical, **_copied_fields(rec), **extra)


@api("VDI.snapshot")
async def vdi_snapshot(
    ctx: CallContext, vdi: str, driver_params: dict[str, str] | None = None
) -> Value:
    return await _leaf(ctx, vdi, snapshot=True)


@api("VDI.clone")
async def vdi_clone(
    ctx: CallContext, vdi: str, driver_params: dict[str, str] | None = None
) -> Value:
    return await _leaf(ctx, vdi, snapshot=False)


@api("VDI.copy")
async def vdi_copy(
    ctx: CallContext,
    vdi: str,
    sr: str = NULL_REF,
    base_vdi: str = NULL_REF,
    into_vdi: str = NULL_REF,
) -> Value:
    """A full copy: into an existing VDI, or a new one on ``sr`` that exists (and is visible)
    while the data moves and disappears again if the copy fails or is cancelled."""
    db = ctx.db
    rec = _assert_vdi_idle(db, vdi, "copy", detached=False)
    size = as_int(rec["virtual_size"])
    if into_vdi != NULL_REF:
        target = db.get("VDI", into_vdi)
        if target["read_only"]:
            raise XapiError("VDI_READONLY", [into_vdi])
        if as_int(target["virtual_size"]) < size:
            raise XapiError("VDI_TOO_SMALL", [into_vdi, size])
        await ctx.work()
        return into_vdi
    assert_sr_usable(db, sr)
    if is_thick(db, sr):
        physical = footprint(db, sr, size)
    else:
        physical = max(as_int(rec["physical_utilisation"]), footprint(db, sr, size))
    charge(db, sr, physical, size)
    fields = {**_copied_fields(rec), "read_only": False}
    fields["sm_config"] = {}
    copy = new_vdi(db, sr, physical, **fields)
    try:
        await ctx.work()
    except BaseException:
        if db.exists("VDI", copy):
            _forget(db, copy)
            charge(db, sr, -physical, -size)
        raise
    return copy


@api("VDI.update")
async def vdi_update(ctx: CallContext, vdi: str) -> Value:
    assert_sr_usable(ctx.db, str(ctx.db.field("VDI", vdi, "SR")), create=False)
    return ""


def _setter(cls: str, field: str) -> None:
    async def set_(ctx: CallContext, ref: str, value: Value) -> Value:
        ctx.db.update(cls, ref, **{field: value})
        return ""

    api(f"{cls}.set_{field}")(set_)


for _field in (
    "name_label",
    "name_description",
    "read_only",
    "sharable",
    "on_boot",
    "allow_caching",
):
    _setter("VDI", _field)
for _field in ("name_label", "name_description", "physical_size"):
    _setter("SR", _field)
_setter("PBD", "device_config")


# ---- SR and PBD --------------------------------------------------------------------------------


@api("SR.scan")
async def sr_scan(ctx: CallContext, sr: str) -> Value:
    assert_sr_usable(ctx.db, sr, create=False)
    await ctx.work(ctx.pool.config.operation_seconds / 5)
    recompute_usage(ctx.db, sr)
    return ""


@api("SR.update")
async def sr_update(ctx: CallContext, sr: str) -> Value:
    assert_sr_usable(ctx.db, sr, create=False)
    recompute_usage(ctx.db, sr)
    return ""


@api("SR.set_shared")
async def sr_set_shared(ctx: CallContext, sr: str, value: bool) -> Value:
    pbds = as_refs(ctx.db.field("SR", sr, "PBDs"))
    if not value and len(pbds) > 1:
        raise XapiError("SR_HAS_MULTIPLE_PBDS", pbds)
    ctx.db.update("SR", sr, shared=value)
    return ""


@api("PBD.plug")
async def pbd_plug(ctx: CallContext, pbd: str) -> Value:
    if not ctx.db.field("PBD", pbd, "currently_attached"):
        await ctx.work(ctx.pool.config.operation_seconds / 5)
        ctx.db.update("PBD", pbd, currently_attached=True)
    return ""


@api("PBD.unplug")
async def pbd_unplug(ctx: CallContext, pbd: str) -> Value:
    """Refused while a VM on that host has a disk of the SR plugged."""
    db = ctx.db
    rec = db.get("PBD", pbd)
    if not rec["currently_attached"]:
        return ""
    for vdi in as_refs(db.field("SR", str(rec["SR"]), "VDIs")):
        for vbd in as_refs(db.field("VDI", vdi, "VBDs")):
            vm = str(db.field("VBD", vbd, "VM"))
            attached = db.field("VBD", vbd, "currently_attached") and db.exists("VM", vm)
            if attached and db.field("VM", vm, "resident_on") == rec["host"]:
                raise XapiError("VDI_IN_USE", [vdi, "unplug"])
    await ctx.work(ctx.pool.config.operation_seconds / 5)
    db.update("PBD", pbd, currently_attached=False)
    return ""
