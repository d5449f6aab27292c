"""What a watcher tells a manager about its pool, so that a stale view is shown as stale.

    connecting ──load──▶ synced ◀──load── resyncing
        │                  │  ▲               ▲
        │          failure │  │ load/poll ok  │ session renewed, master changed,
        ▼                  ▼  │               │ valid_ref_counts mismatch
    degraded / disconnected ──┘───────────────┘
                                   close() ──▶ stopped (from anywhere)

- ``connecting``: no mirror yet; the first load is under way.
- ``synced``: the mirror is the pool's state as of ``last_event_at`` (the last answer).
- ``resyncing``: something was lost (see ``reason``); a full load is under way. The mirror is
  the state of ``last_event_at`` and may miss changes made since.
- ``degraded``: the pool answers, but not usefully (an API error, a malformed answer); the
  watcher retries with backoff. ``last_error`` says what.
- ``disconnected``: no host of the pool answers (refused, timed out, unreachable).
- ``stopped``: `PoolWatcher.close` was called.

``since`` is when the current state began: a pool degraded for an hour shows it, whatever
retries happened meanwhile. The mirror is current only in ``synced``: everything else is stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from xorca.xapi.errors import XapiError

__all__ = ["State", "Status", "StatusBoard"]

log = logging.getLogger(__name__)


class State(StrEnum):
    CONNECTING = "connecting"
    SYNCED = "synced"
    RESYNCING = "resyncing"
    DEGRADED = "degraded"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Status:
    state: State
    #: when ``state`` began (seconds since the epoch)
    since: float
    #: the master's URL, as last seen by the client
    master: str
    #: when the last ``event.from`` answer arrived: the time the mirror is current to
    last_event_at: float | None = None
    #: the failure behind ``degraded``/``disconnected`` (None once synced again)
    last_error: XapiError | None = None
    #: why the watcher is not synced, in words ("" when synced)
    reason: str = ""
    #: full loads after the first one
    resyncs: int = 0

    @property
    def stale(self) -> bool:
        """Whether a manager should show this pool's data as possibly out of date."""
        return self.state is not State.SYNCED


Listener = Callable[[Status], None]


class StatusBoard:
    """The current `Status`, the listeners told of every change, and waiting for one."""

    def __init__(self, status: Status, clock: Callable[[], float]) -> None:
        self._status = status
        self._clock = clock
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()

    @property
    def current(self) -> Status:
        return self._status

    def update(self, state: State | None = None, **fields: object) -> Status:
        """Change the status; ``since`` moves only when the state does."""
        old = self._status
        changes = dict(fields)
        if state is not None and state is not old.state:
            changes.update(state=state, since=self._clock())
        new = replace(old, **changes)  # type: ignore[arg-type]
        if new == old:
            return old
        self._status = new
        if new.state is not old.state:
            # synced, and a stop someone asked for, are news; the other states are trouble
            calm = new.state in (State.SYNCED, State.STOPPED)
            level = logging.INFO if calm else logging.WARNING
            log.log(level, "pool %s: %s → %s %s", new.master, old.state, new.state, new.reason)
        for listener in list(self._listeners):
            try:
                listener(new)
            except Exception:  # a listener's bug must not stop the watcher
                log.exception("status listener failed")
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        return new

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with each new status; returns the function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    async def wait(self, predicate: Callable[[Status], bool], timeout: float | None) -> Status:
        """The first status (the current one included) for which ``predicate`` holds;
        `TimeoutError` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate(self._status):
                await self._changed.wait()
        return self._status
