"""Commands: request/reply on ``xorca.v1.cmd.<pool_uuid>``, checked here before XAPI sees them.

Request body `Command` ``{method, args, actor, request_id}``:

- ``method`` is an XAPI wire name from `ALLOWED_METHODS` (``VM.start``, ``VDI.create``…), exactly
  as the datamodel spells it; anything else is ``MESSAGE_METHOD_UNKNOWN [method]``;
- ``args`` are the XAPI parameters *after* the session, in order: the collector supplies the
  session. Their count and types are checked against the datamodel (`validate`);
- ``actor`` is who asked (as the api authenticated them), recorded on the audit stream;
- ``request_id`` is the caller's id for this request, echoed in the reply and the audit record.

Reply: `CommandAccepted` ``{request_id, task, task_uuid}`` when XAPI runs the call as a task
(every allowed method except the field setters and ``task.cancel``, which XAPI runs
synchronously: those answer ``{request_id, result}`` once done), or `CommandFailed`
``{request_id, error: {code, params}}`` with XAPI's own code, or one of ours.

==========================  ==================================================================
`CommandAccepted` field     meaning
==========================  ==================================================================
request_id                  the command's, echoed
task                        the XAPI task ref (async methods): valid in this pool only
task_uuid                   the task's uuid, the id of the ``task`` object clients follow
                            (``/api/v1/tasks/<uuid>``, ``xorca.v1.obj.<pool>.task.<uuid>``);
                            added within v1, so optional: absent when the collector could not
                            read it (the task runs all the same) or predates the field
result                      the return value of a synchronous call
==========================  ==================================================================

The refusals:

==========================  =================  ===============================================
code                        params             meaning
==========================  =================  ===============================================
MESSAGE_METHOD_UNKNOWN      [method]           not in the allow-list (XAPI's code)
MESSAGE_PARAMETER_COUNT_    [method, expected, wrong number of args (XAPI's code; ``expected``
MISMATCH                    given]             counts the args, the session excluded)
FIELD_TYPE_ERROR            [param]            an argument of the wrong type (XAPI's code)
INVALID_VALUE               [param, value]     a value outside its enum (XAPI's code)
XORCA_UNKNOWN_FIELD         [param, field]     a constructor record with a field XAPI lacks
XORCA_MALFORMED_COMMAND     [reason]           the body is not a `Command`
XORCA_POOL_NOT_MANAGED      [pool]             no collector serves this pool
XORCA_POOL_UNAVAILABLE      [pool, state]      the pool is known but not connected
==========================  =================  ===============================================
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

import orjson
from pydantic import ConfigDict, Field, JsonValue, ValidationError

from xorca.contracts.arguments import check_argument
from xorca.contracts.base import ErrorBody, Message, Token
from xorca.contracts.codes import MALFORMED_COMMAND, POOL_NOT_MANAGED, POOL_UNAVAILABLE
from xorca.contracts.errors import CommandRejected, MalformedMessage
from xorca.xapi.codes import MESSAGE_METHOD_UNKNOWN, MESSAGE_PARAMETER_COUNT_MISMATCH
from xorca.xapi.datamodel import MessageDef, Param, datamodel, type_name

__all__ = [
    "ALLOWED_METHODS",
    "MALFORMED_COMMAND",
    "METHOD_UNKNOWN",
    "PARAMETER_COUNT_MISMATCH",
    "POOL_NOT_MANAGED",
    "POOL_UNAVAILABLE",
    "AllowedMethod",
    "Command",
    "CommandAccepted",
    "CommandFailed",
    "CommandReply",
    "allowed_method",
    "ensure_managed",
    "failed",
    "parse_command",
    "parse_reply",
    "request_id_of",
    "validate",
]

# the refusals' codes are defined in xorca.contracts.codes (xorca's) and xorca.xapi.codes (XAPI's);
# named here too, as this module always has
METHOD_UNKNOWN = MESSAGE_METHOD_UNKNOWN
PARAMETER_COUNT_MISMATCH = MESSAGE_PARAMETER_COUNT_MISMATCH

_TOKEN = re.compile(r"^[A-Za-z0-9_:\-]{1,128}$")
_NAMES_AND_TAGS = ("set_name_label", "set_name_description", "add_tags", "remove_tags")

#: class -> messages a client may call through xorca (the session is always the collector's)
ALLOWED: dict[str, tuple[str, ...]] = {
    "VM": (
        "start",
        "start_on",
        "clean_shutdown",
        "hard_shutdown",
        "clean_reboot",
        "hard_reboot",
        "suspend",
        "resume",
        "resume_on",
        "pause",
        "unpause",
        "pool_migrate",
        "clone",
        "copy",
        "snapshot",
        "checkpoint",
        "revert",
        "destroy",
        *_NAMES_AND_TAGS,
    ),
    "host": ("enable", "disable", *_NAMES_AND_TAGS),
    "VDI": ("create", "destroy", "resize", "snapshot", "clone", *_NAMES_AND_TAGS),
    "VBD": ("create", "destroy", "plug", "unplug", "insert", "eject"),
    "VIF": ("create", "destroy", "plug", "unplug"),
    "SR": _NAMES_AND_TAGS,
    "network": _NAMES_AND_TAGS,
    "pool": _NAMES_AND_TAGS,
    "task": ("cancel",),
}

#: classes whose messages XAPI never runs as tasks (no ``Async.`` form)
_NO_ASYNC_CLASSES = frozenset({"session", "task", "event"})


@dataclass(frozen=True, slots=True)
class AllowedMethod:
    """One method of the allow-list, as the collector calls it."""

    wire: str
    #: the parameters a command gives (the datamodel's, without ``session_id``)
    params: tuple[Param, ...]
    #: called as ``Async.<wire>`` (the reply is a task); else synchronously (the reply a result)
    asynchronous: bool
    message: MessageDef

    @property
    def required(self) -> int:
        n = len(self.params)
        while n > 0 and not self.params[n - 1].required:
            n -= 1
        return n

    def signature(self) -> str:
        """``VM.start(vm: VM ref, start_paused: bool, force: bool)``, for documentation."""
        inner = ", ".join(
            f"{p.name}: {type_name(p.type)}{'' if p.required else ' = default'}"
            for p in self.params
        )
        return f"{self.wire}({inner})"


@cache
def allowed_methods() -> dict[str, AllowedMethod]:
    """Every allowed method by wire name, read from the datamodel once."""
    dm = datamodel()
    out: dict[str, AllowedMethod] = {}
    for cls, names in ALLOWED.items():
        for name in names:
            mdef = dm.classes[cls].messages[name]
            params = mdef.params[1:] if mdef.takes_session else mdef.params
            asynchronous = cls not in _NO_ASYNC_CLASSES and (
                not mdef.implicit or name in ("create", "destroy")
            )
            out[mdef.wire_name] = AllowedMethod(mdef.wire_name, params, asynchronous, mdef)
    return out


ALLOWED_METHODS: tuple[str, ...] = tuple(
    sorted(f"{c}.{m}" for c, ms in ALLOWED.items() for m in ms)
)


def allowed_method(method: str) -> AllowedMethod:
    """The allowed method ``method``, or ``MESSAGE_METHOD_UNKNOWN [method]``."""
    found = allowed_methods().get(method)
    if found is None:
        raise CommandRejected(METHOD_UNKNOWN, [method])
    return found


class Command(Message):
    """A request to run one XAPI call on the pool of the subject (unknown fields refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Annotated[str, Field(min_length=1, max_length=128, examples=["VM.start"])]
    args: Annotated[
        list[JsonValue],
        Field(description="XAPI parameters after the session", examples=[["OpaqueRef:…", False]]),
    ] = Field(default_factory=list)
    actor: Annotated[
        str, Field(min_length=1, max_length=256, description="who asked", examples=["user:alice"])
    ]
    request_id: Annotated[Token, Field(description="the caller's id, echoed in reply and audit")]


class CommandAccepted(Message):
    """XAPI took the call: ``task`` (and ``task_uuid``) to follow it (async methods), or its
    ``result`` (sync ones)."""

    request_id: Token | None = None
    task: Annotated[str | None, Field(description="XAPI task ref", examples=["OpaqueRef:…"])] = None
    task_uuid: Annotated[
        str | None,
        Field(
            description="the task's uuid, the id of its task object (absent: not read)",
            examples=["1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"],
        ),
    ] = None
    result: Annotated[JsonValue, Field(description="result of a synchronous call")] = None


class CommandFailed(Message):
    """The call was refused, by xorca before XAPI or by XAPI itself."""

    request_id: Token | None = None
    error: ErrorBody


CommandReply = CommandAccepted | CommandFailed


def parse_command(body: bytes) -> Command:
    """The command in a request body, or ``XORCA_MALFORMED_COMMAND [reason]``."""
    try:
        return Command.model_validate_json(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise CommandRejected(MALFORMED_COMMAND, [f"{where}: {first['msg']}"]) from e


def request_id_of(body: bytes) -> str | None:
    """The ``request_id`` of a body that may not be a valid command, so its refusal can echo it."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = raw.get("request_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and _TOKEN.match(value) else None


def validate(cmd: Command) -> tuple[Any, ...]:
    """The command's arguments coerced to what XAPI expects, or `CommandRejected`."""
    method = allowed_method(cmd.method)
    if not method.required <= len(cmd.args) <= len(method.params):
        raise CommandRejected(
            PARAMETER_COUNT_MISMATCH, [method.wire, len(method.params), len(cmd.args)]
        )
    return tuple(
        check_argument(param.type, value, param.name)
        for param, value in zip(method.params, cmd.args, strict=False)
    )


def ensure_managed(pool: str, managed: Container[str]) -> None:
    """``XORCA_POOL_NOT_MANAGED [pool]`` unless ``pool`` is one of ``managed``."""
    if pool not in managed:
        raise CommandRejected(POOL_NOT_MANAGED, [pool])


def failed(request_id: str | None, error: CommandRejected) -> CommandFailed:
    """The reply for a refused command."""
    return CommandFailed(
        request_id=request_id, error=ErrorBody(code=error.code, params=error.params)
    )


def parse_reply(body: bytes) -> CommandReply:
    """A reply as a client reads it: a failure if it has ``error``, else an acceptance."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise MalformedMessage(f"command reply is not JSON: {e}") from e
    if not isinstance(raw, dict):
        raise MalformedMessage("command reply is not a JSON object")
    try:
        if "error" in raw:
            return CommandFailed.model_validate(raw)
        return CommandAccepted.model_validate(raw)
    except ValidationError as e:
        raise MalformedMessage(f"not a command reply: {e.errors()[0]['msg']}") from e
