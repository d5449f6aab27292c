"""The audit record of a command: who asked what of which pool, and what came of it.

Stream XORCA_AUDIT, subject ``xorca.v1.audit.<pool_uuid>``, one `CommandAudited` per command
that a collector decoded (a body too malformed to name its actor is not audited: there is no one
to hold to account, and such bodies are the cheapest to flood with). Outcomes:

- ``accepted``: XAPI took the call (``task`` is its task, or ``result`` is given for sync calls);
- ``failed``: XAPI refused it (``error`` has XAPI's code);
- ``rejected``: xorca refused it before XAPI (``error`` has the code of commands.py).

``Nats-Msg-Id`` is ``audit.<pool>.<request_id>``: a collector that retries the publish after a
lost acknowledgement does not record the command twice.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, JsonValue

from xorca.contracts.base import ErrorBody, Message, OutgoingMessage, Token
from xorca.contracts.errors import InvalidSubject, MalformedMessage
from xorca.contracts.objects import MSG_ID_HEADER
from xorca.contracts.subjects import audit_subject, check_token, parse_audit_subject

__all__ = ["AuditOutcome", "CommandAudited", "decode_audit", "encode_audit"]

AuditOutcome = Literal["accepted", "failed", "rejected"]


class CommandAudited(Message):
    """One command and its outcome, as recorded on XORCA_AUDIT."""

    request_id: Token
    actor: Annotated[str, Field(min_length=1, max_length=256)]
    method: Annotated[str, Field(min_length=1, max_length=128)]
    args: list[JsonValue] = Field(default_factory=list)
    pool: Annotated[str, Field(description="uuid of the pool the command was sent to")]
    outcome: AuditOutcome
    task: Annotated[str | None, Field(description="XAPI task ref when accepted as a task")] = None
    result: JsonValue = None
    error: ErrorBody | None = None
    collector: Annotated[str | None, Field(description="id of the collector replica")] = None
    at: Annotated[AwareDatetime, Field(description="when the outcome was known")]

    @property
    def subject(self) -> str:
        return audit_subject(self.pool)

    @property
    def msg_id(self) -> str:
        return f"audit.{check_token(self.pool)}.{self.request_id}"


def encode_audit(record: CommandAudited) -> OutgoingMessage:
    return OutgoingMessage(record.subject, {MSG_ID_HEADER: record.msg_id}, record.to_json())


def decode_audit(subject: str, body: bytes) -> CommandAudited:
    try:
        pool = parse_audit_subject(subject)
        record = CommandAudited.model_validate_json(body)
    except (InvalidSubject, ValueError) as e:
        raise MalformedMessage(f"{subject}: {e}") from e
    if record.pool != pool:
        raise MalformedMessage(f"{subject}: body is about pool {record.pool}")
    return record
