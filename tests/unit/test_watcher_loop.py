"""The watcher loop against a scripted client (no sockets): what it calls, what it yields, and
how each failure moves its status."""

from __future__ import annotations

import asyncio
import gc
from collections import deque
from typing import Any

import pytest

from xorca.xapi.errors import (
    ApiError,
    PoolUnreachable,
    ProtocolError,
    SessionInvalid,
    error_for,
)
from xorca.xapi.values import Value
from xorca.xapi.watcher import Backoff, PoolWatcher, State, Status, WatchOptions
from xorca.xapi.watcher.watcher import gc_paused

POLL = 7.0
OPTIONS = WatchOptions(classes=["VM", "host"], poll=POLL, backoff=Backoff(0.01, 0.02))
Reply = Any  # an answer, an exception to raise, or a callable returning either


class Script:
    """A client whose ``event.from`` replies are given in advance; with none left, a call
    blocks like a long poll on a quiet pool."""

    def __init__(self, *replies: Reply) -> None:
        self.replies: deque[Reply] = deque(replies)
        self.calls: list[tuple[str, float]] = []
        self.subscribed: list[list[str]] = []
        self.collecting: list[bool] = []  # whether the garbage collector ran during each call
        self.login_count = 1
        self.master_url = "http://10.0.0.1"

    async def call(self, method: str, *params: Value, timeout: float | None = None) -> Any:
        assert method == "event.from"
        classes, token, wait = params
        assert isinstance(classes, list) and isinstance(token, str) and isinstance(wait, float)
        self.subscribed.append([str(c) for c in classes])
        self.calls.append((token, wait))
        self.collecting.append(gc.isenabled())
        if not self.replies:
            await asyncio.Event().wait()
        reply = self.replies.popleft()
        if callable(reply) and not isinstance(reply, BaseException):
            reply = reply()
        if isinstance(reply, BaseException):
            raise reply
        return reply


def vm(name: str, **extra: Any) -> dict[str, Any]:
    return {"uuid": f"uuid-{name}", "name_label": name, **extra}


def ev(op: str, ref: str, record: dict[str, Any] | None = None, cls: str = "vm") -> Any:
    event: dict[str, Any] = {"id": "1", "timestamp": "0.0", "class": cls, "operation": op}
    event["ref"] = ref
    if record is not None:
        event["snapshot"] = record
    return event


def answer(token: str, *events: Any, vms: int | None = None) -> dict[str, Any]:
    counts = {} if vms is None else {"vm": vms, "host": 0}
    return {"events": list(events), "valid_ref_counts": counts, "token": token}


LOAD = answer("t1", ev("add", "r:a", vm("a")), ev("add", "r:b", vm("b")), vms=2)


def watch(script: Script) -> tuple[PoolWatcher, list[Status]]:
    watcher = PoolWatcher(script, OPTIONS)
    statuses: list[Status] = []
    watcher.subscribe(statuses.append)
    return watcher, statuses


def states(statuses: list[Status]) -> list[State]:
    out: list[State] = []
    for s in statuses:
        if not out or out[-1] is not s.state:
            out.append(s.state)
    return out


async def test_a_load_then_the_long_poll() -> None:
    script = Script(
        LOAD,
        answer("t2", ev("mod", "r:a", vm("a", power_state="Running")), ev("del", "r:b"), vms=1),
        answer("t3", vms=1),  # the poll timed out: nothing to hand out
        answer("t4", ev("add", "r:c", vm("c")), vms=2),
    )
    watcher, statuses = watch(script)
    initial = watcher.status
    assert initial.state is State.CONNECTING and initial.stale
    first = await anext(watcher)
    assert first.resync and first.token == "t1"
    assert [(c.op, c.ref) for c in first.changes] == [("add", "r:a"), ("add", "r:b")]
    assert script.calls == [("", 0.0)]  # nothing more until the consumer asks
    await asyncio.sleep(0.02)
    assert script.calls == [("", 0.0)]

    second = await anext(watcher)
    assert not second.resync and second.token == "t2"
    assert [(c.op, c.ref) for c in second.changes] == [("mod", "r:a"), ("del", "r:b")]
    assert second.changes[1].record == vm("b")  # the deleted object's last record
    third = await anext(watcher)
    assert [(c.op, c.ref) for c in third.changes] == [("add", "r:c")]
    assert script.calls == [("", 0.0), ("t1", POLL), ("t2", POLL), ("t3", POLL)]
    assert script.collecting == [False, True, True, True]  # paused during the load only
    assert watcher.token == "t4"
    assert watcher.mirror == {"VM": {"r:a": vm("a", power_state="Running"), "r:c": vm("c")},
                              "host": {}}  # fmt: skip
    assert watcher.status.state is State.SYNCED and watcher.status.resyncs == 0
    assert states(statuses) == [State.SYNCED]


async def test_a_renewed_session_or_a_new_master_means_a_resync() -> None:
    script = Script(LOAD)

    def renewed() -> Any:
        script.login_count += 1  # the client logged in again during the call
        return answer("t2", ev("mod", "r:a", vm("a", power_state="Paused")), vms=2)

    def moved() -> Any:
        script.master_url = "http://10.0.0.2"
        return answer("t4", vms=2)

    script.replies += [
        renewed,
        answer("t3", ev("add", "r:a", vm("a", name_label="A")), vms=1),  # b vanished meanwhile
        moved,
        answer("t5", ev("add", "r:a", vm("a", name_label="A")), vms=1),
    ]
    watcher, statuses = watch(script)
    await anext(watcher)
    resync = await anext(watcher)
    assert resync.resync and resync.token == "t3"
    assert [(c.op, c.ref) for c in resync.changes] == [("del", "r:b"), ("mod", "r:a")]
    assert script.calls[1:] == [("t1", POLL), ("", 0.0)]  # the renewed session's answer dropped
    confirm = await anext(watcher)  # nothing differs: an empty batch confirms the mirror
    assert confirm.resync and confirm.changes == () and watcher.status.resyncs == 2
    assert watcher.status.master == "http://10.0.0.2"
    reasons = [s.reason for s in statuses if s.state is State.RESYNCING]
    assert reasons == [
        "the session was renewed",
        "the master changed from http://10.0.0.1 to http://10.0.0.2",
    ]


async def test_an_api_error_retries_the_same_call() -> None:
    failure = error_for("INTERNAL_ERROR", ["injected"], method="event.from")
    script = Script(LOAD, failure, failure, answer("t2", ev("add", "r:c", vm("c")), vms=3))
    watcher, statuses = watch(script)
    await anext(watcher)
    batch = await anext(watcher)
    assert not batch.resync and [c.ref for c in batch.changes] == ["r:c"]
    assert script.calls[1:] == [("t1", POLL)] * 3
    assert states(statuses) == [State.SYNCED, State.DEGRADED, State.SYNCED]
    degraded = next(s for s in statuses if s.state is State.DEGRADED)
    assert degraded.last_error is failure and degraded.stale
    assert watcher.status.last_error is None and watcher.status.resyncs == 0


async def test_a_lost_session_or_token_reloads_at_once() -> None:
    script = Script(
        LOAD,
        SessionInvalid("SESSION_INVALID", ["s"], method="event.from"),
        answer("t2", ev("add", "r:a", vm("a")), ev("add", "r:b", vm("b")), vms=2),
        error_for("EVENT_FROM_TOKEN_PARSE_FAILURE", ["t2"]),
        error_for("EVENT_FROM_TOKEN_PARSE_FAILURE", [""]),  # twice in a row: now degraded
        answer("t3", ev("add", "r:a", vm("a")), vms=1),
    )
    watcher, statuses = watch(script)
    await anext(watcher)
    assert (await anext(watcher)).changes == ()
    last = await anext(watcher)
    assert [(c.op, c.ref) for c in last.changes] == [("del", "r:b")]
    assert [c[0] for c in script.calls] == ["", "t1", "", "t2", "", ""]
    assert states(statuses) == [
        State.SYNCED, State.RESYNCING, State.SYNCED, State.RESYNCING, State.DEGRADED, State.SYNCED
    ]  # fmt: skip


async def test_valid_ref_counts_confirmed_twice_reload_the_class_that_disagrees() -> None:
    script = Script(
        LOAD,
        answer("t2", vms=1),  # one VM fewer on the pool than in the mirror: ask again at once
        answer("t3", vms=2),  # a race after all: carry on
        answer("t4", vms=1),
        answer("t5", vms=1),  # confirmed: a deletion was lost
        answer("t6", ev("add", "r:a", vm("a")), vms=1),  # the VMs alone, loaded again
        answer("t7", ev("add", "r:c", vm("c")), vms=2),
    )
    watcher, statuses = watch(script)
    await anext(watcher)
    resync = await anext(watcher)
    assert resync.resync and [(c.op, c.ref) for c in resync.changes] == [("del", "r:b")]
    assert resync.token == watcher.token == "t5"  # the other classes go on from t5
    assert script.calls == [
        ("", 0.0), ("t1", POLL), ("t2", 0.0), ("t3", POLL), ("t4", 0.0), ("", 0.0)
    ]  # fmt: skip
    assert script.subscribed[-1] == ["VM"] and script.subscribed[0] == ["VM", "host"]
    reason = next(s.reason for s in statuses if s.state is State.RESYNCING)
    assert "valid_ref_counts" in reason and "'VM': 1" in reason
    after = await anext(watcher)
    assert [(c.op, c.ref) for c in after.changes] == [("add", "r:c")]
    assert script.calls[-1] == ("t5", POLL) and watcher.status.resyncs == 1


async def test_a_constant_count_offset_after_a_load_is_not_a_loss() -> None:
    script = Script(
        answer("t1", ev("add", "r:a", vm("a")), vms=5),  # the server counts rows it never sends
        answer("t2", ev("add", "r:b", vm("b")), vms=6),
        answer("t3", ev("del", "r:a"), vms=5),
    )
    watcher, _ = watch(script)
    for _ in range(3):
        await anext(watcher)
    assert [wait for _, wait in script.calls] == [0.0, POLL, POLL]


async def test_a_malformed_answer_changes_nothing_and_the_watcher_recovers() -> None:
    bad = answer(
        "t2", ev("mod", "r:a", vm("a", power_state="Paused")), ev("add", "r:z", {"warp": 9})
    )
    script = Script(LOAD, bad, answer("t3", ev("add", "r:a", vm("a")), vms=1))
    watcher, statuses = watch(script)
    await anext(watcher)
    before = watcher.snapshot()
    task = asyncio.create_task(anext(watcher))
    await watcher.wait_status(lambda s: s.state is State.DEGRADED, 2)
    assert watcher.snapshot() == before  # nothing of the bad answer was applied
    error = watcher.status.last_error
    assert isinstance(error, ProtocolError) and error.method == "event.from"
    assert "unknown field(s) ['warp']" in error.message
    resync = await task
    assert resync.resync and [(c.op, c.ref) for c in resync.changes] == [("del", "r:b")]
    assert states(statuses)[-2:] == [State.DEGRADED, State.SYNCED]


async def test_no_exception_escapes_but_cancellation() -> None:
    script = Script(
        TypeError("a bug in a lower layer"),
        PoolUnreachable("event.from", "every host refused"),
        LOAD,
    )
    watcher, statuses = watch(script)
    assert (await anext(watcher)).resync
    assert states(statuses) == [State.DEGRADED, State.DISCONNECTED, State.SYNCED]
    bug = statuses[0].last_error
    assert isinstance(bug, ProtocolError) and "TypeError: a bug" in bug.message
    assert statuses[1].since > statuses[0].since


async def test_cancelling_the_consumer_then_resuming() -> None:
    script = Script(LOAD)
    watcher, _ = watch(script)
    await anext(watcher)
    consumer = asyncio.create_task(anext(watcher))
    await asyncio.sleep(0.01)  # blocked in the long poll
    with pytest.raises(RuntimeError, match="already being iterated"):
        await anext(watcher)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert watcher.status.state is State.SYNCED and watcher.token == "t1"
    script.replies.append(answer("t2", ev("add", "r:c", vm("c")), vms=3))
    assert [c.ref for c in (await anext(watcher)).changes] == ["r:c"]  # from the same token
    assert script.calls[-1] == ("t1", POLL)


async def test_close_ends_the_iteration() -> None:
    script = Script(LOAD)
    async with PoolWatcher(script, OPTIONS) as watcher:
        batches = []

        async def consume() -> None:
            async for batch in watcher:
                batches.append(batch)

        consumer = asyncio.create_task(consume())
        await watcher.wait_status(lambda s: s.state is State.SYNCED, 2)
        await asyncio.sleep(0.01)
    await asyncio.wait_for(consumer, 1)  # ended without an exception
    assert len(batches) == 1 and watcher.status.state is State.STOPPED
    with pytest.raises(StopAsyncIteration):
        await anext(watcher)


async def test_status_listeners_see_every_change() -> None:
    seen: list[tuple[State, str]] = []
    failure = ApiError("INTERNAL_ERROR", ["x"])
    script = Script(failure, LOAD)
    watcher = PoolWatcher(script, OPTIONS)
    watcher.subscribe(lambda s: seen.append((s.state, s.reason)))
    await anext(watcher)
    assert seen[0] == (State.DEGRADED, "INTERNAL_ERROR ['x']")
    assert seen[-1] == (State.SYNCED, "")


def test_unknown_classes_are_the_callers_mistake() -> None:
    with pytest.raises(ValueError, match="no XAPI class"):
        PoolWatcher(Script(), WatchOptions(classes=["VMs"]))


def test_gc_pauses_nest_and_restore_the_collector() -> None:
    assert gc.isenabled()
    first, second = gc_paused(), gc_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # loads of two pools that overlap without nesting
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
    with gc_paused(pause=False):
        assert gc.isenabled()
    gc.disable()  # an application that runs without the collector keeps it so
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
