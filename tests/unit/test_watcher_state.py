"""The status a manager shows, and what each failure leads to."""

from __future__ import annotations

import asyncio

import pytest

from xorca.xapi.errors import (
    ApiError,
    AuthenticationFailed,
    CallTimeout,
    ConnectionFailed,
    EventsLost,
    HostIsSlave,
    PoolUnreachable,
    ProtocolError,
    SessionInvalid,
    XapiError,
    error_for,
)
from xorca.xapi.watcher import Backoff, State, Status, StatusBoard, Verdict, judge
from xorca.xapi.watcher.policy import as_xapi_error

D, X, R = State.DEGRADED, State.DISCONNECTED, State.RESYNCING


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (SessionInvalid("SESSION_INVALID", ["s"]), Verdict(D, reload=True, immediate=True)),
        (EventsLost("EVENTS_LOST"), Verdict(D, reload=True, immediate=True)),
        (error_for("EVENT_FROM_TOKEN_PARSE_FAILURE", ["x"]), Verdict(D, True, True)),
        (HostIsSlave("HOST_IS_SLAVE", ["10.0.0.2"]), Verdict(D, reload=True)),
        (ProtocolError("event.from", "bad"), Verdict(D, reload=True)),
        (ConnectionFailed("event.from", "cut"), Verdict(X, reload=True)),
        (CallTimeout("event.from", "slow"), Verdict(X, reload=True)),
        (PoolUnreachable("event.from", "none"), Verdict(X, reload=True)),
        (error_for("INTERNAL_ERROR", ["x"]), Verdict(D, reload=False)),
        (AuthenticationFailed("SESSION_AUTHENTICATION_FAILED"), Verdict(D, reload=False)),
        (TypeError("a bug"), Verdict(D, reload=True)),
    ],
)
def test_each_failure_has_its_verdict(error: BaseException, verdict: Verdict) -> None:
    assert judge(error) == verdict


def test_failures_are_reported_as_xapi_errors() -> None:
    api = ApiError("INTERNAL_ERROR", ["x"])
    assert as_xapi_error(api) is api
    bug = as_xapi_error(KeyError("name_label"))
    assert isinstance(bug, ProtocolError) and bug.method == "event.from"
    assert "KeyError" in bug.message


def test_backoff_doubles_and_a_routine_loss_is_retried_at_once() -> None:
    backoff = Backoff(first=0.5, longest=3.0)
    plain = Verdict(D, reload=False)
    assert [backoff.delay(n, plain) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    routine = Verdict(D, reload=True, immediate=True)
    assert [backoff.delay(n, routine) for n in range(1, 5)] == [0.0, 0.5, 1.0, 2.0]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_since_moves_only_with_the_state() -> None:
    clock = Clock()
    board = StatusBoard(Status(State.CONNECTING, clock(), "http://m"), clock)
    seen: list[Status] = []
    unsubscribe = board.subscribe(seen.append)
    clock.now = 105.0
    error = XapiError("X")
    board.update(State.DISCONNECTED, last_error=error, reason="down")
    clock.now = 130.0
    board.update(State.DISCONNECTED, reason="still down")  # a retry that failed again
    assert board.current.since == 105.0 and board.current.reason == "still down"
    assert board.current.stale
    board.update(State.DISCONNECTED, reason="still down")  # nothing new: nobody is told
    assert [s.reason for s in seen] == ["down", "still down"]
    unsubscribe()
    board.update(State.SYNCED, last_error=None)
    assert len(seen) == 2 and board.current.since == 130.0 and not board.current.stale


async def test_waiting_for_a_status_and_a_listener_that_fails() -> None:
    clock = Clock()
    board = StatusBoard(Status(State.CONNECTING, clock(), "http://m"), clock)

    def broken(_: Status) -> None:
        raise RuntimeError("listener bug")

    board.subscribe(broken)
    waiter = asyncio.create_task(board.wait(lambda s: s.state is State.SYNCED, 5))
    await asyncio.sleep(0)
    board.update(State.RESYNCING)
    await asyncio.sleep(0)
    assert not waiter.done()
    board.update(State.SYNCED)
    assert (await waiter).state is State.SYNCED
    assert (await board.wait(lambda s: s.state is State.SYNCED, 0)).state is State.SYNCED
    with pytest.raises(TimeoutError):
        await board.wait(lambda s: s.state is R, 0.05)
