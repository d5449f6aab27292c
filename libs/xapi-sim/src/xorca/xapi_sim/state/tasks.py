"""Tasks, with xapi's lifecycle (XAPI.md §3, xapi ``taskHelper.ml``).

A task row is created ``pending`` with progress 0; it ends ``success`` with ``result`` holding the
XML-RPC text of the return value (even for JSON-RPC callers), ``failure`` with ``error_info``, or
``cancelled`` once a ``task.cancel`` reached it. Finished tasks beyond ``max_tasks`` are collected,
oldest first.
"""

from __future__ import annotations

from xorca.xapi.codec import encode_xmlrpc_value
from xorca.xapi.datamodel import EPOCH
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.state.pool import SimPool

FINISHED = frozenset({"success", "failure", "cancelled"})


def create_task(pool: SimPool, name_label: str, host_ref: str, *, cancellable: bool = True) -> str:
    return pool.db.create(
        "task",
        name_label=name_label,
        name_description="",
        status="pending",
        progress=0.0,
        created=pool.now(),
        finished=EPOCH,
        resident_on=host_ref,
        allowed_operations=["cancel"] if cancellable else [],
        type="<none/>",
        result="",
        error_info=[],
        backtrace="()",
    )


def set_progress(pool: SimPool, task_ref: str, progress: float) -> None:
    if pool.db.exists("task", task_ref):
        pool.db.update("task", task_ref, progress=round(min(max(progress, 0.0), 1.0), 4))


def is_cancelling(pool: SimPool, task_ref: str) -> bool:
    if not pool.db.exists("task", task_ref):
        return False
    rec = pool.db.get("task", task_ref)
    ops = rec["current_operations"]
    return rec["status"] == "cancelling" or (isinstance(ops, dict) and "cancel" in ops.values())


def check_cancelled(pool: SimPool, task_ref: str | None) -> None:
    """Raise TASK_CANCELLED if someone asked for this task to stop (a cancellation point)."""
    if task_ref and is_cancelling(pool, task_ref):
        raise XapiError("TASK_CANCELLED", [task_ref])


def succeed(pool: SimPool, task_ref: str, value: Value) -> None:
    if not pool.db.exists("task", task_ref):
        return
    pool.db.update(
        "task",
        task_ref,
        status="success",
        progress=1.0,
        result=encode_xmlrpc_value(value),
        finished=pool.now(),
        allowed_operations=[],
        current_operations={},
    )
    _finish(pool, task_ref)


def fail(pool: SimPool, task_ref: str, error: XapiError) -> None:
    if not pool.db.exists("task", task_ref):
        return
    status = "cancelled" if error.code == "TASK_CANCELLED" else "failure"
    pool.db.update(
        "task",
        task_ref,
        status=status,
        progress=1.0,
        error_info=list[Value](error.description),
        finished=pool.now(),
        allowed_operations=[],
        current_operations={},
    )
    _finish(pool, task_ref)


def destroy_when_finished(pool: SimPool, task_ref: str) -> None:
    pool.doomed_tasks.add(task_ref)


def _finish(pool: SimPool, task_ref: str) -> None:
    if task_ref in pool.doomed_tasks:
        pool.doomed_tasks.discard(task_ref)
        pool.db.destroy("task", task_ref)
    collect(pool)


def collect(pool: SimPool) -> None:
    """Destroy the oldest finished tasks above ``max_tasks``."""
    finished = [
        (str(rec["finished"]), ref)
        for ref, rec in pool.db.records("task")
        if rec["status"] in FINISHED
    ]
    excess = len(finished) - pool.config.max_tasks
    if excess > 0:
        for _, ref in sorted(finished)[:excess]:
            pool.db.destroy("task", ref)
