"""Command handling decided with plain values: what is refused before XAPI, what a reply and an
audit record say."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from xorca.collector.core import commands as plan
from xorca.contracts.commands import CommandAccepted, CommandFailed
from xorca.xapi.errors import BadPowerState, ConnectionFailed

POOL = "3a1c5e0e-9c8f-4f8e-b1a4-2b7d6f0c9e11"
VM = "OpaqueRef:5e2a7c1d-0b9f-4d3e-8a6c-7f1e2d3c4b5a"


def body(method: str, *args: Any, **extra: Any) -> bytes:
    command = {"method": method, "args": list(args), "actor": "user:alice", "request_id": "r-1"}
    return orjson.dumps({**command, **extra})


def checked(method: str, *args: Any) -> plan.Checked:
    result = plan.check(body(method, *args))
    assert isinstance(result, plan.Checked), result
    return result


def refusal(raw: bytes) -> plan.Outcome:
    result = plan.check(raw)
    assert isinstance(result, plan.Outcome)
    assert result.outcome == "rejected"
    assert isinstance(result.reply, CommandFailed)
    return result


@pytest.mark.parametrize(
    ("raw", "code", "audited"),
    [
        (b'{"method": "VM.start", "request_id": "r-1"', "XORCA_MALFORMED_COMMAND", False),
        (b"[1, 2]", "XORCA_MALFORMED_COMMAND", False),
        (body("VM.start", VM, False, False, colour="red"), "XORCA_MALFORMED_COMMAND", False),
        (body("VM.get_record", VM), "MESSAGE_METHOD_UNKNOWN", True),
        (body("VM.start", VM), "MESSAGE_PARAMETER_COUNT_MISMATCH", True),
        (body("VM.start", VM, "yes", False), "FIELD_TYPE_ERROR", True),
        (body("VM.start", "not-a-ref", False, False), "FIELD_TYPE_ERROR", True),
    ],
)
def test_bad_commands_are_refused_before_xapi(raw: bytes, code: str, audited: bool) -> None:
    outcome = refusal(raw)
    assert outcome.error is not None and outcome.error.code == code
    assert (outcome.command is not None) is audited
    record = plan.audit_of(outcome, pool=POOL, collector="c1", now=0)
    assert (record is not None) is audited
    if record is not None:
        assert (record.outcome, record.actor, record.error) == ("rejected", "user:alice",
                                                                outcome.error)  # fmt: skip


def test_a_refusal_echoes_the_request_id_when_it_can_be_read() -> None:
    outcome = refusal(b'{"request_id": "r-9", "method": 3}')
    assert outcome.reply.request_id == "r-9"
    assert refusal(b"not json").reply.request_id is None


def test_a_good_command_has_its_arguments_coerced() -> None:
    result = checked("VDI.resize", "OpaqueRef:vdi", "1073741824")  # 64-bit int as text
    assert result.args == ("OpaqueRef:vdi", 1073741824)
    assert result.method.asynchronous
    assert not checked("VM.set_name_label", VM, "web").method.asynchronous


@pytest.mark.parametrize(
    ("state", "refused"),
    [("synced", False), ("degraded", False), ("connecting", False), ("disconnected", True),
     ("error", True), ("disabled", True)],
)  # fmt: skip
def test_pools_that_cannot_be_reached_refuse_commands(state: Any, refused: bool) -> None:
    outcome = plan.unavailable(checked("VM.start", VM, False, False), POOL, state)
    assert (outcome is not None) is refused
    if outcome is not None:
        assert outcome.error is not None
        assert (outcome.error.code, outcome.error.params) == ("XORCA_POOL_UNAVAILABLE",
                                                              [POOL, state])  # fmt: skip


def test_not_managed() -> None:
    outcome = plan.not_managed(checked("VM.start", VM, False, False), "other-pool")
    assert outcome.error is not None
    assert (outcome.error.code, outcome.error.params) == ("XORCA_POOL_NOT_MANAGED", ["other-pool"])
    assert plan.malformed(b'{"request_id": "r-2"}', "bad subject").reply.request_id == "r-2"


def test_accepted_as_a_task_or_with_a_result_and_audited() -> None:
    good = checked("VM.clone", VM, "copy")
    task = plan.accepted(good, task="OpaqueRef:task")
    assert task.reply == CommandAccepted(request_id="r-1", task="OpaqueRef:task")
    record = plan.audit_of(task, pool=POOL, collector="c1", now=1_800_000_000)
    assert record is not None
    assert (record.outcome, record.task, record.method, record.args, record.collector) == (
        "accepted", "OpaqueRef:task", "VM.clone", [VM, "copy"], "c1")  # fmt: skip
    assert record.at.timestamp() == 1_800_000_000
    result = plan.accepted(checked("VM.set_name_label", VM, "web"), result="")
    assert result.reply == CommandAccepted(request_id="r-1", result="")


def test_accepted_carries_the_task_uuid_when_it_was_read() -> None:
    good = checked("VM.clone", VM, "copy")
    uuid = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
    task = plan.accepted(good, task="OpaqueRef:task", task_uuid=uuid)
    assert task.reply == CommandAccepted(request_id="r-1", task="OpaqueRef:task", task_uuid=uuid)
    assert orjson.loads(task.reply.to_json())["task_uuid"] == uuid
    # not read: the reply has no such key (a v1 client that predates it sees nothing new)
    unread = plan.accepted(good, task="OpaqueRef:task")
    assert "task_uuid" not in orjson.loads(unread.reply.to_json())


def test_refused_by_xapi_keeps_its_code_and_params() -> None:
    good = checked("VM.start", VM, False, False)
    error = BadPowerState("VM_BAD_POWER_STATE", [VM, "halted", "running"])
    outcome = plan.rejected_by_xapi(good, error)
    assert outcome.outcome == "failed"
    assert outcome.reply == CommandFailed.model_validate(
        {"request_id": "r-1",
         "error": {"code": "VM_BAD_POWER_STATE", "params": [VM, "halted", "running"]}}
    )  # fmt: skip
    lost = plan.rejected_by_xapi(good, ConnectionFailed("Async.VM.start", "refused"))
    assert lost.error is not None and lost.error.code == "XORCA_CONNECTION_FAILED"
