"""Publishing one pool's batches and statuses until JetStream has them, whatever NATS does.

`PoolPublisher.publish` plans a batch against the pool's `LogIndex` and sends it through the
log's bounded window. It returns only once every message of the batch is stored (or found to be
there already): while NATS is away it waits for the connection and carries on, so the watcher
(which is only pulled once the batch is done) holds the pool's next changes back in XAPI, by its
token, instead of in our memory. After a failure the messages whose fate is unknown are checked
against the stream one by one (`LogIndex.replan`) and the rest is sent as planned.

A publisher is fenced by ``may_publish``: when the supervisor can no longer vouch for the pool's
lease, publishing stops with `Fenced` before the next message goes out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator

from nats.js.api import PubAck

from xorca.bus.connection import NATS_ERRORS
from xorca.collector.adapters.log import JetStreamLog
from xorca.collector.adapters.metrics import Metrics
from xorca.collector.core.publish import LogIndex, Planned, Unpublishable
from xorca.contracts.base import OutgoingMessage
from xorca.runtime.backoff import Backoff
from xorca.xapi.watcher import Change

__all__ = ["Fenced", "PoolPublisher"]

log = logging.getLogger(__name__)

#: pauses between attempts while NATS fails
_RETRY = Backoff(0.05, 2.0)


class Fenced(Exception):
    """This replica may no longer publish for the pool (its lease is not vouched for)."""


class PoolPublisher:
    """Publishes one pool's changes and statuses to XORCA_OBJECTS."""

    def __init__(
        self,
        log_: JetStreamLog,
        *,
        metrics: Metrics,
        may_publish: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log_
        self.metrics = metrics
        self.may_publish = may_publish
        self.clock = clock

    async def publish(
        self, index: LogIndex, changes: Iterable[Change], *, first: bool = False
    ) -> int:
        """Publish a batch's changes, planned against ``index`` (the pool's); returns how many
        messages were stored (not duplicates)."""
        counted = _Counter(self, index)
        unchanged = self.metrics.messages.labels("unchanged")
        pending = index.plan_batch(
            changes, first=first, refused=self._refused, unchanged=unchanged.inc
        )
        failures = 0
        while True:
            self._check_fence()
            sent = await self.log.send(self._fenced(pending), counted.done)
            for message in sent.too_large:
                self.metrics.messages.labels("refused").inc()
                log.error("%s: %d bytes, more than NATS accepts: not published",
                          message.subject, len(message.body))  # fmt: skip
            if sent.complete:
                return counted.stored
            failures += 1
            await self._pause(failures)
            retried = [await self._replan(index, m) for m in sent.failed]
            again = [m for m in retried if m is not None]
            self.metrics.retries.inc(len(again))
            pending = _chain(again, sent.rest)

    def _fenced(self, messages: Iterator[Planned]) -> Iterator[Planned]:
        for message in messages:
            self._check_fence()
            yield message

    def _check_fence(self) -> None:
        if not self.may_publish():
            raise Fenced()

    def _refused(self, error: Unpublishable) -> None:
        self.metrics.messages.labels("refused").inc()
        log.warning("not published: %s", error)

    async def _replan(self, index: LogIndex, message: Planned) -> Planned | None:
        """Read the subject back until NATS answers, then decide (see `LogIndex.replan`)."""
        failures = 0
        while True:
            self._check_fence()
            try:
                newest = await self.log.fetch_last(message.subject)
            except NATS_ERRORS as e:
                failures += 1
                log.debug("cannot read back %s: %r", message.subject, e)
                await self._pause(failures)
                continue
            return index.replan(message, newest)

    async def publish_status(self, message: OutgoingMessage) -> None:
        """Publish one status message, retrying until JetStream has it."""
        failures = 0
        while True:
            self._check_fence()
            try:
                await self.log.publish(message)
                return
            except NATS_ERRORS as e:
                failures += 1
                log.debug("status %s not published: %r", message.subject, e)
                await self._pause(failures)

    async def _pause(self, failures: int) -> None:
        """Back off, and wait for the connection if it is down (bounded, then retry anyway)."""
        await asyncio.sleep(_RETRY.delay(failures))
        await self.log.bus.wait_connected(timeout=_RETRY.longest)


class _Counter:
    """Records each acknowledged message in the index, and counts them."""

    def __init__(self, publisher: PoolPublisher, index: LogIndex) -> None:
        self.publisher = publisher
        self.index = index
        self.stored = 0

    def done(self, message: Planned, ack: PubAck) -> None:
        self.index.record(message, ack.seq, self.publisher.clock())
        outcome = "duplicate" if ack.duplicate else "stored"
        self.publisher.metrics.messages.labels(outcome).inc()
        if not ack.duplicate:
            self.stored += 1


def _chain(first: list[Planned], rest: Iterator[Planned] | None) -> Iterator[Planned]:
    yield from first
    if rest is not None:
        yield from rest
