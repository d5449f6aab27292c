"""The hub: one gateway's live view of the store, fed by the projection's deltas, fanned out to
its SSE clients.

It subscribes to ``xorca.v1.delta.>`` *before* it reads the store, keeps every live object as
JSON bytes (compact; decoded only when a client's filter, fields or rights need it), and follows
the projection's chain of deltas: a skipped number or a new epoch (the projection restarted, or
this subscriber was too slow) means deltas were lost, and the hub reads what changed from the
store instead, sending it on as whole objects. Each client has a bounded queue: one that falls
behind is cut off (it reconnects with ``Last-Event-ID`` and catches up from the store), never
allowed to grow the gateway's memory.

`Change.commit` is the store revision that holds the change: a client that has read the store at
revision S drops the changes with ``commit <= S``; `Change.complete` marks the last change of a
revision (the client is then complete up to it: where its SSE ``id:`` goes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from xorca.bus.connection import NatsBus
from xorca.contracts import merge_patch
from xorca.contracts.deltas import (
    CHAIN_HEADER,
    COMMIT_HEADER,
    COMPLETE_HEADER,
    DELTA,
    decode_delta,
)
from xorca.contracts.errors import MalformedMessage
from xorca.runtime.aio import cancel_and_wait
from xorca.store import ObjectRow, Store

__all__ = ["Change", "Hub", "Subscriber"]

log = logging.getLogger(__name__)

Key = tuple[str, str]


@dataclass(eq=False)
class Change:
    """One object change, with the object before and after (decoded on first use)."""

    type: str
    id: str
    pool: str | None
    rev: int
    op: str  # put, patch, del
    commit: int
    complete: int | None
    old_json: bytes | None
    new_json: bytes | None
    patch: dict[str, Any] | None = None
    #: the event as every client that sees everything whole gets it (encoded once)
    shared_frame: bytes | None = None

    @cached_property
    def old(self) -> dict[str, Any] | None:
        return None if self.old_json is None else orjson.loads(self.old_json)

    @cached_property
    def new(self) -> dict[str, Any] | None:
        return None if self.new_json is None else orjson.loads(self.new_json)


class Subscriber:
    """One client's queue of changes; `overflowed` once it fell too far behind."""

    def __init__(self, limit: int) -> None:
        self.queue: asyncio.Queue[Change] = asyncio.Queue(limit)
        self.overflowed = asyncio.Event()

    def offer(self, change: Change) -> None:
        if self.overflowed.is_set():
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed.set()


@dataclass
class _Waiter:
    key: Key
    done: Callable[[dict[str, Any] | None], bool]
    future: asyncio.Future[None]


@dataclass
class _Chain:
    epoch: str | None = None
    number: int = 0

    def follows(self, header: str | None) -> bool:
        """Whether ``header`` (``<epoch>:<n>``) comes right after the last one; remembers it."""
        epoch, _, number = (header or "").partition(":")
        try:
            n = int(number)
        except ValueError:
            return False
        ok = self.epoch is None or (epoch == self.epoch and n == self.number + 1)
        self.epoch, self.number = epoch, n
        return ok


@dataclass
class Hub:
    store: Store
    bus: NatsBus
    #: changes buffered for the hub itself (between NATS and the mirror): beyond, resync
    backlog: int = 100_000
    objects: dict[Key, bytes] = field(default_factory=dict)
    position: int = 0
    ready: bool = False
    resyncs: int = 0
    on_change: Callable[[Change], None] | None = None
    on_resync: Callable[[], None] | None = None
    _subscribers: set[Subscriber] = field(default_factory=set)
    _waiters: list[_Waiter] = field(default_factory=list)
    _inbox: asyncio.Queue[Msg | None] = field(default_factory=asyncio.Queue)
    _chain: _Chain = field(default_factory=_Chain)
    _sub: Subscription | None = None
    _task: asyncio.Task[None] | None = None
    _lost: bool = False

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe, read the store, then follow (in a task of its own)."""
        self._sub = await self.bus.nc.subscribe(f"{DELTA}.>", cb=self._received)
        self.bus.on_reconnect(self._reconnected)
        await self._hydrate()
        self._task = asyncio.create_task(self._follow(), name="xorca-api-hub")

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        if self._task is not None:
            await cancel_and_wait(self._task)

    def subscribe(self, limit: int) -> Subscriber:
        subscriber = Subscriber(limit)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    def get(self, type_: str, id_: str) -> dict[str, Any] | None:
        found = self.objects.get((type_, id_))
        return None if found is None else orjson.loads(found)

    async def wait_for(
        self, type_: str, id_: str, done: Callable[[dict[str, Any] | None], bool], timeout: float
    ) -> dict[str, Any] | None:
        """The object once ``done(object)`` holds, or as it is after ``timeout`` seconds."""
        key = (type_, id_)
        if done(self.get(*key)):
            return self.get(*key)
        waiter = _Waiter(key, done, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await waiter.future
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
        return self.get(*key)

    # -- intake ----------------------------------------------------------------------------

    async def _received(self, msg: Msg) -> None:
        if self._inbox.qsize() >= self.backlog:
            self._lost = True  # the follower will resync from the store
            return
        self._inbox.put_nowait(msg)

    def _reconnected(self) -> None:
        self._lost = True  # core NATS kept nothing for us while we were away

    async def _hydrate(self) -> None:
        async with self.store.reader() as reader:
            rows = await reader.changes(0)
            position = reader.revision
        self.objects = {
            (row.type, row.id): orjson.dumps(row.data) for row in rows if not row.deleted
        }
        self.position = position
        self.ready = True
        log.info("hub: %d objects at revision %d", len(self.objects), position)

    async def _follow(self) -> None:
        while True:
            msg = await self._inbox.get()
            if msg is None:
                return
            if self._lost or not self._chain.follows((msg.headers or {}).get(CHAIN_HEADER)):
                self._lost = False
                await self._resync()
            try:
                self._apply(msg)
            except MalformedMessage as e:
                log.error("hub: ignoring a malformed delta on %s: %s", msg.subject, e)
            if self._inbox.empty():
                await asyncio.sleep(0)

    def _apply(self, msg: Msg) -> None:
        headers = msg.headers or {}
        commit = int(headers.get(COMMIT_HEADER, "0"))
        if commit <= self.position:
            return  # the store had it when the hub read it
        delta = decode_delta(msg.subject, msg.data)
        complete_header = headers.get(COMPLETE_HEADER)
        complete = int(complete_header) if complete_header else None
        key = (delta.type, delta.id)
        old = self.objects.get(key)
        patch = None
        if delta.op == "del":
            new = None
            self.objects.pop(key, None)
        elif delta.op == "put":
            new = orjson.dumps(delta.data or {})
            self.objects[key] = new
        else:
            if old is None:
                raise MalformedMessage(f"{msg.subject}: a patch of {delta.id}, which is unknown")
            patch = delta.patch or {}
            new = orjson.dumps(merge_patch.apply(orjson.loads(old), patch)) if patch else old
            self.objects[key] = new
        change = Change(
            delta.type, delta.id, delta.pool, delta.rev, delta.op, commit, complete, old, new, patch
        )
        if complete == commit:
            self.position = commit
        self._publish(change)

    async def _resync(self) -> None:
        """Deltas were lost: what changed after the hub's position, from the store."""
        self.resyncs += 1
        if self.on_resync is not None:
            self.on_resync()
        async with self.store.reader() as reader:
            rows = await reader.changes(self.position)
            revision = reader.revision
        log.warning(
            "hub: deltas lost; %d changes read from the store (%d → %d)",
            len(rows),
            self.position,
            revision,
        )
        for i, row in enumerate(rows):
            last_of_rev = i == len(rows) - 1 or rows[i + 1].rev != row.rev
            self._publish(self._row_change(row, revision, row.rev if last_of_rev else None))
        self.position = revision

    def _row_change(self, row: ObjectRow, commit: int, complete: int | None) -> Change:
        key = (row.type, row.id)
        old = self.objects.get(key)
        if row.deleted or row.data is None:
            self.objects.pop(key, None)
            return Change(row.type, row.id, row.pool, row.rev, "del", commit, complete, old, None)
        new = orjson.dumps(row.data)
        self.objects[key] = new
        return Change(row.type, row.id, row.pool, row.rev, "put", commit, complete, old, new)

    def _publish(self, change: Change) -> None:
        for subscriber in self._subscribers:
            subscriber.offer(change)
        if self.on_change is not None:
            self.on_change(change)
        if self._waiters:
            key = (change.type, change.id)
            for waiter in list(self._waiters):
                if waiter.key == key and not waiter.future.done() and waiter.done(change.new):
                    waiter.future.set_result(None)
