"""Command handling, decided before any I/O: is the body a command, may it run, and what do the
reply and the audit record say.

A command (docs/nats.md, "Commands") is checked whole before anything reaches XAPI: the body
must be a `Command` (``XORCA_MALFORMED_COMMAND``), its method in the allow-list
(``MESSAGE_METHOD_UNKNOWN``), its arguments of the right count and types
(``MESSAGE_PARAMETER_COUNT_MISMATCH``, ``FIELD_TYPE_ERROR``, ``INVALID_VALUE``…). Then the
pool: served by no replica (``XORCA_POOL_NOT_MANAGED``) or known but not connected
(``XORCA_POOL_UNAVAILABLE``). Only then is XAPI called, and its answer becomes the reply: a task,
a result, or XAPI's own error.

Every command that decoded is audited with its outcome (``rejected`` by xorca, ``failed`` in XAPI,
``accepted``); a body too broken to name its actor is answered but not audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from xorca.contracts.audit import AuditOutcome, CommandAudited
from xorca.contracts.base import ErrorBody
from xorca.contracts.codes import UNKNOWN_ERROR
from xorca.contracts.commands import (
    MALFORMED_COMMAND,
    POOL_NOT_MANAGED,
    POOL_UNAVAILABLE,
    AllowedMethod,
    Command,
    CommandAccepted,
    CommandFailed,
    allowed_method,
    failed,
    parse_command,
    request_id_of,
    validate,
)
from xorca.contracts.errors import CommandRejected
from xorca.contracts.status import PoolState
from xorca.xapi.errors import XapiError

__all__ = [
    "UNAVAILABLE",
    "Checked",
    "Outcome",
    "accepted",
    "audit_of",
    "check",
    "malformed",
    "not_managed",
    "refused",
    "rejected_by_xapi",
    "unavailable",
]

#: states in which a pool's commands are refused without trying XAPI
UNAVAILABLE: frozenset[PoolState] = frozenset({"disconnected", "error", "disabled"})


@dataclass(frozen=True, slots=True)
class Checked:
    """A command fit to send: its method and its arguments coerced for XAPI."""

    command: Command
    method: AllowedMethod
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of a command: the reply, and the audit facts (``command`` None: not audited)."""

    reply: CommandAccepted | CommandFailed
    command: Command | None
    outcome: AuditOutcome
    task: str | None = None
    result: JsonValue = None

    @property
    def error(self) -> ErrorBody | None:
        return self.reply.error if isinstance(self.reply, CommandFailed) else None


def refused(command: Command | None, request_id: str | None, error: CommandRejected) -> Outcome:
    """xorca refused the command before XAPI saw it."""
    return Outcome(failed(request_id, error), command, "rejected")


def check(body: bytes) -> Checked | Outcome:
    """The command in ``body`` if it may be sent to XAPI, else its refusal."""
    try:
        command = parse_command(body)
    except CommandRejected as e:
        return refused(None, request_id_of(body), e)
    try:
        method = allowed_method(command.method)
        args = validate(command)
    except CommandRejected as e:
        return refused(command, command.request_id, e)
    return Checked(command, method, args)


def malformed(body: bytes, reason: str) -> Outcome:
    """A request that cannot even be routed (its subject names no pool)."""
    return refused(None, request_id_of(body), CommandRejected(MALFORMED_COMMAND, [reason]))


def not_managed(checked: Checked, pool: str) -> Outcome:
    """No replica serves ``pool``."""
    return refused(
        checked.command, checked.command.request_id, CommandRejected(POOL_NOT_MANAGED, [pool])
    )


def unavailable(checked: Checked, pool: str, state: PoolState) -> Outcome | None:
    """The refusal for a pool we serve but cannot reach now, or None if it may be tried."""
    if state not in UNAVAILABLE:
        return None
    error = CommandRejected(POOL_UNAVAILABLE, [pool, state])
    return refused(checked.command, checked.command.request_id, error)


def accepted(
    checked: Checked,
    *,
    task: str | None = None,
    task_uuid: str | None = None,
    result: JsonValue = None,
) -> Outcome:
    """XAPI took the call: a task to follow (by ref, and by uuid when it could be read), or the
    result of a synchronous call."""
    request_id = checked.command.request_id
    if task is not None:
        reply = CommandAccepted(request_id=request_id, task=task, task_uuid=task_uuid)
        return Outcome(reply, checked.command, "accepted", task=task)
    reply = CommandAccepted(request_id=request_id, result=result)
    return Outcome(reply, checked.command, "accepted", result=result)


def rejected_by_xapi(checked: Checked, error: XapiError) -> Outcome:
    """XAPI refused the call (or could not be reached): its code, or the client's ``XORCA_*``."""
    body = ErrorBody(code=error.code or UNKNOWN_ERROR, params=[str(p) for p in error.params])
    reply = CommandFailed(request_id=checked.command.request_id, error=body)
    return Outcome(reply, checked.command, "failed")


def audit_of(outcome: Outcome, *, pool: str, collector: str, now: float) -> CommandAudited | None:
    """The audit record of ``outcome`` (None when the body named no actor)."""
    command = outcome.command
    if command is None:
        return None
    return CommandAudited(
        request_id=command.request_id,
        actor=command.actor,
        method=command.method,
        args=command.args,
        pool=pool,
        outcome=outcome.outcome,
        task=outcome.task,
        result=outcome.result,
        error=outcome.error,
        collector=collector,
        at=datetime.fromtimestamp(now, UTC),
    )
