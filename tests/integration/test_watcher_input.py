"""Bad input on the wire: a truncated or garbled answer, a non-UTF-8 byte, an unexpected type, an
unknown class or field. Each is a typed error naming ``event.from`` in the watcher's status, none
of it reaches the mirror, and the watcher recovers by itself.

The simulator answers; a transport between it and the client tampers with chosen
``event.from`` answers (the client's ``http`` seam), so the rest of the path is the real one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from tests.support.simthread import SimThread, on_sim
from tests.support.watcher import OPTIONS, Consumer, api, connect, vm_of
from xorca.xapi.errors import ConnectionFailed, PoolUnreachable, ProtocolError
from xorca.xapi.watcher import PoolWatcher, State
from xorca.xapi_sim.state.pool import SimPool

MARK = "renamed-by-the-test"
Plan = Callable[[httpx.Response, bytes], httpx.Response]


class Tamper(httpx.AsyncBaseTransport):
    """The real network, except that the next ``event.from`` answers go through ``plans``."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.plans: deque[Plan] = deque()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not self.plans or b'"event.from"' not in request.content:
            return response
        body = await response.aread()
        return self.plans.popleft()(response, body)

    async def aclose(self) -> None:
        await self.inner.aclose()


def answer(response: httpx.Response, body: bytes) -> httpx.Response:
    return httpx.Response(response.status_code, headers=response.headers, content=body)


def raw(change: Callable[[bytes], bytes]) -> Plan:
    def plan(response: httpx.Response, body: bytes) -> httpx.Response:
        headers = {"content-type": "application/json"}
        return httpx.Response(response.status_code, headers=headers, content=change(body))

    return plan


def decoded(change: Callable[[dict[str, Any]], None]) -> Plan:
    """Change the decoded ``result`` of the answer (its first event is our rename)."""

    def edit(body: bytes) -> bytes:
        message = orjson.loads(body)
        change(message["result"])
        return orjson.dumps(message)

    return raw(edit)


def first_event(change: Callable[[dict[str, Any]], None]) -> Plan:
    return decoded(lambda result: change(result["events"][0]))


class Truncated(httpx.AsyncByteStream):
    """A body that stops half-way, as when the connection drops mid-answer."""

    def __init__(self, head: bytes) -> None:
        self.head = head

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def cut(response: httpx.Response, body: bytes) -> httpx.Response:
    headers = {"content-type": "application/json", "content-length": str(len(body))}
    return httpx.Response(200, headers=headers, stream=Truncated(body[: len(body) // 2]))


async def rename(sim: SimThread) -> str:
    async def go(pool: SimPool) -> str:
        vm = vm_of(pool)
        await api(pool, "VM.set_name_label", vm, MARK)
        return vm

    return await on_sim(sim, go)


CASES: list[tuple[str, Plan, str]] = [
    ("truncated text", raw(lambda b: b[: len(b) // 2]), "malformed JSON-RPC answer"),
    ("non-UTF-8", raw(lambda b: b.replace(MARK.encode(), b"renamed-\xff-")), "malformed JSON"),
    ("HTML error page", lambda r, b: httpx.Response(500, html="<h1>oops</h1>"), "HTTP 500"),
    ("events not a list", decoded(lambda r: r.update(events={})), "'events' is dict"),
    ("no token", decoded(lambda r: r.pop("token")), "token is NoneType"),
    ("unknown class", first_event(lambda e: e.update({"class": "flux"})), "unknown class"),
    ("unknown field", first_event(lambda e: e["snapshot"].update(warp=9)), "field(s) ['warp']"),
    ("snapshot type", first_event(lambda e: e.update(snapshot="VM")), "has a str snapshot"),
    ("bad counts", decoded(lambda r: r.update(valid_ref_counts=7)), "valid_ref_counts is int"),
]


@pytest.mark.parametrize(("plan", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_a_bad_answer_is_a_typed_error_and_the_watcher_recovers(
    fresh_sim: SimThread, plan: Plan, says: str
) -> None:
    tamper = Tamper()
    async with (
        connect(fresh_sim, http=tamper) as xapi,
        Consumer(PoolWatcher(xapi, OPTIONS), fresh_sim) as c,
    ):
        before = c.watcher.snapshot()
        tamper.plans.append(plan)
        vm = await rename(fresh_sim)
        degraded = await c.wait(State.DEGRADED)
        error = degraded.last_error
        assert isinstance(error, ProtocolError) and error.method == "event.from"
        assert says in str(error)
        assert c.watcher.snapshot() == before  # nothing of the bad answer got in
        await c.settled()
        assert c.watcher.mirror["VM"][vm]["name_label"] == MARK
        assert c.resyncs()  # recovered by loading again


async def test_a_bad_first_load(fresh_sim: SimThread) -> None:
    tamper = Tamper()
    tamper.plans.append(first_event(lambda e: e.update(operation="touch")))
    async with connect(fresh_sim, http=tamper) as xapi:
        watcher = PoolWatcher(xapi, OPTIONS)
        states: list[State] = []
        watcher.subscribe(lambda s: states.append(s.state))
        first = await asyncio.wait_for(anext(watcher), 10)
        assert first.resync and states == [State.DEGRADED, State.SYNCED]
        watcher.close()


async def test_answers_cut_mid_body(fresh_sim: SimThread) -> None:
    """One cut is absorbed by the client (event.from is sent again with the same token); more
    cuts than its failover rounds reach the watcher as a lost connection, and it reloads."""
    tamper = Tamper()
    async with (
        connect(fresh_sim, http=tamper) as xapi,
        Consumer(PoolWatcher(xapi, OPTIONS), fresh_sim) as c,
    ):
        tamper.plans.append(cut)
        await rename(fresh_sim)
        await c.settled()
        assert not tamper.plans  # the cut happened
        assert not c.resyncs() and not c.visited(State.DISCONNECTED)

        tamper.plans.extend([cut, cut, cut])
        await rename(fresh_sim)
        down = await c.wait(State.DISCONNECTED)
        assert isinstance(down.last_error, PoolUnreachable)
        assert down.last_error.method == "event.from"
        assert isinstance(down.last_error.__cause__, ConnectionFailed)
        await c.settled()
        assert len(c.resyncs()) == 1 and not tamper.plans
