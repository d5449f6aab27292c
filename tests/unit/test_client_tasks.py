"""`Task` against a scripted ``call``: following with event.from, results, failures, bad answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from xorca.xapi.client import Task
from xorca.xapi.errors import (
    BadPowerState,
    CallTimeout,
    HandleInvalid,
    ProtocolError,
    TaskCancelled,
    error_for,
)
from xorca.xapi.values import Value

REF = "OpaqueRef:task"


def record(status: str = "pending", **fields: Value) -> dict[str, Value]:
    return {"status": status, "progress": 0.0, "result": "", "error_info": [], **fields}


def batch(*events: dict[str, Value], token: str = "t") -> dict[str, Value]:
    return {"events": list(events), "valid_ref_counts": {}, "token": token}


def event(snapshot: dict[str, Value] | None, operation: str = "mod") -> dict[str, Value]:
    ev: dict[str, Value] = {"id": "1", "class": "task", "operation": operation, "ref": REF}
    if snapshot is not None:
        ev["snapshot"] = snapshot
    return ev


class Calls:
    """Stands in for `Xapi.call`: answers event.from from a script, other calls from a map."""

    def __init__(self, batches: list[Value], answers: dict[str, Callable[[], Value]]) -> None:
        self.batches = batches
        self.answers = answers
        self.log: list[tuple[str, tuple[Value, ...]]] = []

    async def call(self, method: str, *params: Value, timeout: float | None = None) -> Any:
        self.log.append((method, params))
        if method == "event.from":
            return self.batches.pop(0) if self.batches else batch()
        return self.answers[method]()


def task(batches: list[Value], **answers: Callable[[], Value]) -> tuple[Task, Calls]:
    calls = Calls(batches, {k.replace("_", ".", 1): v for k, v in answers.items()})
    return Task(cast(Any, calls), REF, "Async.VM.clone"), calls


async def test_result_follows_the_task_with_event_from() -> None:
    t, calls = task(
        [
            batch(event(record(), "add"), token="t1"),
            batch(event(record(progress=0.5)), token="t2"),
            batch(event(record("success", result="<value>OpaqueRef:new</value>")), token="t3"),
        ]
    )
    assert await t.result() == "OpaqueRef:new"
    assert [p[1] for m, p in calls.log] == ["", "t1", "t2"]  # tokens carried over
    assert all(p[0] == [f"task/{REF}"] for _, p in calls.log)
    assert [p[2] for _, p in calls.log] == [0.0, 30.0, 30.0]  # only the first does not wait


async def test_results_decode_xmlrpc_values_and_void() -> None:
    value = (
        "<value><struct><member><name>n</name><value><i4>3</i4></value></member></struct></value>"
    )
    t, _ = task([batch(event(record("success", result=value), "add"))])
    assert await t.result() == {"n": 3}
    t, _ = task([batch(event(record("success", result=""), "add"))])
    assert await t.result() == ""
    t, _ = task([batch(event(record("success", result="<value>"), "add"))])
    with pytest.raises(ProtocolError, match="not an XML-RPC value") as info:
        await t.result()
    assert info.value.method == "Async.VM.clone"


async def test_failures_raise_the_tasks_error() -> None:
    info_: list[Value] = ["VM_BAD_POWER_STATE", "OpaqueRef:v", "halted", "running"]
    t, _ = task([batch(event(record("failure", error_info=info_), "add"))])
    with pytest.raises(BadPowerState) as info:
        await t.result()
    assert info.value.actual == "running" and info.value.method == "Async.VM.clone"
    t, _ = task([batch(event(record("cancelled", error_info=["TASK_CANCELLED", REF]), "add"))])
    with pytest.raises(TaskCancelled):
        await t.result()
    t, _ = task([batch(event(record("cancelled"), "add"))])
    with pytest.raises(TaskCancelled):
        await t.result()


async def test_a_task_that_vanishes() -> None:
    t, _ = task([batch(event(record(), "add")), batch(event(None, "del"))])
    with pytest.raises(HandleInvalid):
        await t.wait()

    def gone() -> Value:
        raise error_for("HANDLE_INVALID", ["task", REF], method="task.get_record")

    t, calls = task([batch()], task_get_record=gone)
    with pytest.raises(HandleInvalid):
        await t.wait()
    assert [m for m, _ in calls.log] == ["event.from", "task.get_record"]


async def test_waiting_times_out() -> None:
    t, _ = task([batch(event(record(), "add"))])
    with pytest.raises(CallTimeout, match="still running"):
        await t.wait(timeout=0.05, poll=0.01)


@pytest.mark.parametrize(
    "answer",
    [
        "nonsense",
        {"events": "x", "token": "t"},
        {"events": [], "token": 5},
        {"events": [7], "token": "t"},
        batch(event(None, "add")),  # no snapshot
        batch(event({"progress": 1.0}, "add")),  # no status
    ],
)
async def test_malformed_event_batches_are_protocol_errors(answer: Value) -> None:
    t, _ = task([answer])
    with pytest.raises(ProtocolError):
        await t.wait()


async def test_the_small_calls() -> None:
    t, calls = task(
        [],
        task_get_progress=lambda: 0.25,
        task_get_status=lambda: "pending",
        task_cancel=lambda: "",
        task_destroy=lambda: "",
        task_get_record=lambda: record("pending"),
    )
    assert await t.progress() == 0.25
    assert await t.status() == "pending"
    assert (await t.record())["status"] == "pending"
    await t.cancel()
    await t.destroy()
    assert [m for m, _ in calls.log] == [
        "task.get_progress",
        "task.get_status",
        "task.get_record",
        "task.cancel",
        "task.destroy",
    ]
    assert repr(t) == f"<Task Async.VM.clone {REF}>"
    t, _ = task([], task_get_progress=lambda: "0.5")  # the text form is accepted
    assert await t.progress() == 0.5
    t, _ = task([], task_get_progress=lambda: True, task_get_status=lambda: 3)
    with pytest.raises(ProtocolError):
        await t.progress()
    with pytest.raises(ProtocolError):
        await t.status()
