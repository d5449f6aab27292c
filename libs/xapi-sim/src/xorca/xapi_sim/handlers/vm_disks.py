"""The VDIs VM operations make and drop (copies, leaves, suspend images), charged to their SRs
as ``handlers.storage`` charges ``VDI.*``.
"""

from __future__ import annotations

from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers import storage
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.state.db import Database, Record
from xorca.xapi_sim.state.rows import copied, integer, ref_list, text


def new_vdi(db: Database, sr: str, physical: int, **fields: Value) -> str:
    """A VDI the simulated SM made on ``sr``, its space charged as ``VDI.create`` charges it."""
    storage.charge(db, sr, physical, integer(fields, "virtual_size"))
    return storage.new_vdi(db, sr, physical, **fields)


def destroy_vdi(db: Database, vdi: str) -> None:
    if db.exists("VDI", vdi):
        rec = db.get("VDI", vdi)
        if db.exists("SR", text(rec, "SR")):
            storage.charge(
                db,
                text(rec, "SR"),
                -integer(rec, "physical_utilisation"),
                -integer(rec, "virtual_size"),
            )
        db.destroy("VDI", vdi)


def copy_physical(db: Database, vdi: Record, sr: str) -> int:
    """Bytes a full copy of ``vdi`` takes on ``sr`` (as ``VDI.copy``): its whole size on thick
    SRs, the data it holds on thin ones."""
    size = integer(vdi, "virtual_size")
    if storage.is_thick(db, sr):
        return storage.footprint(db, sr, size)
    return max(integer(vdi, "physical_utilisation"), storage.footprint(db, sr, size))


def copy_vdi(ctx: CallContext, vdi: str, *, sr: str | None = None, snapshot: bool = False) -> str:
    """A snapshot or clone leaf on the VDI's own SR, or a full copy onto ``sr`` when given."""
    db = ctx.db
    rec = db.get("VDI", vdi)
    target = sr or text(rec, "SR")
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
    candidates = [text(rec, "suspend_SR")]
    candidates += [text(db.get("pool", p), "suspend_image_SR") for p in db.refs("pool")]
    if db.exists("host", text(rec, "resident_on")):
        candidates.append(text(db.get("host", text(rec, "resident_on")), "suspend_image_sr"))
    for sr in candidates:
        if db.exists("SR", sr):
            return sr
    raise XapiError("VM_NO_SUSPEND_SR", [vm])


def memory_image(ctx: CallContext, vm: str, sr: str, *, snapshot: bool = False) -> str:
    """The suspend image of ``vm``: its static maximum, all of it written."""
    rec = ctx.db.get("VM", vm)
    size = integer(rec, "memory_static_max")
    extra: dict[str, Value] = {"is_a_snapshot": True, "snapshot_time": ctx.pool.now()}
    return new_vdi(
        ctx.db,
        sr,
        storage.footprint(ctx.db, sr, size) if storage.is_thick(ctx.db, sr) else size,
        name_label="Suspend image",
        name_description="Suspend image",
        type="suspend",
        virtual_size=size,
        other_config={"content_id": text(rec, "uuid")},
        **(extra if snapshot else {}),
    )


def check_space(db: Database, needs: dict[str, int]) -> None:
    for sr, needed in needs.items():
        rec = db.get("SR", sr)
        size, used = integer(rec, "physical_size"), integer(rec, "physical_utilisation")
        if size > 0 and used + needed > size:
            raise XapiError("SR_FULL", [used + needed, size])


def copy_needs(db: Database, vm: str, sr: str | None) -> dict[str, int]:
    """Bytes a full copy takes per SR: every disk, and the memory image."""
    src = db.get("VM", vm)
    vdis = [text(db.get("VBD", v), "VDI") for v in ref_list(src, "VBDs") if db.exists("VBD", v)]
    disks = [
        db.get("VDI", v)
        for v in vdis
        if db.exists("VDI", v) and db.field("VDI", v, "type") != "iso"
    ]
    if db.exists("VDI", text(src, "suspend_VDI")):
        disks.append(db.get("VDI", text(src, "suspend_VDI")))
    needs: dict[str, int] = {}
    for rec in disks:
        target = sr or text(rec, "SR")
        if db.exists("SR", target):
            needs[target] = needs.get(target, 0) + copy_physical(db, rec, target)
    return needs
