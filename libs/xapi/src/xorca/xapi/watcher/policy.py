"""What the watcher does about each failure: pure decisions, tested without a pool.

The client has already done what a single call can do (one re-login on ``SESSION_INVALID``,
``HOST_IS_SLAVE`` redirects, failover rounds, re-sending an idempotent ``event.from`` after a cut
connection), so what reaches the watcher is what the call could not absorb:

=============================================  ============  ==========  ===================
failure                                        state         next step   pause
=============================================  ============  ==========  ===================
SESSION_INVALID (the re-login did not help)    resyncing (*) full load   none the first time
EVENTS_LOST, EVENT_FROM_TOKEN_PARSE_FAILURE    resyncing (*) full load   none the first time
HOST_IS_SLAVE (redirects exhausted)            degraded      full load   backoff
a malformed answer (`ProtocolError`)           degraded      full load   backoff
no answer (refused, cut, timed out, no master) disconnected  full load   backoff
any other API error (INTERNAL_ERROR…)          degraded      same call   backoff
a bug of ours (any other exception)            degraded      full load   backoff
=============================================  ============  ==========  ===================

(*) a lost session or token is routine: ``resyncing`` the first time in a row (the watcher
decides, `Verdict.state` says ``degraded``), ``degraded`` if it happens again before a success.

A full load after a transport failure is insurance worth its seconds: the master may have changed or
restarted (tokens and tombstones are the master's, in memory) while we could not see it. An API
error proves the pool answered, so the token still holds and the same call is tried again.
The backoff doubles from `Backoff.first` up to `Backoff.longest` with consecutive failures.
"""

from __future__ import annotations

from dataclasses import dataclass

from xorca.xapi.errors import (
    ApiError,
    EventsLost,
    HostIsSlave,
    ProtocolError,
    SessionInvalid,
    TransportError,
    XapiError,
)
from xorca.xapi.watcher.state import State

__all__ = ["Backoff", "Verdict", "as_xapi_error", "judge"]

#: token failures: the token is unusable, only a full load helps
RESYNC_CODES = frozenset({"EVENT_FROM_TOKEN_PARSE_FAILURE", "EVENTS_LOST"})


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State
    #: start again with a full load (else repeat the same call)
    reload: bool
    #: the first such failure in a row is retried at once (a lost session or token is normal
    #: life, not a sign of trouble); later ones back off
    immediate: bool = False


def judge(error: BaseException) -> Verdict:
    """The verdict for a failure of a load or poll (see the module's table)."""
    if isinstance(error, SessionInvalid | EventsLost) or (
        isinstance(error, ApiError) and error.code in RESYNC_CODES
    ):
        return Verdict(State.DEGRADED, reload=True, immediate=True)
    if isinstance(error, HostIsSlave | ProtocolError):
        return Verdict(State.DEGRADED, reload=True)
    if isinstance(error, TransportError):
        return Verdict(State.DISCONNECTED, reload=True)
    if isinstance(error, ApiError):
        return Verdict(State.DEGRADED, reload=False)
    return Verdict(State.DEGRADED, reload=True)


def as_xapi_error(error: BaseException) -> XapiError:
    """The failure as it is reported in `Status.last_error`: XAPI errors as they are, anything
    else (a bug, or data that got past the checks) as a `ProtocolError` naming the call."""
    if isinstance(error, XapiError):
        return error
    return ProtocolError("event.from", f"unexpected {type(error).__name__}: {error}")


@dataclass(frozen=True, slots=True)
class Backoff:
    first: float = 1.0
    longest: float = 30.0

    def delay(self, failures: int, verdict: Verdict) -> float:
        """The pause before the next attempt after ``failures`` consecutive failures (≥ 1)."""
        steps = failures - 1
        if verdict.immediate:
            if steps == 0:
                return 0.0
            steps -= 1
        return min(self.first * 2.0**steps, self.longest)
