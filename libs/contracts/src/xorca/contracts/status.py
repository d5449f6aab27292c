"""Pool status: how current the objects of one managed pool are, as a message of its own.

Clients show a pool's objects as *stale* (greyed, with "since …") instead of showing ghosts, and
tell "still loading" from "unreachable" from "misconfigured", only from these messages.

Where: subject ``xorca.v1.status.<registry_id>``, **in stream XORCA_OBJECTS** next to the object
changes. One stream means one sequence: a consumer that reads ``xorca.v1.obj.<pool>.>`` together
with ``xorca.v1.status.>`` sees a pool go ``disconnected`` exactly after the last change that was
published before it, and ``synced`` again after the resynchronisation's changes, in order. The
stream keeps the same bounded history per subject for statuses as for objects, so the newest status
of every pool is always there for a replay from the start.

Why the registry id and not the pool uuid in the subject: a pool's uuid is only known once a
collector has logged in to it. A registry entry that never connected (bad URL, refused password,
malformed entry) must still be reported, and two entries that point at the same pool must not
overwrite each other's status. The pool uuid is in the body as soon as it is known.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from xorca.contracts.base import ErrorBody, Message, OutgoingMessage, Token
from xorca.contracts.errors import InvalidSubject, MalformedMessage
from xorca.contracts.subjects import parse_status_subject, status_subject

__all__ = ["PoolState", "PoolStatusChanged", "decode_status", "encode_status"]

PoolState = Literal["connecting", "synced", "degraded", "disconnected", "disabled", "error"]
"""
- ``connecting``: logging in or loading; objects may be missing or stale;
- ``synced``: the event loop runs, objects are current up to ``last_event_at``;
- ``degraded``: connected, but the view may lag or be partial (resynchronising, a member host
  unreachable); ``error`` says why;
- ``disconnected``: the pool is unreachable since ``since``; objects are what they were then,
  and the collector keeps retrying;
- ``disabled``: the registry entry is disabled; nobody watches the pool;
- ``error``: the entry cannot be used until a human changes it (malformed entry, undecryptable
  password, refused credentials); ``error`` says why, and the collector does not retry.
"""


class PoolStatusChanged(Message):
    """The state of one managed pool, published on every change of state (and of master)."""

    registry_id: Annotated[Token, Field(description="id of the pool's registry entry")]
    pool_uuid: Annotated[
        str | None, Field(description="the XAPI pool's uuid, once a collector has seen it")
    ] = None
    state: PoolState
    since: Annotated[AwareDatetime, Field(description="when the pool entered this state")]
    master: Annotated[
        str | None, Field(description="address of the pool master the collector talks to")
    ] = None
    last_event_at: Annotated[
        AwareDatetime | None, Field(description="when the collector last received an event")
    ] = None
    error: Annotated[
        ErrorBody | None, Field(description="why, for degraded/disconnected/error")
    ] = None
    collector: Annotated[str, Field(min_length=1, description="id of the collector replica")]
    at: Annotated[AwareDatetime, Field(description="when this message was published")]

    @property
    def subject(self) -> str:
        return status_subject(self.registry_id)

    @property
    def is_current(self) -> bool:
        """Whether a client may present the pool's objects as up to date."""
        return self.state == "synced"


def encode_status(status: PoolStatusChanged) -> OutgoingMessage:
    """Statuses carry no ``Nats-Msg-Id``: publishing the same status twice is harmless."""
    return OutgoingMessage(status.subject, {}, status.to_json())


def decode_status(subject: str, body: bytes) -> PoolStatusChanged:
    try:
        registry_id = parse_status_subject(subject)
        status = PoolStatusChanged.model_validate_json(body)
    except (InvalidSubject, ValueError) as e:
        raise MalformedMessage(f"{subject}: {e}") from e
    if status.registry_id != registry_id:
        raise MalformedMessage(f"{subject}: body is about {status.registry_id}")
    return status
