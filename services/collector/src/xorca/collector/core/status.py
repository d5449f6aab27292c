"""What the collector says about a pool (``xorca.v1.status.<registry_id>``), from what it knows.

The watcher has its own states (`xorca.xapi.watcher.State`); the contract has the client-facing
ones (`xorca.contracts.status.PoolState`). `view_of` translates, `PoolView.changed_from` says
whether a new status message is due (docs/nats.md: at every change of state or master), and
`message` builds it.

=============  =============  ================================================================
watcher        published      error
=============  =============  ================================================================
connecting     connecting     the last failure, if a first load failed
synced         synced         —
resyncing      degraded       ``XORCA_RESYNCING [reason]``: the view may miss recent changes
degraded       degraded       the watcher's last error (XAPI's code, or the client's XORCA_*)
disconnected   disconnected   the client's transport error
stopped        disconnected   ``XORCA_COLLECTOR_STOPPED [collector]``
=============  =============  ================================================================

A status is not published for every new error of a pool that stays degraded (a flapping pool
would flood the stream): only when the state, the master or the error *code* changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from xorca.contracts.base import ErrorBody
from xorca.contracts.codes import (
    COLLECTOR_STOPPED,
    REGISTRY_ENTRY_INVALID,
    RESYNCING,
    UNKNOWN_ERROR,
)
from xorca.contracts.status import PoolState, PoolStatusChanged
from xorca.xapi.errors import XapiError
from xorca.xapi.watcher import State, Status

__all__ = [
    "COLLECTOR_STOPPED",
    "ENTRY_INVALID",
    "RESYNCING",
    "PoolView",
    "error_body",
    "master_address",
    "message",
    "view_of",
]

ENTRY_INVALID = REGISTRY_ENTRY_INVALID  # the name the runner knows it by

_STATES: dict[State, PoolState] = {
    State.CONNECTING: "connecting",
    State.SYNCED: "synced",
    State.RESYNCING: "degraded",
    State.DEGRADED: "degraded",
    State.DISCONNECTED: "disconnected",
    State.STOPPED: "disconnected",
}


@dataclass(frozen=True, slots=True)
class PoolView:
    """A pool's state as the contract names it, with the times as unix seconds."""

    state: PoolState
    since: float
    master: str | None = None
    last_event_at: float | None = None
    error: ErrorBody | None = None

    def changed_from(self, previous: PoolView | None) -> bool:
        """Whether a status message is due, ``previous`` being the last one published."""
        if previous is None:
            return True
        code = self.error.code if self.error else None
        old_code = previous.error.code if previous.error else None
        return (self.state, self.master, code) != (previous.state, previous.master, old_code)


def error_body(error: XapiError) -> ErrorBody:
    """An XAPI failure as the contract carries it (code and string params)."""
    return ErrorBody(code=error.code or UNKNOWN_ERROR, params=[str(p) for p in error.params])


def master_address(url: str) -> str | None:
    """The host part of the master's URL (the contract names an address, not a URL)."""
    return urlsplit(url).hostname or None


def view_of(status: Status, collector: str) -> PoolView:
    """The contract's view of a watcher status."""
    state = _STATES[status.state]
    error: ErrorBody | None = None
    if status.state is State.RESYNCING:
        error = ErrorBody(code=RESYNCING, params=[status.reason] if status.reason else [])
    elif status.state is State.STOPPED:
        error = ErrorBody(code=COLLECTOR_STOPPED, params=[collector])
    elif status.state is not State.SYNCED and status.last_error is not None:
        error = error_body(status.last_error)
    return PoolView(
        state=state,
        since=status.since,
        master=master_address(status.master),
        last_event_at=status.last_event_at,
        error=error,
    )


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def message(
    view: PoolView, *, registry_id: str, pool_uuid: str | None, collector: str, now: float
) -> PoolStatusChanged:
    """The status message for ``view``."""
    return PoolStatusChanged(
        registry_id=registry_id,
        pool_uuid=pool_uuid,
        state=view.state,
        since=_time(view.since),
        master=view.master,
        last_event_at=_time(view.last_event_at) if view.last_event_at is not None else None,
        error=view.error,
        collector=collector,
        at=_time(now),
    )
