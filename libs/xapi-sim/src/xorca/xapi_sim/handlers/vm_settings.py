"""``VM.*`` settings with rules of their own: memory limits (checked against the host on a live
VM), VCPUs, and the device slots still free.
"""

from __future__ import annotations

from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers.vm_domain import metrics_ref
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.state.rows import integer, ref_list, text
from xorca.xapi_sim.vm import shapes
from xorca.xapi_sim.vm.operation import facts_of, update_allowed_operations, vm_operation
from xorca.xapi_sim.vm.placement import free_memory, refresh_host_memory

# ---- device slots ----------------------------------------------------------------------------


def _used(db: Database, vm: str, cls: str, key: str, field: str) -> list[str]:
    refs = ref_list(db.get("VM", vm), key)
    return [text(db.get(cls, r), field) for r in refs if db.exists(cls, r)]


@api("VM.get_allowed_VBD_devices")
async def get_allowed_vbd_devices(ctx: CallContext, vm: str) -> Value:
    facts = facts_of(ctx.db, vm)
    kind = shapes.domain_kind(ctx.db.get("VM", vm))
    used = _used(ctx.db, vm, "VBD", "VBDs", "userdevice")
    return list(shapes.allowed_vbd_devices(kind, facts.has_pv_drivers, used))


@api("VM.get_allowed_VIF_devices")
async def get_allowed_vif_devices(ctx: CallContext, vm: str) -> Value:
    return list(shapes.allowed_vif_devices(_used(ctx.db, vm, "VIF", "VIFs", "device")))


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
        limits = {k: values.get(k, integer(rec, k)) for k in _MEMORY_FIELDS}
        if not shapes.memory_order_ok(*limits.values()):
            raise XapiError("MEMORY_CONSTRAINT_VIOLATION_ORDER", [])
        host = text(rec, "resident_on")
        if rec["power_state"] in ("Running", "Paused") and db.exists("host", host):
            metrics = metrics_ref(db, vm)
            grow = limits["memory_dynamic_max"] - integer(
                db.get("VM_metrics", metrics), "memory_actual"
            )
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
        if value < max(1, integer(ctx.db.get("VM", self), "VCPUs_at_startup")):
            raise _vcpus_invalid("VCPUs_max", value)
        ctx.db.update("VM", self, VCPUs_max=value)
    return ""


@api("VM.set_VCPUs_at_startup")
async def set_vcpus_at_startup(ctx: CallContext, self: str, value: int) -> Value:
    if not 0 < value <= integer(ctx.db.get("VM", self), "VCPUs_max"):
        raise _vcpus_invalid("VCPUs_at_startup", value)
    ctx.db.update("VM", self, VCPUs_at_startup=value)
    update_allowed_operations(ctx.db, self)
    return ""


@api("VM.set_VCPUs_number_live")
async def set_vcpus_number_live(ctx: CallContext, self: str, nvcpu: int) -> Value:
    db = ctx.db
    async with vm_operation(ctx, self, "changing_VCPUs_live"):
        if not 0 < nvcpu <= integer(db.get("VM", self), "VCPUs_max"):
            raise _vcpus_invalid("VCPUs_number", nvcpu)
        db.update("VM_metrics", metrics_ref(db, self), VCPUs_number=nvcpu)
        db.update("VM", self, VCPUs_at_startup=nvcpu)
    return ""
