"""``VM.*`` power-state handlers: what xapi's ``message_forwarding.ml`` and ``xapi_vm*.ml`` do
to the database, with simulated time in between.

Every operation follows xapi's ``with_vm_operation`` (`vm.operation`): check the rules
(`vm.lifecycle`), mark ``current_operations[task] = op`` and recompute ``allowed_operations``,
spend the simulated time (``ctx.work``, a cancellation point), apply the side effects in one go,
then unmark. A cancelled or failed operation therefore leaves the VM exactly as it found it.

The other ``VM.*`` handlers are `handlers.vm_copy` (clone, copy, snapshot, checkpoint, revert,
provision) and `handlers.vm_settings` (memory, VCPUs, device slots); host choice and memory are
`vm.placement`, the domain coming and going `handlers.vm_domain`, the disks they make
`handlers.vm_disks`.

Choices where the simulator has no xenopsd or SM behind it (each follows xapi where it can):

- Memory: a host's free memory is ``host_metrics.memory_total - host.memory_overhead`` minus what
  its live and scheduled VMs hold (`shapes.resident_memory`, `shapes.start_memory`); it is
  written back to ``host_metrics.memory_free`` after every change. A VM is reserved on its target
  through ``scheduled_to_be_resident_on`` while it starts, resumes or migrates, as xapi does.
- SR visibility: an SR is usable from a host if it has an attached PBD there, or no PBDs at all.
- Guest tools: a VM whose ``guest_metrics`` row exists has tools; it goes live with addresses in
  ``networks`` when the VM runs and ``live=false`` when it halts. Other VMs never get one.
- Domids grow per host and are never reused within a simulator run.
- Storage is accounted by ``handlers.storage`` (``charge``, ``footprint``): a copy takes what
  ``VDI.copy`` takes, snapshots and clones are leaves, a suspend image holds the static maximum.
  Copies and provisioning check every SR first and fail with ``SR_FULL [requested, maximum]``.
  VBD and VDI ``allowed_operations`` are recomputed (``handlers.vbd``) after every attach or
  detach.
- ``pool_migrate`` to the VM's own host is a localhost migration, which xenopsd supports: it
  needs memory for a second copy and gives the VM a new domid.
- ``VM.destroy`` keeps the VM's VDIs, suspend image included (xapi does); ``revert`` destroys
  the VM's disks that no other VBD uses and gives it fresh clones of the snapshot's disks.
- ``VM_metrics.state`` stays empty, as in every recorded database; ``memory_actual``,
  ``VCPUs_number``, ``start_time`` and ``current_domain_type`` follow the domain.

Each operation that succeeds then posts the message xapi posts (`vm.messages`): VM_STARTED,
VM_SHUTDOWN, VM_REBOOTED, VM_SUSPENDED, VM_RESUMED, VM_PAUSED, VM_UNPAUSED, VM_MIGRATED.
"""

from __future__ import annotations

import dataclasses

from xorca.xapi.datamodel import NULL_REF
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers.vm_copy import destroy_vm_rows
from xorca.xapi_sim.handlers.vm_disks import destroy_vdi, memory_image, suspend_sr
from xorca.xapi_sim.handlers.vm_domain import boot, halt, make_consoles, metrics_ref, next_domid
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.state.rows import optional, ref_list, text
from xorca.xapi_sim.vm import lifecycle, messages, shapes
from xorca.xapi_sim.vm.operation import (
    cancel_conflicting,
    facts_of,
    update_allowed_operations,
    vm_operation,
    work,
)
from xorca.xapi_sim.vm.placement import choose_host, host_error, refresh_host_memory, reserved

# ---- power-state handlers --------------------------------------------------------------------


def _host(db: Database, host: str) -> str:
    db.get("host", host)
    return host


async def _boot_on(ctx: CallContext, vm: str, op: str, host: str | None, paused: bool) -> None:
    """start, start_on, resume, resume_on: find or check the host, reserve, wait, boot; then
    the message naming the host."""
    db = ctx.db
    async with vm_operation(ctx, vm, op):
        needed = shapes.start_memory(db.get("VM", vm))
        if host is None:
            host = choose_host(db, vm, needed)
        else:
            err = host_error(db, vm, _host(db, host), needed)
            if err is not None:
                raise err
        image = text(db.get("VM", vm), "suspend_VDI")
        if op.startswith("resume") and not db.exists("VDI", image):
            raise XapiError("VM_HAS_NO_SUSPEND_VDI", [vm])
        with reserved(db, vm, host):
            await work(ctx, op)
            if op.startswith("resume"):
                db.update("VM", vm, suspend_VDI=NULL_REF)
                destroy_vdi(db, image)
            boot(ctx, vm, host, paused=paused)
    messages.announce(ctx.pool, op, vm, host=host)


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


async def _power_off(ctx: CallContext, vm: str, op: str) -> None:
    """The domain goes (a suspended VM loses its image instead), after ``op``'s time."""
    db = ctx.db
    await work(ctx, op)
    image = text(db.get("VM", vm), "suspend_VDI")
    if db.field("VM", vm, "power_state") == "Suspended":
        db.update("VM", vm, suspend_VDI=NULL_REF)
        destroy_vdi(db, image)
    halt(ctx, vm)


@api("VM.clean_shutdown")
async def clean_shutdown(ctx: CallContext, vm: str) -> Value:
    async with vm_operation(ctx, vm, "clean_shutdown"):
        await _power_off(ctx, vm, "clean_shutdown")
    messages.announce(ctx.pool, "clean_shutdown", vm)
    return ""


@api("VM.hard_shutdown")
async def hard_shutdown(ctx: CallContext, vm: str) -> Value:
    async with vm_operation(ctx, vm, "hard_shutdown") as task:
        await cancel_conflicting(ctx, vm, "hard_shutdown", task)
        await _power_off(ctx, vm, "hard_shutdown")
    messages.announce(ctx.pool, "hard_shutdown", vm)
    return ""


@api("VM.shutdown")
async def shutdown(ctx: CallContext, vm: str) -> Value:
    """One ``shutdown`` operation (``Xapi_vm.shutdown``): clean when the guest can do it, else
    hard, a suspended VM's image dropped; one VM_SHUTDOWN saying "shutdown" either way."""
    facts = facts_of(ctx.db, vm)
    # whether the guest could shut down cleanly, this call's own marking aside
    clean = (
        facts.power_state == "Running"
        and lifecycle.operation_error(
            dataclasses.replace(facts, current_operations=(), blocked_operations={}),
            "clean_shutdown",
        )
        is None
    )
    async with vm_operation(ctx, vm, "shutdown"):
        await _power_off(ctx, vm, "clean_shutdown" if clean else "hard_shutdown")
    messages.announce(ctx.pool, "shutdown", vm)
    return ""


async def _reboot(ctx: CallContext, vm: str, op: str) -> None:
    db = ctx.db
    async with vm_operation(ctx, vm, op) as task:
        if op == "hard_reboot":
            await cancel_conflicting(ctx, vm, op, task)
        await work(ctx, op)
        host = text(db.get("VM", vm), "resident_on")
        db.update("VM", vm, power_state="Running", domid=next_domid(db, host))
        now = ctx.pool.now()
        db.update("VM_metrics", metrics_ref(db, vm), start_time=now, last_updated=now)
        make_consoles(ctx, vm, host)


@api("VM.clean_reboot", "VM.hard_reboot")
async def reboot(ctx: CallContext, vm: str) -> Value:
    op = ctx.method.partition(".")[2]
    await _reboot(ctx, vm, op)
    messages.announce(ctx.pool, op, vm)
    return ""


@api("VM.suspend")
async def suspend(ctx: CallContext, vm: str) -> Value:
    async with vm_operation(ctx, vm, "suspend"):
        sr = suspend_sr(ctx, vm)
        await work(ctx, "suspend")
        image = memory_image(ctx, vm, sr)
        halt(ctx, vm, "Suspended")
        ctx.db.update("VM", vm, suspend_VDI=image)
    messages.announce(ctx.pool, "suspend", vm)
    return ""


@api("VM.pause", "VM.unpause")
async def pause(ctx: CallContext, vm: str) -> Value:
    op = ctx.method.partition(".")[2]
    async with vm_operation(ctx, vm, op):
        await work(ctx, op)
        ctx.db.update("VM", vm, power_state="Paused" if op == "pause" else "Running")
    messages.announce(ctx.pool, op, vm)
    return ""


@api("VM.pool_migrate")
async def pool_migrate(ctx: CallContext, vm: str, host: str, options: dict[str, str]) -> Value:
    """Live migration inside the pool; ``options:force=true`` skips the guest-feature checks."""
    db = ctx.db
    force = options.get("force", "").lower() == "true"
    source = text(db.get("VM", vm), "resident_on")
    async with vm_operation(ctx, vm, "pool_migrate", strict=not force):
        rec = db.get("VM", vm)
        needed = shapes.resident_memory(rec, optional(db, "VM_metrics", text(rec, "metrics")))
        err = host_error(db, vm, _host(db, host), needed)
        if err is not None:
            raise err
        with reserved(db, vm, host):
            await work(ctx, "pool_migrate")
            db.update(
                "VM",
                vm,
                resident_on=host,
                scheduled_to_be_resident_on=NULL_REF,
                domid=next_domid(db, host),
            )
            address = ctx.pool.address_of(host)
            for console in ref_list(db.get("VM", vm), "consoles"):
                if db.exists("console", console):
                    uuid = text(db.get("console", console), "uuid")
                    db.update("console", console, location=shapes.console_location(address, uuid))
            refresh_host_memory(db, source)
    messages.announce(ctx.pool, "pool_migrate", vm, host=host, source=source)
    return ""


# ---- the rest of the lifecycle ---------------------------------------------------------------


@api("VM.destroy")
async def destroy(ctx: CallContext, self: str) -> Value:
    async with vm_operation(ctx, self, "destroy"):
        await work(ctx, "destroy")
        destroy_vm_rows(ctx.db, self)
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
    lifecycle.assert_operation_valid(facts_of(ctx.db, self), op)
    return ""


@api("VM.update_allowed_operations")
async def update_allowed(ctx: CallContext, self: str) -> Value:
    update_allowed_operations(ctx.db, self)
    return ""
