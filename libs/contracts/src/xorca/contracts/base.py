"""What every message model shares: frozen values, JSON via pydantic, tolerant of new fields.

Messages are values: once built they never change (``frozen``). A field that a model does not know
is ignored when decoding, because within ``v1`` the contract only grows by optional fields
(docs/nats.md, "Versioning"): a producer that is one release ahead must not break the consumers.
`Command` is the exception and refuses unknown fields: a field the collector does not understand
may be one the caller counted on, and a command is refused rather than half understood.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = ["ErrorBody", "JsonValue", "Message", "OutgoingMessage", "Token"]


class Message(BaseModel):
    """Base of every message body in the contract."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_json(self) -> bytes:
        """The body as it travels: compact JSON, fields that are None left out."""
        return self.model_dump_json(exclude_none=True).encode()


class ErrorBody(Message):
    """An error as XAPI reports one: a code and its string parameters (``XORCA_*``: ours)."""

    code: Annotated[str, Field(min_length=1, max_length=128, examples=["VM_BAD_POWER_STATE"])]
    params: list[str] = Field(default_factory=list)


#: a subject token that xorca itself names (registry ids, request ids): letters, digits, ``_ - :``
Token = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_:\-]+$")]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message ready for ``js.publish(subject, body, headers=headers)`` (or core NATS)."""

    subject: str
    headers: dict[str, str]
    body: bytes
