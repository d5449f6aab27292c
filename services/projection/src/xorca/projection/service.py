"""The projection: the log in, client objects into the store, deltas out.

One *session* loads the store's raw records into a `Projector`, opens a `LogReader` at the
store's position and applies batches until something fails; any failure of the store or of NATS
ends the session, and the next one starts afresh from what the store committed (nothing held in
memory outlives a failure, so nothing is applied twice or lost). Between sessions it waits, with a
doubling pause (`xorca.runtime.backoff`), and reports itself not ready.

One batch is one transaction: the raw records it changed, the objects they changed, and the new
position, together (`xorca.store.Store.commit`). Deltas and dead letters are published after the
commit, so a subscriber never hears of a change the store does not hold.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from xorca.bus.connection import NATS_ERRORS, NatsBus
from xorca.contracts.base import OutgoingMessage
from xorca.contracts.deltas import encode_delta
from xorca.contracts.errors import MalformedMessage
from xorca.contracts.objects import decode_object
from xorca.contracts.status import decode_status
from xorca.contracts.subjects import OBJ, STATUS, deadletter_subject
from xorca.projection.adapters.log import LogMessage, LogReader, publish, stream_state
from xorca.projection.adapters.metrics import Metrics
from xorca.projection.core.changes import decide
from xorca.projection.core.projector import Projected, Projector, Stamp
from xorca.projection.core.records import Raw
from xorca.runtime.aio import gc_paused, wait_event
from xorca.runtime.backoff import Backoff
from xorca.runtime.http import HttpServer
from xorca.store import Commit, ObjectRow, RawRow, Store, StoreError

__all__ = ["CONSUMER", "Projection", "ProjectionOptions", "RebuildReport", "rebuild_store"]

log = logging.getLogger(__name__)

#: the store's name for the projection's position (the api reads the revision under it)
CONSUMER = "projection"
#: meta key: the identity (creation time) of the stream the store was built from
STREAM_META = "stream"
#: pauses between sessions after a failure (bootstrap's: ``XORCA_RETRY_PAUSE``)
SESSION_RETRY = Backoff(1.0, 30.0)


@dataclass(frozen=True, slots=True)
class ProjectionOptions:
    batch: int = 1000
    #: most messages in one transaction while catching up with a backlog (a rebuild, a restart
    #: after a while): an object made of many records is translated once, not once per batch
    catchup_batch: int = 10_000
    wait: float = 1.0
    tombstone_ttl: float = 7 * 24 * 3600.0
    purge_interval: float = 600.0
    #: pauses between sessions, after a failure
    retry: Backoff = SESSION_RETRY


@dataclass
class _Batch:
    """Log messages applied in memory and not yet committed."""

    start: int  # the store's position before them
    last: int = 0  # the sequence of the newest
    count: int = 0
    newest: LogMessage | None = None
    dead: list[tuple[LogMessage, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.last = self.last or self.start


class Projection:
    """The projection's loop over one store and one NATS connection."""

    def __init__(self, store: Store, bus: NatsBus, options: ProjectionOptions) -> None:
        self.store = store
        self.bus = bus
        self.options = options
        self.metrics = Metrics()
        self.position = 0
        self.lag = 0
        self.caught_up = False
        self.last_error: str | None = None
        self.session_ready = False
        self._stop = asyncio.Event()
        self._chain = secrets.token_hex(4)
        self._published = 0
        self._last_purge = 0.0
        #: the health and metrics server, once `xorca.runtime.serve.serve` opened one
        self.http: HttpServer | None = None

    # -- control ---------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        ready = self.session_ready and self.caught_up and self.bus.connected
        body: dict[str, Any] = {
            "position": self.position,
            "lag": self.lag,
            "store": self.store.url,
        }
        if self.last_error:
            body["error"] = self.last_error
        return ready, body

    # -- the loop --------------------------------------------------------------------------

    async def run(self, *, until: int | None = None) -> None:
        """Apply the log until `stop` (or, with ``until``, until the store covers that sequence)."""
        pauses = self.options.retry.pauses()
        while not self._stop.is_set():
            try:
                await self._session(until)
                return
            except StoreError as e:
                self._failed("store", e)
            except NATS_ERRORS as e:
                self._failed("nats", e)
            self.session_ready = False
            if await wait_event(self._stop, next(pauses)):
                return

    def _failed(self, what: str, error: BaseException) -> None:
        self.metrics.failures.labels(what).inc()
        self.last_error = f"{what}: {error}"
        log.warning("projection paused (%s): %s", what, error)

    async def _session(self, until: int | None) -> None:
        projector = await self._prepare()
        reader = LogReader(
            self.bus, self.position + 1, batch=self.options.batch, wait=self.options.wait
        )
        await reader.open()
        self.session_ready = True
        self.last_error = None
        log.info("projection: reading the log from %d", self.position + 1)
        try:
            if until is not None:
                await self._rebuild(projector, reader, until)
                return
            while not self._stop.is_set():
                batch = _Batch(self.position)
                fetched = await reader.fetch()
                self._ingest(projector, fetched, batch)
                while fetched and fetched[-1].pending and batch.count < self.options.catchup_batch:
                    fetched = await reader.fetch()
                    self._ingest(projector, fetched, batch)
                if batch.newest is None:
                    self.caught_up = True
                    self.lag = 0
                    self.metrics.lag_messages.set(0)
                    await self._purge_if_due()
                    continue
                await self._commit(projector, batch)
                await asyncio.sleep(0)  # let readiness and metrics answer between batches
        finally:
            await reader.close()

    async def _rebuild(self, projector: Projector, reader: LogReader, until: int) -> None:
        """The whole log up to ``until`` as one batch: every object is translated once, from
        the final records (see `Projector`: no late links, revisions from the records alone)."""
        batch = _Batch(self.position)
        while batch.last < until and not self._stop.is_set():
            fetched = await reader.fetch()
            if not fetched:
                break
            self._ingest(projector, fetched, batch)
        if batch.newest is not None:
            await self._commit(projector, batch)

    async def _prepare(self) -> Projector:
        """The store's position, checked against the stream, and its raw records in memory."""
        state = await stream_state(self.bus.js)
        position = await self.store.position(CONSUMER)
        known = await self.store.get_meta(STREAM_META)
        if position and (known != state.created or position > state.last_seq):
            log.warning(
                "the stream was recreated (store built from %s at %d, stream %s ends at %d): "
                "rebuilding the store",
                known,
                position,
                state.created,
                state.last_seq,
            )
            await self.store.clear(CONSUMER)
            position = 0
        if known != state.created:
            await self.store.set_meta(STREAM_META, state.created)
        self.position = position
        self.metrics.position.set(position)
        projector = Projector()
        records = [
            (_raw_of(row), Stamp(row.seq, row.changed_at)) async for row in self.store.raw_rows()
        ]
        failures = projector.load(records)
        for failure in failures:
            log.warning("stored %s %s does not translate: %s", failure.raw.cls, failure.raw.uuid,
                        failure.error)  # fmt: skip
        log.info("projection: %d records loaded, position %d", len(records), position)
        return projector

    def _ingest(self, projector: Projector, messages: list[LogMessage], batch: _Batch) -> None:
        """Apply ``messages`` to the projector (in memory only), noting them in ``batch``."""
        for msg in messages:
            if msg.seq <= batch.last:
                continue  # a reader that started early: already applied
            batch.last = msg.seq
            batch.count += 1
            batch.newest = msg
            stamp = Stamp(msg.seq, msg.at)
            try:
                if msg.subject.startswith(OBJ + "."):
                    change = decode_object(msg.subject, msg.headers, msg.body)
                    projector.apply(
                        change.pool,
                        change.xapi_class,
                        change.ref,
                        change.uuid,
                        change.op,
                        change.record,
                        stamp,
                    )
                elif msg.subject.startswith(STATUS + "."):
                    projector.apply_status(decode_status(msg.subject, msg.body), stamp)
                else:
                    batch.dead.append((msg, "unknown", "not a subject the projection reads"))
            except MalformedMessage as e:
                batch.dead.append((msg, "malformed", str(e)))

    async def _commit(self, projector: Projector, batch: _Batch) -> None:
        """One transaction for everything ingested since the last one; then the deltas."""
        with gc_paused():  # a batch creates many lasting objects: no collection scans them
            flushed = projector.flush()
        for failure in flushed.failures:
            batch.dead.append((_failed_message(failure.raw, failure.stamp), "untranslatable",
                               failure.error))  # fmt: skip
        keys = [(p.key.type, p.key.id) for p in flushed.objects]
        stored = await self.store.objects_by_key(keys)
        with gc_paused():
            decisions = decide(flushed.objects, stored)
            commit = Commit(
                consumer=CONSUMER,
                expected=batch.start,
                position=batch.last,
                objects=[_row_of(d.projected) for d in decisions],
                raw_put=[_raw_row(raw, stamp) for raw, stamp in flushed.raw_put],
                raw_del=list(flushed.raw_del),
            )
        started = time.perf_counter()
        await self.store.commit(commit)
        self.metrics.commit_time.observe(time.perf_counter() - started)
        self.position = batch.last
        self._observe(batch, len(commit.objects))
        # in revision order, as a client reading the store after a revision gets them
        deltas = sorted(
            (d.delta for d in decisions if d.delta is not None),
            key=lambda d: (d.rev, d.type, d.id),
        )
        for i, delta in enumerate(deltas):
            self._published += 1
            chain = f"{self._chain}:{self._published}"
            if i == len(deltas) - 1:
                complete: int | None = batch.last
            else:
                complete = delta.rev if deltas[i + 1].rev != delta.rev else None
            message = encode_delta(delta, commit=batch.last, chain=chain, complete=complete)
            await publish(self.bus, message)
            self.metrics.deltas.labels(delta.op).inc()
        for msg, reason, error in batch.dead:
            await self._dead_letter(msg, reason, error)

    def _observe(self, batch: _Batch, rows: int) -> None:
        newest = batch.newest
        assert newest is not None
        self.metrics.position.set(self.position)
        self.lag = newest.pending
        self.metrics.lag_messages.set(newest.pending)
        self.metrics.batch_size.observe(batch.count)
        self.metrics.messages.inc(batch.count)
        self.metrics.rows.inc(rows)
        age = (datetime.now(UTC) - newest.at).total_seconds()
        self.metrics.lag.observe(max(0.0, age))
        if newest.pending == 0:
            self.caught_up = True

    async def _dead_letter(self, msg: LogMessage, reason: str, error: str) -> None:
        self.metrics.dead_letters.labels(reason).inc()
        log.error("skipped log message %d on %s (%s): %s", msg.seq, msg.subject, reason, error)
        headers = {
            "Xorca-Stream-Seq": str(msg.seq),
            "Xorca-Subject": msg.subject,
            "Xorca-Reason": reason,
            "Xorca-Error": error[:1000],
        }
        await publish(
            self.bus, OutgoingMessage(deadletter_subject("projection"), headers, msg.body)
        )

    async def _purge_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < self.options.purge_interval:
            return
        self._last_purge = now
        before = datetime.now(UTC) - timedelta(seconds=self.options.tombstone_ttl)
        purged = await self.store.purge_tombstones(before)
        if purged:
            log.info("purged %d tombstones older than %s", purged, before.isoformat())


@dataclass(frozen=True, slots=True)
class RebuildReport:
    position: int
    messages: int
    seconds: float
    objects: dict[str, int]


async def rebuild_store(store: Store, bus: NatsBus, options: ProjectionOptions) -> RebuildReport:
    """Empty ``store`` and apply the whole stream again, up to its end at the start of the
    rebuild, in one batch (see `Projection._rebuild`)."""
    started = time.perf_counter()
    end = (await stream_state(bus.js)).last_seq
    await store.clear(CONSUMER)
    projection = Projection(store, bus, options)
    await projection.run(until=end)
    return RebuildReport(
        position=projection.position,
        messages=int(projection.metrics.value("xorca_projection_messages_total")),
        seconds=time.perf_counter() - started,
        objects=await store.stats(),
    )


def _raw_of(row: RawRow) -> Raw:
    return Raw(row.pool, row.cls, row.ref, row.uuid, orjson.loads(row.record))


def _raw_row(raw: Raw, stamp: Stamp) -> RawRow:
    return RawRow(
        pool=raw.pool,
        ref=raw.ref,
        cls=raw.cls,
        uuid=raw.uuid,
        record=orjson.dumps(raw.record),
        seq=stamp.seq,
        changed_at=stamp.at,
    )


def _row_of(projected: Projected) -> ObjectRow:
    return ObjectRow(
        type=projected.key.type,
        id=projected.key.id,
        pool=projected.pool,
        rev=projected.stamp.seq,
        deleted=projected.data is None,
        changed_at=projected.stamp.at,
        data=projected.data,
        ref=projected.ref,
    )


def _failed_message(raw: Raw, stamp: Stamp) -> LogMessage:
    """A stand-in naming the record whose translation failed, for its dead letter."""
    subject = f"{OBJ}.{raw.pool}.{raw.cls}.{raw.uuid}"
    return LogMessage(stamp.seq, stamp.at, subject, None, orjson.dumps(raw.record), 0)
