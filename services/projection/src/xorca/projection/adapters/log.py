"""Reading XORCA_OBJECTS in order from a given sequence, and publishing on core NATS.

The position the projection trusts is the one in the store, never the server's: the reader is an
ephemeral pull consumer without acknowledgements (``ack_policy=none``), created at ``position +
1`` and thrown away at the first failure. Whatever was fetched and not committed is fetched again
from the store's position by the next reader, so each message is applied once. Fetching at most a
batch at a time, and only after the previous batch is committed, keeps the client's buffer small:
nothing is ever dropped as a slow consumer.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from xorca.bus.connection import NATS_ERRORS, NatsBus
from xorca.contracts.base import OutgoingMessage
from xorca.contracts.subjects import OBJECTS_STREAM

__all__ = ["LogMessage", "LogReader", "StreamState", "publish"]

#: seconds the server keeps a reader that stopped fetching (a crashed projection's)
_INACTIVE = 30.0


@dataclass(frozen=True, slots=True)
class LogMessage:
    seq: int
    at: datetime
    subject: str
    headers: dict[str, str] | None
    body: bytes
    pending: int  # messages after this one in the stream, as the server counted them


@dataclass(frozen=True, slots=True)
class StreamState:
    """What identifies the stream (its creation time) and how far it goes."""

    created: str
    first_seq: int
    last_seq: int


async def stream_state(js: JetStreamContext) -> StreamState:
    info = await js.stream_info(OBJECTS_STREAM)
    created = getattr(info, "created", None)
    return StreamState(
        created=created.isoformat() if isinstance(created, datetime) else str(created),
        first_seq=info.state.first_seq,
        last_seq=info.state.last_seq,
    )


class LogReader:
    """The messages of XORCA_OBJECTS from ``start`` on, a batch at a time."""

    def __init__(self, bus: NatsBus, start: int, *, batch: int, wait: float) -> None:
        self._bus = bus
        self._start = start
        self._batch = batch
        self._wait = wait
        self._sub: JetStreamContext.PullSubscription | None = None

    async def open(self) -> None:
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE
            if self._start > 1
            else DeliverPolicy.ALL,
            opt_start_seq=self._start if self._start > 1 else None,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=_INACTIVE,
            max_deliver=1,
            description="xorca projection reader",
        )
        self._sub = await self._bus.js.pull_subscribe(
            "", durable=None, stream=OBJECTS_STREAM, config=config
        )

    async def fetch(self) -> list[LogMessage]:
        """The next messages (up to a batch), waiting up to ``wait`` for the first; [] if none."""
        assert self._sub is not None, "open() first"
        try:
            msgs = await self._sub.fetch(self._batch, timeout=self._wait)
        except TimeoutError:
            return []
        out = []
        for msg in msgs:
            meta = msg.metadata
            out.append(
                LogMessage(
                    seq=meta.sequence.stream,
                    at=meta.timestamp,
                    subject=msg.subject,
                    headers=msg.headers,
                    body=msg.data,
                    pending=meta.num_pending,
                )
            )
        return out

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(*NATS_ERRORS):
                await self._sub.unsubscribe()
            self._sub = None


async def publish(bus: NatsBus, message: OutgoingMessage) -> None:
    """A core NATS publish (buffered by the client; lost only if NATS is away)."""
    await bus.nc.publish(message.subject, message.body, headers=message.headers or None)
