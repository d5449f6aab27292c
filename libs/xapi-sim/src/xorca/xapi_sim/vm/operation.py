"""Marking a VM operation, as xapi's ``with_vm_operation`` does, and how long each one takes.

`vm_operation` checks the rules (`lifecycle`) against the VM's `facts_of`, marks
``current_operations[task] = op``, recomputes ``allowed_operations`` and unmarks at the end, so a
cancelled or failed operation leaves the VM as it found it. `work` spends the simulated time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from xorca.xapi.values import Value
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.state import tasks
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.state.rows import optional, ref_list, str_map, text
from xorca.xapi_sim.vm import lifecycle

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


# ---- what the rules read ---------------------------------------------------------------------


def facts_of(db: Database, vm: str) -> lifecycle.VmFacts:
    """The facts `lifecycle` checks, gathered from the VM's row and the rows it points at."""
    rec = db.get("VM", vm)
    vdis = []
    for vbd in ref_list(rec, "VBDs"):
        vbd_rec = optional(db, "VBD", vbd)
        vdi = optional(db, "VDI", text(vbd_rec, "VDI")) if vbd_rec else None
        if vdi is not None:
            vdis.append(vdi)
    pools = db.refs("pool")
    clone_suspended = bool(pools) and str_map(db.get("pool", pools[0]), "other_config").get(
        "allow_clone_suspended_vm"
    ) in ("true", "1")
    return lifecycle.VmFacts.from_records(
        vm,
        rec,
        metrics=optional(db, "VM_metrics", text(rec, "metrics")),
        guest_metrics=optional(db, "VM_guest_metrics", text(rec, "guest_metrics")),
        vdis=vdis,
        clone_suspended_vm_enabled=clone_suspended,
        valid=lambda ref: ref in db.class_of,
    )


def update_allowed_operations(db: Database, vm: str) -> None:
    """Recompute ``VM.allowed_operations``: what inventory code calls after creating a VM."""
    db.update("VM", vm, allowed_operations=list(lifecycle.allowed_operations(facts_of(db, vm))))


#: VM operations during which no device (VBD, VIF) may be plugged or unplugged
_HOTPLUG_BLOCKED_BY = ("clean_shutdown", "hard_shutdown", "suspend", "pause")


def hotplug_refusal(db: Database, vm: str) -> str | None:
    """Why no device may be plugged into or unplugged from ``vm`` now (the reason xapi's
    ``OPERATION_NOT_ALLOWED`` gives), or None: one of its operations in progress blocks it."""
    for op in str_map(db.get("VM", vm), "current_operations").values():
        if op in _HOTPLUG_BLOCKED_BY:
            return f"Current operation on VM:{vm} is {op}"
    return None


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
    lifecycle.assert_operation_valid(facts_of(db, vm), op, strict=strict)
    task = ctx.ensure_task()
    db.update(
        "VM", vm, current_operations={**str_map(db.get("VM", vm), "current_operations"), task: op}
    )
    update_allowed_operations(db, vm)
    try:
        yield task
    finally:
        if db.exists("VM", vm):
            current = str_map(db.get("VM", vm), "current_operations")
            if task in current:
                rest: dict[str, Value] = {t: o for t, o in current.items() if t != task}
                db.update("VM", vm, current_operations=rest)
            update_allowed_operations(db, vm)


async def work(ctx: CallContext, op: str, *, cancellable: bool = True) -> None:
    """Spend ``op``'s simulated time; an operation xapi makes non-cancellable (``revert``:
    ``TaskHelper.set_not_cancellable``) stops advertising ``cancel`` and has no cancellation
    point, so a ``task.cancel`` meanwhile changes nothing."""
    seconds = ctx.pool.config.operation_seconds * DURATION.get(op, 1.0)
    if cancellable:
        await ctx.work(seconds)
        return
    tasks.set_cancellable(ctx.pool, ctx.task, False)
    if seconds <= 0:
        return
    steps = 10
    for i in range(1, steps + 1):
        await asyncio.sleep(seconds / steps)
        if ctx.task is not None:
            tasks.set_progress(ctx.pool, ctx.task, i / steps * 0.99)


async def cancel_conflicting(ctx: CallContext, vm: str, op: str, own: str) -> None:
    """hard_shutdown/hard_reboot first cancel the softer operations in flight, as a client's
    ``task.cancel`` would (message_forwarding.ml ``cancel``), and wait for them to end."""
    db = ctx.db
    victims = [
        t
        for t, o in str_map(db.get("VM", vm), "current_operations").items()
        if o in lifecycle.CANCELLED_BY[op] and t != own
    ]
    for task in victims:
        if db.exists("task", task):  # xapi ignores a failing Task.cancel
            tasks.request_cancel(ctx.pool, task, tasks.dummy_task_ref("task.cancel"))
    deadline = asyncio.get_running_loop().time() + 10 * ctx.pool.config.operation_seconds + 1
    while any(t in str_map(db.get("VM", vm), "current_operations") for t in victims):
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(ctx.pool.config.operation_seconds / 20)
