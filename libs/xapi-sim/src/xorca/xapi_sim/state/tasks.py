"""Tasks, with xapi's lifecycle (XAPI.md §3, xapi ``taskHelper.ml`` and ``xapi_task.ml``).

A task row is created ``pending`` with progress 0; it ends ``success`` with ``result`` holding the
XML-RPC text of the return value (even for JSON-RPC callers), ``failure`` with ``error_info``, or
``cancelled`` when its operation stopped with ``TASK_CANCELLED``. Only a pending task ends: xapi's
``complete`` and ``failed`` leave a finished one alone. Finishing never touches
``current_operations``: a cancelled task keeps the ``cancel`` entry that stopped it.

Cancelling is a request, not a state: ``task.cancel`` *replaces* ``current_operations`` with
``{<the cancelling call's task>: cancel}`` and the status stays ``pending`` (xapi never writes
``cancelling`` there); the operation notices at its next cancellation point (`check_cancelled`,
xapi's ``exn_if_cancelling``). ``task.destroy`` on a running task adds ``{"task": destroy}``, and
the task goes once it has finished (xapi's ``timeout_tasks`` does it on its next pass). Finished
tasks beyond ``max_tasks`` are collected, oldest first.
"""

from __future__ import annotations

import uuid

from xorca.xapi.codec import encode_xmlrpc_value
from xorca.xapi.datamodel import EPOCH
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.state.pool import SimPool
from xorca.xapi_sim.state.rows import str_map

FINISHED = frozenset({"success", "failure", "cancelled"})
#: the key ``task.destroy`` marks a running task with (``Xapi_task.destroy``)
DESTROY_KEY = "task"


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


def set_cancellable(pool: SimPool, task_ref: str | None, cancellable: bool) -> None:
    """``TaskHelper.set_cancellable``/``set_not_cancellable``: only what the task advertises."""
    if task_ref and pool.db.exists("task", task_ref):
        pool.db.update("task", task_ref, allowed_operations=["cancel"] if cancellable else [])


def dummy_task_ref(label: str) -> str:
    """The ref of a call's task that xapi keeps out of its database (``Ref.make_dummy``), such
    as the one a synchronous ``task.cancel`` runs under."""
    return f"DummyRef:|{uuid.uuid4()}|{label}"


def request_cancel(pool: SimPool, task_ref: str, by: str) -> None:
    """``Xapi_task.cancel`` once the ref is known to be valid: whatever the task's status and
    ``allowed_operations``, its ``current_operations`` become ``{by: cancel}``."""
    pool.db.update("task", task_ref, current_operations={by: "cancel"})


def is_cancelling(pool: SimPool, task_ref: str) -> bool:
    """``TaskHelper.is_cancelling``: a ``cancel`` among the task's current operations."""
    if not pool.db.exists("task", task_ref):
        return False
    return "cancel" in str_map(pool.db.get("task", task_ref), "current_operations").values()


def check_cancelled(pool: SimPool, task_ref: str | None) -> None:
    """Raise TASK_CANCELLED if someone asked for this task to stop (a cancellation point)."""
    if task_ref and is_cancelling(pool, task_ref):
        raise XapiError("TASK_CANCELLED", [task_ref])


def _pending(pool: SimPool, task_ref: str) -> bool:
    return pool.db.exists("task", task_ref) and pool.db.field("task", task_ref, "status") == (
        "pending"
    )


def succeed(pool: SimPool, task_ref: str, value: Value) -> None:
    if not _pending(pool, task_ref):
        return
    pool.db.update(
        "task",
        task_ref,
        status="success",
        progress=1.0,
        result=encode_xmlrpc_value(value),
        finished=pool.now(),
        allowed_operations=[],
    )
    _finish(pool, task_ref)


def fail(pool: SimPool, task_ref: str, error: XapiError) -> None:
    if not _pending(pool, task_ref):
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
    )
    _finish(pool, task_ref)


def destroy_when_finished(pool: SimPool, task_ref: str) -> None:
    """``task.destroy`` of a task still running: mark it, keeping what else it holds."""
    ops = str_map(pool.db.get("task", task_ref), "current_operations")
    pool.db.update("task", task_ref, current_operations={**ops, DESTROY_KEY: "destroy"})


def _finish(pool: SimPool, task_ref: str) -> None:
    ops = str_map(pool.db.get("task", task_ref), "current_operations")
    if "destroy" in ops.values():
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
