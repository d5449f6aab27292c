"""The log on JetStream: reading back what a pool's subjects hold, and publishing with a bounded
window of unacknowledged messages.

Reading: the newest message of every subject of a pool comes from one ephemeral pull consumer
with ``deliver_policy=last_per_subject`` (one pass over the pool's subjects, no acks, nothing left
on the server), and one subject's newest message from a direct get.

Publishing (`JetStreamLog.send`): up to ``max_in_flight`` messages are sent before the oldest
acknowledgement is awaited (``publish_async``; LIMITS.md: ~9 times the rate of awaiting each ack).
Each acknowledgement is awaited until ``ack_timeout`` after *its* send, so a dead connection costs
one timeout, not one per message. At the first failure, or as soon as the connection is down,
sending stops: the messages already sent are settled (acknowledged or failed), and the rest is
handed back untouched, to be sent once NATS is back. Memory stays bounded by the window whatever
the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, PubAck
from nats.js.errors import NotFoundError

from xorca.bus.connection import NATS_ERRORS, NatsBus
from xorca.collector.core.publish import Planned, Stored
from xorca.contracts.base import OutgoingMessage
from xorca.contracts.subjects import OBJECTS_STREAM, objects_filter

__all__ = ["JetStreamLog", "Sent", "last_per_subject"]

log = logging.getLogger(__name__)

#: messages sent between two yields to the event loop
_FAIRNESS = 64
#: room kept in a message for its subject and headers when checking the server's max payload
_HEADROOM = 1024


@dataclass
class Sent:
    """What became of one `JetStreamLog.send`."""

    #: messages whose fate is unknown (no ack in time, or an error): check before resending
    failed: list[Planned] = field(default_factory=list)
    #: the messages not sent at all (sending stopped at a failure), still lazy
    rest: Iterator[Planned] | None = None
    #: messages larger than the server accepts: never sent (sending them would fail for ever)
    too_large: list[Planned] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed and self.rest is None


class JetStreamLog:
    """XORCA_OBJECTS as the collector reads and writes it."""

    def __init__(
        self,
        bus: NatsBus,
        *,
        max_in_flight: int = 1000,
        ack_timeout: float = 5.0,
        in_flight: Callable[[int], None] | None = None,
    ) -> None:
        self.bus = bus
        self.max_in_flight = max_in_flight
        self.ack_timeout = ack_timeout
        self._report_in_flight = in_flight or (lambda n: None)

    # -------------------------------------------------------------------------------- reading

    async def read_last(self, pool: str) -> dict[str, Stored]:
        """The newest message of every subject of ``pool`` (``xorca.v1.obj.<pool>.>``)."""
        out: dict[str, Stored] = {}
        async for msg in last_per_subject(self.bus.js, objects_filter(pool)):
            meta = msg.metadata
            out[msg.subject] = Stored.of_message(msg.headers, msg.data, meta.sequence.stream)
        return out

    async def fetch_last(self, subject: str) -> Stored | None:
        """The newest message on ``subject``, or None if it has none."""
        try:
            stored = await self.bus.js.get_msg(OBJECTS_STREAM, subject=subject, direct=True)
        except NotFoundError:
            return None
        return Stored.of_message(stored.headers, stored.data, stored.seq or 0)

    # ------------------------------------------------------------------------------ publishing

    async def send(
        self, messages: Iterator[Planned], stored: Callable[[Planned, PubAck], None]
    ) -> Sent:
        """Publish ``messages`` in order with a bounded window; ``stored`` is called for each
        acknowledged one (``ack.duplicate``: JetStream already had it)."""
        js = self.bus.js
        window: deque[tuple[Planned, asyncio.Future[PubAck], float]] = deque()
        result = Sent()
        try:
            for sent, message in enumerate(messages, 1):
                if sent % _FAIRNESS == 0:
                    # publish_async rarely suspends: let lease renewals, commands, other pools in
                    await asyncio.sleep(0)
                if result.failed or not self.bus.connected:
                    result.rest = _prepend(message, messages)
                    break
                if len(message.body) + _HEADROOM > self.bus.nc.max_payload:
                    result.too_large.append(message)
                    continue
                while len(window) >= self.max_in_flight:
                    await self._settle(window.popleft(), stored, result)
                try:
                    # nats-py only reads the headers: no copy needed
                    future = await js.publish_async(
                        message.subject, message.body, headers=message.headers
                    )
                except NATS_ERRORS as e:  # buffer full, connection closed: not sent
                    log.debug("publish of %s not sent: %s", message.subject, e)
                    result.rest = _prepend(message, messages)
                    break
                window.append((message, future, time.monotonic()))
                self._report_in_flight(len(window))
            while window:
                await self._settle(window.popleft(), stored, result)
        finally:
            for _, future, _ in window:  # cancelled: give the publisher's slots back
                future.cancel()
            self._report_in_flight(0)
        return result

    async def _settle(
        self,
        entry: tuple[Planned, asyncio.Future[PubAck], float],
        stored: Callable[[Planned, PubAck], None],
        result: Sent,
    ) -> None:
        message, future, sent_at = entry
        try:
            if future.done():  # the usual case at the head of a full window: no timer needed
                ack = future.result()
            else:
                # the timeout cancels the future, which frees its slot in nats-py's window
                async with asyncio.timeout(max(sent_at + self.ack_timeout - time.monotonic(), 0)):
                    ack = await future
        except NATS_ERRORS as e:
            log.debug("publish of %s failed: %r", message.subject, e)
            result.failed.append(message)
            return
        stored(message, ack)

    async def publish(self, message: OutgoingMessage, timeout: float | None = None) -> PubAck:
        """One message (a status, an audit record), its acknowledgement awaited."""
        return await self.bus.js.publish(
            message.subject,
            message.body,
            timeout=timeout or self.ack_timeout,
            headers=dict(message.headers) or None,
        )


async def last_per_subject(
    js: JetStreamContext, subjects: str, *, batch: int = 1000, timeout: float = 5.0
) -> AsyncIterator[Msg]:
    """The newest message of every subject matching ``subjects`` in XORCA_OBJECTS, through an
    ephemeral pull consumer (no acks, gone after use), then whatever is written meanwhile.

    A pull consumer rather than an ordered push one: the ordered consumer was seen to stall for
    tens of seconds when the subjects it reads are written (and rolled up) during the read, until
    its heartbeats noticed; a pull consumer is only ever waiting for the fetch it asked for.
    """
    sub = await js.pull_subscribe(
        subjects,
        durable=None,
        stream=OBJECTS_STREAM,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30.0,
            mem_storage=True,
        ),
    )
    info = await sub.consumer_info()
    try:
        if not info.num_pending:
            return
        while True:
            try:
                messages = await sub.fetch(batch, timeout=timeout)
            except TimeoutError:
                return  # nothing more to read
            for msg in messages:
                yield msg
            if not messages or messages[-1].metadata.num_pending == 0:
                return
    finally:
        with contextlib.suppress(*NATS_ERRORS):
            await sub.unsubscribe()
            await js.delete_consumer(OBJECTS_STREAM, info.name)


def _prepend(first: Planned, rest: Iterator[Planned]) -> Iterator[Planned]:
    yield first
    yield from rest
