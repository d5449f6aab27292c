"""`PoolWatcher`: the loop that keeps a `Mirror` of one pool and hands out what changed.

    watcher = PoolWatcher(xapi)                  # an `Xapi`, logged in or not
    async for batch in watcher:                  # the first batch is the whole pool (all adds)
        publish(batch)                           # the mirror already includes it
    watcher.status                               # synced? stale since when? why?

It is pulled, not pushed: the next ``event.from`` is sent only when the consumer asks for the
next batch, so a slow consumer slows the watcher down instead of making it queue batches, and
memory stays bounded by the pool's size (a coalesced answer holds each object at most once; a
full load holds the pool once more, while it is compared with the mirror). While nobody asks,
nothing is polled and `Status.last_event_at` ages: that is the honest answer to "how fresh?".

The steps are the ones XenCenter and Xen Orchestra take (XAPI.md §2): a full load with
``event.from(classes, "", 0)`` (every object as ``add``, and the token to go on from), then the
long poll ``event.from(classes, token, poll)``. Each answer is checked whole (`parse_answer`),
turned into the changes it makes to the mirror, applied, and only then returned: a batch is
applied entirely or not at all.

Whenever the view may have lost something, it loads everything again and hands out only the
differences from the mirror (``Batch.resync``): when the client had to log in again or moved to
another master (compared before and after every call), and after a failure (see `policy`).

When ``valid_ref_counts`` disagrees with the mirror's sizes twice in a row (the second time after
a poll that does not wait), deletions fell out of xapi's tombstones (it keeps the newest 256 to 512
per table): then only the classes that disagree are loaded again, and polling goes on from the
same token. That is correct because an answer carries each object's *current* record, so events
after the token that overlap the partial load only restate it; and it matters on a busy pool,
where tasks come and go by hundreds: a full load of a large pool takes seconds, long enough to
lose more tombstones, while reloading the tasks takes milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self

from xorca.xapi.values import Value
from xorca.xapi.watcher.answer import METHOD, Schema, parse_answer
from xorca.xapi.watcher.mirror import Batch, Mirror, Record, Tables, count_offsets, load_tables
from xorca.xapi.watcher.policy import Backoff, as_xapi_error, judge
from xorca.xapi.watcher.state import State, Status, StatusBoard

__all__ = ["EventClient", "PoolWatcher", "WatchOptions"]

log = logging.getLogger(__name__)


class EventClient(Protocol):
    """What the watcher needs of a client: `xorca.xapi.client.Xapi` is one."""

    @property
    def master_url(self) -> str: ...

    @property
    def login_count(self) -> int: ...

    async def call(self, method: str, *params: Value, timeout: float | None = None) -> Any: ...


@dataclass(frozen=True)
class WatchOptions:
    #: datamodel class names, any case; None: every class that emits events (`default_classes`)
    classes: Sequence[str] | None = None
    #: how long one ``event.from`` waits for changes (XenCenter 30 s, XO 60.1 s)
    poll: float = 30.0
    #: the pauses between failed attempts
    backoff: Backoff = field(default_factory=Backoff)
    #: refuse records with fields the datamodel does not know (a typed error, then retries);
    #: False keeps them, for hosts newer than the datamodel
    strict_fields: bool = True
    #: pause the garbage collector during a full load (see `gc_paused`)
    pause_gc: bool = True


class PoolWatcher:
    """An async iterator of `Batch`\\ es keeping `mirror` equal to the pool's records."""

    def __init__(
        self,
        xapi: EventClient,
        options: WatchOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.xapi = xapi
        self.options = options or WatchOptions()
        self.schema = Schema.for_classes(
            self.options.classes, strict_fields=self.options.strict_fields
        )
        self._mirror = Mirror(self.schema.classes)
        self._subscriptions: list[Value] = list(self.schema.classes)
        self._clock = clock
        self._board = StatusBoard(Status(State.CONNECTING, clock(), xapi.master_url), clock)
        self._token = ""
        self._loaded = False
        #: classes to load again before polling (all of them at first)
        self._reload: tuple[str, ...] = self.schema.classes
        #: valid_ref_counts disagreed once: confirm with a poll that does not wait
        self._suspect = False
        #: mirror size minus server count per class right after the last load (normally none)
        self._baseline: dict[str, int] = {}
        #: (logins, master) when the mirror was last loaded
        self._epoch: tuple[int, str] = (-1, "")
        self._failures = 0
        self._pause = 0.0
        self._step_task: asyncio.Future[Batch | None] | None = None
        self._closed = False

    # ------------------------------------------------------------------------------ reading

    @property
    def mirror(self) -> Mapping[str, Mapping[str, Record]]:
        """Class → ref → record, live (it moves with each batch): read it, never change it."""
        return self._mirror.tables

    def snapshot(self) -> Tables:
        """A copy of the mirror's tables, frozen at this batch (records are shared)."""
        return self._mirror.snapshot()

    @property
    def classes(self) -> tuple[str, ...]:
        return self.schema.classes

    @property
    def token(self) -> str:
        """The ``event.from`` token the mirror is current to ("" before the first load)."""
        return self._token

    @property
    def status(self) -> Status:
        return self._board.current

    def subscribe(self, listener: Callable[[Status], None]) -> Callable[[], None]:
        """Call ``listener`` with every new `Status`; returns the unsubscribe function."""
        return self._board.subscribe(listener)

    async def wait_status(
        self, predicate: Callable[[Status], bool], timeout: float | None = None
    ) -> Status:
        """The first status satisfying ``predicate`` (the current one included). Statuses only
        change while someone iterates the watcher."""
        return await self._board.wait(predicate, timeout)

    # ---------------------------------------------------------------------------- iterating

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Batch:
        """The next non-empty batch (and every load's batch, even empty); StopAsyncIteration
        once closed. Never raises anything else but cancellation."""
        if self._step_task is not None:
            raise RuntimeError("this PoolWatcher is already being iterated")
        while not self._closed:
            self._step_task = step = asyncio.ensure_future(self._step())
            try:
                batch = await step
            except asyncio.CancelledError:
                if self._closed_by_us():
                    break  # close() cancelled the step, not someone cancelling us
                raise
            finally:
                self._step_task = None
            if batch is not None:
                return batch
        raise StopAsyncIteration

    def _closed_by_us(self) -> bool:
        task = asyncio.current_task()
        return self._closed and (task is None or task.cancelling() == 0)

    def close(self) -> None:
        """Stop: a pending `__anext__` ends with StopAsyncIteration, the status is ``stopped``.
        The client is the caller's to close."""
        self._closed = True
        if self._step_task is not None:
            self._step_task.cancel()
        self._board.update(State.STOPPED, reason="closed")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -------------------------------------------------------------------------------- steps

    async def _step(self) -> Batch | None:
        if self._pause > 0:
            await asyncio.sleep(self._pause)
            self._pause = 0.0
        try:
            if self._reload:
                return await self._load()
            return await self._poll()
        except Exception as e:  # every failure becomes a status and a retry, never an escape
            self._failed(e)
            return None

    async def _load(self) -> Batch:
        """A full load, or a partial one of the classes in `_reload` (see the docstring)."""
        classes = self._reload
        full = classes == self.schema.classes
        with gc_paused(self.options.pause_gc):
            subscriptions = self._subscriptions if full else list[Value](classes)
            value = await self.xapi.call(METHOD, subscriptions, "", 0.0)
            answer = parse_answer(value, self.schema)
            del value  # the raw answer is as large as the pool: let it go before diffing
            changes = self._mirror.diff(load_tables(classes, answer.events), classes)
            self._mirror.apply(changes)
        tables = self._mirror.tables
        offsets = count_offsets({c: tables[c] for c in classes}, answer.counts or {})
        if full:
            self._token = answer.token
            self._epoch = (self.xapi.login_count, self.xapi.master_url)
            self._baseline = offsets
        else:  # the other classes are still as of the token: their offsets stay
            kept = {c: o for c, o in self._baseline.items() if c not in classes}
            self._baseline = kept | offsets
        if offsets:
            log.warning("pool %s: valid_ref_counts differ right after a load: %s",
                        self.xapi.master_url, offsets)  # fmt: skip
        self._reload, self._suspect = (), False
        resyncs = self.status.resyncs + (1 if self._loaded else 0)
        self._loaded = True
        self._succeeded(resyncs=resyncs)
        return Batch(changes, self._token, resync=True)

    async def _poll(self) -> Batch | None:
        if self._lost_track():
            return None
        wait = 0.0 if self._suspect else float(self.options.poll)
        value = await self.xapi.call(METHOD, self._subscriptions, self._token, wait)
        if self._lost_track():
            return None  # answered on another session or master: its token is not ours
        answer = parse_answer(value, self.schema)
        changes = self._mirror.changes_from(answer.events)
        self._mirror.apply(changes)
        self._token = answer.token
        self._succeeded()
        if answer.counts is not None:
            self._check_counts(answer.counts)
        return Batch(changes, answer.token) if changes else None

    # ------------------------------------------------------------------------ bookkeeping

    def _lost_track(self) -> bool:
        """Whether the client logged in again or changed master since the last load."""
        logins, master = self.xapi.login_count, self.xapi.master_url
        old_logins, old_master = self._epoch
        if master != old_master:
            self._lost(f"the master changed from {old_master} to {master}")
        elif logins != old_logins:
            self._lost("the session was renewed")
        else:
            return False
        return True

    def _check_counts(self, counts: Mapping[str, int]) -> None:
        offsets = count_offsets(self._mirror.tables, counts)
        if offsets == self._baseline:
            self._suspect = False
        elif not self._suspect:
            self._suspect = True  # maybe a race: ask again at once before reloading
        else:
            drifted = [c for c in self.classes if offsets.get(c, 0) != self._baseline.get(c, 0)]
            self._lost(
                f"valid_ref_counts disagree with the mirror (mirror − pool: {offsets})", drifted
            )

    def _lost(self, reason: str, classes: Sequence[str] | None = None) -> None:
        """Something may be missing from the mirror: load ``classes`` (default all) again. A
        watcher already degraded or disconnected stays so (its ``since`` is kept) until the
        load succeeds."""
        self._want_reload(classes)
        keep = self.status.state in (State.DEGRADED, State.DISCONNECTED, State.CONNECTING)
        self._board.update(
            None if keep else State.RESYNCING, reason=reason, master=self.xapi.master_url
        )

    def _want_reload(self, classes: Sequence[str] | None) -> None:
        wanted = set(self.classes if classes is None else classes) | set(self._reload)
        self._reload = tuple(c for c in self.classes if c in wanted)
        self._suspect = False

    def _succeeded(self, **fields: object) -> None:
        self._failures = 0
        self._board.update(
            State.SYNCED,
            last_event_at=self._clock(),
            last_error=None,
            reason="",
            master=self.xapi.master_url,
            **fields,
        )

    def _failed(self, error: Exception) -> None:
        verdict = judge(error)
        self._failures += 1
        if verdict.reload:
            self._want_reload(None)
        self._pause = self.options.backoff.delay(self._failures, verdict)
        reported = as_xapi_error(error)
        state = verdict.state
        if verdict.immediate and self._failures == 1 and self._loaded:
            state = State.RESYNCING  # a lost session or token is routine: not yet "degraded"
        if reported is error:
            log.warning("pool %s: %s (retry in %.1f s)", self.xapi.master_url, error, self._pause)
        else:
            log.error("pool %s: watcher step failed", self.xapi.master_url, exc_info=error)
        self._board.update(
            state, last_error=reported, reason=str(reported), master=self.xapi.master_url
        )


class _GcPause:
    """No cyclic garbage collection inside ``with gc_paused():`` (reference counting still frees
    nearly everything).

    Decoding and mirroring a pool creates millions of containers that all survive, and each
    collection they trigger scans all of them: on a 10,000-VM pool that doubles the CPU time of
    a load (bench/bench_watcher.py; LIMITS.md measures the same for decoding alone). Pauses
    nest across concurrent loads (several pools in one process); the collector is enabled again
    when the last one ends, and only if it was enabled when the first began.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.was_enabled = True

    @contextlib.contextmanager
    def __call__(self, pause: bool = True) -> Iterator[None]:
        if not pause:
            yield
            return
        if self.depth == 0:
            self.was_enabled = gc.isenabled()
            gc.disable()
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0 and self.was_enabled:
                gc.enable()


gc_paused = _GcPause()
