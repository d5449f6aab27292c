"""The object-change message: one XAPI object's record after a change, on its own subject.

On the wire (stream XORCA_OBJECTS)::

    subject  xorca.v1.obj.<pool_uuid>.<xapi_class>.<object_uuid>
    headers  Xorca-Op: add | mod | del
             Xorca-Ref: OpaqueRef:…            the object's XAPI ref in its pool
             Xorca-Pool: <pool_uuid>           the same as in the subject
             Xorca-Class: <xapi_class>         lowercase, as event.from names it
             Nats-Msg-Id: <32 hex digits>      the chain of msgid.py
             Nats-Rollup: sub                  on ``del`` only: older versions of the subject go
             Nats-TTL: <seconds>               on ``del`` only, when a tombstone horizon is set
    body     the XAPI record, JSON, exactly as XAPI gave it (no xorca fields)

Why the body is the raw record: the log is the source of truth and must not lose anything a later
projection may want. Everything xorca adds travels in headers.

``del``: XAPI's ``del`` events carry no record. The body of a ``del`` is the *last record the
publisher knew* for that object, or ``{}`` when it knew none (an object that vanished while the
collector was away). Consumers must treat the body of a ``del`` as informative only. A ``del``
also rolls the subject up (``Nats-Rollup: sub`` deletes its older messages at once) and, when the
stream has a tombstone horizon, expires after it (``Nats-TTL``), so that objects that come and go
(tasks, messages) do not grow the stream forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, ValidationError, field_validator

from xorca.contracts.base import Message, OutgoingMessage
from xorca.contracts.errors import InvalidSubject, MalformedMessage
from xorca.contracts.msgid import next_msg_id
from xorca.contracts.subjects import check_class, check_token, object_subject, parse_object_subject

__all__ = [
    "CLASS_HEADER",
    "MSG_ID_HEADER",
    "OP_HEADER",
    "POOL_HEADER",
    "REF_HEADER",
    "ROLLUP_HEADER",
    "TTL_HEADER",
    "ObjectChanged",
    "ObjectHeaders",
    "Operation",
    "decode_object",
    "encode_object",
    "msg_id_of",
]

OP_HEADER = "Xorca-Op"
REF_HEADER = "Xorca-Ref"
POOL_HEADER = "Xorca-Pool"
CLASS_HEADER = "Xorca-Class"
MSG_ID_HEADER = "Nats-Msg-Id"
ROLLUP_HEADER = "Nats-Rollup"
TTL_HEADER = "Nats-TTL"

Operation = Literal["add", "mod", "del"]
_OPERATIONS: dict[str | None, Operation] = {"add": "add", "mod": "mod", "del": "del"}

Ref = Annotated[str, Field(min_length=1, max_length=256, examples=["OpaqueRef:6e8f0c52-…"])]


class ObjectChanged(Message):
    """One XAPI object after a change (or its last known record, for ``del``)."""

    pool: Annotated[str, Field(description="uuid of the XAPI pool")]
    xapi_class: Annotated[str, Field(description="lowercase XAPI class, e.g. vm, vm_metrics")]
    uuid: Annotated[str, Field(description="uuid of the object")]
    ref: Ref
    op: Operation
    record: dict[str, Any] = Field(default_factory=dict)

    @field_validator("pool", "uuid")
    @classmethod
    def _token(cls, value: str) -> str:
        return check_token(value)

    @field_validator("xapi_class", mode="before")
    @classmethod
    def _lower_class(cls, value: object) -> object:
        return check_class(value.lower()) if isinstance(value, str) else value

    @property
    def subject(self) -> str:
        return object_subject(self.pool, self.xapi_class, self.uuid)


class ObjectHeaders(Message):
    """The headers of an object-change message (described for the AsyncAPI document)."""

    op: Annotated[Operation, Field(alias=OP_HEADER)]
    ref: Annotated[str, Field(alias=REF_HEADER, description="the object's XAPI ref")]
    pool: Annotated[str, Field(alias=POOL_HEADER, description="pool uuid, as in the subject")]
    xapi_class: Annotated[str, Field(alias=CLASS_HEADER, description="as in the subject")]
    msg_id: Annotated[
        str,
        Field(
            alias=MSG_ID_HEADER,
            description="sha256(subject NUL previous id NUL op NUL body)[:32], see docs/nats.md",
            pattern="^[0-9a-f]{32}$",
        ),
    ]
    rollup: Annotated[
        Literal["sub"] | None,
        Field(alias=ROLLUP_HEADER, description="on del: older messages of the subject are gone"),
    ] = None
    ttl: Annotated[
        str | None,
        Field(alias=TTL_HEADER, description="on del: seconds the tombstone is kept"),
    ] = None


def encode_object(
    change: ObjectChanged, previous_id: str, *, tombstone_ttl: float | None = None
) -> OutgoingMessage:
    """The message for ``change``, chained after ``previous_id`` (`msgid.GENESIS` if none)."""
    subject = change.subject
    body = orjson.dumps(change.record)
    headers = {
        OP_HEADER: change.op,
        REF_HEADER: change.ref,
        POOL_HEADER: change.pool,
        CLASS_HEADER: change.xapi_class,
        MSG_ID_HEADER: next_msg_id(subject, previous_id, change.op, body),
    }
    if change.op == "del":
        headers[ROLLUP_HEADER] = "sub"
        if tombstone_ttl:
            headers[TTL_HEADER] = str(max(1, int(tombstone_ttl)))
    return OutgoingMessage(subject, headers, body)


def decode_object(subject: str, headers: Mapping[str, str] | None, body: bytes) -> ObjectChanged:
    """The change a message of XORCA_OBJECTS carries; `MalformedMessage` if it breaks the rules."""
    try:
        address = parse_object_subject(subject)
    except InvalidSubject as e:
        raise MalformedMessage(str(e)) from e
    headers = headers or {}
    op = _OPERATIONS.get(headers.get(OP_HEADER))
    if op is None:
        raise MalformedMessage(
            f"{subject}: {OP_HEADER} is {headers.get(OP_HEADER)!r}, not add, mod or del"
        )
    for name, expected in ((POOL_HEADER, address.pool), (CLASS_HEADER, address.xapi_class)):
        if headers.get(name, expected) != expected:
            raise MalformedMessage(f"{subject}: {name} {headers[name]!r} disagrees with subject")
    try:
        record = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as e:
        raise MalformedMessage(f"{subject}: body is not JSON ({e})") from e
    if not isinstance(record, dict):
        raise MalformedMessage(f"{subject}: body is not a JSON object")
    try:
        return ObjectChanged(
            pool=address.pool,
            xapi_class=address.xapi_class,
            uuid=address.uuid,
            ref=headers.get(REF_HEADER, ""),
            op=op,
            record=record,
        )
    except ValidationError as e:
        raise MalformedMessage(f"{subject}: {e.errors()[0]['msg']}") from e


def msg_id_of(headers: Mapping[str, str] | None) -> str | None:
    """The ``Nats-Msg-Id`` of a stored message, if it has one."""
    return (headers or {}).get(MSG_ID_HEADER)
