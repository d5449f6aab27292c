"""``task.cancel`` and ``task.destroy`` (XAPI.md §3)."""

from __future__ import annotations

from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state import tasks


@api("task.cancel")
async def cancel(ctx: CallContext, task: str) -> Value:
    rec = ctx.db.get("task", task)
    allowed = rec["allowed_operations"]
    if rec["status"] in tasks.FINISHED or not isinstance(allowed, list) or "cancel" not in allowed:
        raise XapiError("OPERATION_NOT_ALLOWED", [f"Task {task} cannot be cancelled"])
    ctx.db.update("task", task, current_operations={task: "cancel"}, status="cancelling")
    return ""


@api("task.destroy")
async def destroy(ctx: CallContext, task: str) -> Value:
    rec = ctx.db.get("task", task)
    if rec["status"] in tasks.FINISHED:
        ctx.db.destroy("task", task)
    else:
        tasks.destroy_when_finished(ctx.pool, task)
    return ""
