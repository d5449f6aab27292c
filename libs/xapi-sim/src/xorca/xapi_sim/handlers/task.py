"""``task.cancel`` and ``task.destroy`` as xapi's ``xapi_task.ml`` and ``taskHelper.ml`` do them.

``task.cancel`` refuses nothing but an unknown ref (``HANDLE_INVALID [task, ref]``): not a task
whose ``allowed_operations`` lack ``cancel``, not a finished one, not another session's or a
subtask (the simulator's sessions are all the local superuser, whom ``assert_op_valid`` lets act on
any task). It replaces the task's ``current_operations`` with ``{<its own task>: cancel}`` — the
``DummyRef:`` of the ``task.cancel`` call itself, which xapi keeps out of its database — and leaves
``status`` alone: the operation sees the request at its next cancellation point and ends
``cancelled``; a finished task simply keeps the entry.
"""

from __future__ import annotations

from xorca.xapi.values import Value
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state import tasks


@api("task.cancel")
async def cancel(ctx: CallContext, task: str) -> Value:
    ctx.db.row("task", task)
    tasks.request_cancel(ctx.pool, task, tasks.dummy_task_ref(ctx.method))
    return ""


@api("task.destroy")
async def destroy(ctx: CallContext, task: str) -> Value:
    rec = ctx.db.get("task", task)
    if rec["status"] in tasks.FINISHED:
        ctx.db.destroy("task", task)
    else:
        tasks.destroy_when_finished(ctx.pool, task)
    return ""
