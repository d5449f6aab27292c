"""Writing and reading the log (stream XORCA_OBJECTS): the publisher that keeps the msg-id chain,
and the decoder of whatever a consumer of the stream receives.

`ObjectLogPublisher` remembers, per subject, the last message it knows of: its ``Nats-Msg-Id``, a
digest of its operation and body, and its sequence. For a subject it has not published on since it
started, it asks the stream for the subject's last message (a direct get: one round trip). Then:

- a change identical (same op, same body) to that last message is not published at all: the
  stream already says it. This is what makes a republish *after a restart* harmless, where the
  chain alone would not (the restarted publisher chains after the very message it is repeating);
- any other change is published chained after the last id, so a retry after a lost acknowledgement,
  or the same change published by two replicas during a lease handover (both chained after the same
  previous message), gets the same id and JetStream drops the second as a duplicate.

What it learns is remembered only once JetStream acknowledged the message: a publish that failed
or timed out may simply be retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NotFoundError

from xorca.contracts.base import OutgoingMessage
from xorca.contracts.errors import MalformedMessage
from xorca.contracts.msgid import GENESIS
from xorca.contracts.objects import (
    MSG_ID_HEADER,
    OP_HEADER,
    ObjectChanged,
    decode_object,
    encode_object,
)
from xorca.contracts.setup import DEFAULT_TOMBSTONE_TTL
from xorca.contracts.status import PoolStatusChanged, decode_status, encode_status
from xorca.contracts.subjects import OBJ, OBJECTS_STREAM, STATUS

__all__ = ["ObjectLogPublisher", "decode_log_entry"]


@dataclass(frozen=True, slots=True)
class _Last:
    msg_id: str
    digest: bytes
    seq: int


_NOTHING = _Last(GENESIS, b"", 0)


def _digest(op: str, body: bytes) -> bytes:
    return hashlib.sha256(op.encode() + b"\0" + body).digest()


class ObjectLogPublisher:
    """Publishes object changes and pool statuses to XORCA_OBJECTS."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        tombstone_ttl: float | None = DEFAULT_TOMBSTONE_TTL,
        timeout: float | None = None,
    ) -> None:
        self._js = js
        self._tombstone_ttl = tombstone_ttl
        self._timeout = timeout
        self._last: dict[str, _Last] = {}

    async def _last_of(self, subject: str) -> _Last:
        known = self._last.get(subject)
        if known is not None:
            return known
        try:
            stored = await self._js.get_msg(OBJECTS_STREAM, subject=subject, direct=True)
        except NotFoundError:
            last = _NOTHING
        else:
            headers = stored.headers or {}
            last = _Last(
                headers.get(MSG_ID_HEADER, GENESIS),
                _digest(headers.get(OP_HEADER, ""), stored.data or b""),
                stored.seq or 0,
            )
        self._last[subject] = last
        return last

    async def previous_id(self, subject: str) -> str:
        """The id the next change on ``subject`` chains after: remembered, else read back."""
        return (await self._last_of(subject)).msg_id

    def encode(self, change: ObjectChanged, previous_id: str) -> OutgoingMessage:
        return encode_object(change, previous_id, tombstone_ttl=self._tombstone_ttl)

    async def publish(self, change: ObjectChanged) -> PubAck:
        """Publish ``change``. ``ack.duplicate`` is true, and ``ack.seq`` the stored message's,
        when the stream already had it (JetStream dropped it, or it was not even sent)."""
        last = await self._last_of(change.subject)
        message = self.encode(change, last.msg_id)
        digest = _digest(change.op, message.body)
        if digest == last.digest:
            return PubAck(stream=OBJECTS_STREAM, seq=last.seq, duplicate=True)
        ack = await self._send(message)
        self._last[message.subject] = _Last(message.headers[MSG_ID_HEADER], digest, ack.seq)
        return ack

    async def publish_status(self, status: PoolStatusChanged) -> PubAck:
        return await self._send(encode_status(status))

    def forget(self) -> None:
        """Drop everything remembered (after the stream was recreated, say)."""
        self._last.clear()

    async def _send(self, message: OutgoingMessage) -> PubAck:
        return await self._js.publish(
            message.subject,
            message.body,
            timeout=self._timeout,
            headers=dict(message.headers) or None,
        )


def decode_log_entry(
    subject: str, headers: Mapping[str, str] | None, body: bytes
) -> ObjectChanged | PoolStatusChanged:
    """Whatever a consumer of XORCA_OBJECTS receives, decoded by its subject."""
    if subject.startswith(OBJ + "."):
        return decode_object(subject, headers, body)
    if subject.startswith(STATUS + "."):
        return decode_status(subject, body)
    raise MalformedMessage(f"{subject!r} is not a subject of {OBJECTS_STREAM}")
