"""The client through the simulator's fault injection: master switches, expired sessions, cut
connections, latency, failing calls, and a pool that stops and comes back."""

from __future__ import annotations

import asyncio
import time
from functools import partial

import pytest

from tests.support.control import control, pool_client
from tests.support.simthread import SimThread
from xorca.xapi.client import (
    ApiError,
    AuthenticationFailed,
    BadPowerState,
    CallTimeout,
    ConnectionFailed,
    PoolUnreachable,
    RetryPolicy,
    SessionInvalid,
    Xapi,
)

QUICK = RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.1, probe_timeout=2)
connect = partial(pool_client, retry=QUICK)


def addresses(sim: SimThread) -> tuple[str, str]:
    """(master address, member address)."""
    pool = sim.pool(1).pool
    master = pool.address_of(pool.master_ref)
    member = next(pool.address_of(r) for r in pool.db.refs("host") if r != pool.master_ref)
    return master, member


async def test_a_master_switch_is_followed(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi:
        before = await xapi.VM.get_all()
        _, member = addresses(fresh_sim)
        await control(fresh_sim, "master", {"host": member})
        assert sorted(await xapi.VM.get_all()) == sorted(before)
        assert xapi.master_url == xapi.url_for(member)
        assert xapi.login_count == 1  # the session is the pool's: no new login


async def test_failover_when_the_master_stops_answering(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi:
        old, member = addresses(fresh_sim)
        await control(fresh_sim, "master", {"host": member})
        running = fresh_sim.pool(1)
        old_ref = next(r for r in running.endpoints if running.pool.address_of(r) == old)
        await asyncio.to_thread(fresh_sim.run, running.endpoints[old_ref].http.stop)
        # the old master refuses connections: only failover (not HOST_IS_SLAVE) can find B
        assert await xapi.host.get_all()
        assert xapi.master_url == xapi.url_for(member)


async def test_login_fails_over_to_the_known_hosts(fresh_sim: SimThread) -> None:
    old, member = addresses(fresh_sim)
    running = fresh_sim.pool(1)
    url = running.describe()["url"]
    await control(fresh_sim, "master", {"host": member})
    old_ref = next(r for r in running.endpoints if running.pool.address_of(r) == old)
    await asyncio.to_thread(fresh_sim.run, running.endpoints[old_ref].http.stop)
    async with Xapi(url, "root", "xorca", hosts=[member], retry=QUICK) as xapi:
        assert xapi.master_url == xapi.url_for(member)


async def test_expired_sessions_are_renewed_once(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi:
        first = xapi.session_ref
        await control(fresh_sim, "expire-sessions")
        assert await xapi.VM.get_all()
        assert xapi.login_count == 2 and xapi.session_ref != first
        await control(
            fresh_sim, "fail-calls", {"method": "VM.get_all", "error": ["SESSION_INVALID", "x"]}
        )
        with pytest.raises(SessionInvalid):
            await xapi.VM.get_all()
        assert xapi.login_count == 3  # exactly one more attempt


async def test_a_blocked_event_from_survives_session_expiry(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi:
        first = await xapi.event.from_(["pool"], "", 0.0)  # from_: "from" is a keyword
        waiting = asyncio.create_task(xapi.call("event.from", ["pool"], first["token"], 2.0))
        await asyncio.sleep(0.3)
        await control(fresh_sim, "expire-sessions")  # wakes the call with SESSION_INVALID
        answer = await asyncio.wait_for(waiting, 10)
        assert isinstance(answer["token"], str) and xapi.login_count == 2


async def test_calls_reuse_one_connection(fresh_sim: SimThread) -> None:
    running = fresh_sim.pool(1)
    master = running.endpoints[running.pool.master_ref].http
    async with connect(fresh_sim) as xapi:
        for _ in range(5):
            await xapi.VM.get_all()
        assert len(master.connections) == 1  # login, host list and five calls: one socket
        await asyncio.gather(*(xapi.VM.get_all() for _ in range(5)))
        assert 1 <= len(master.connections) <= 5


async def test_dropped_connections(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi:
        await xapi.VM.get_all()
        await control(fresh_sim, "drop-connections")  # idle keep-alive connections die
        assert await xapi.VM.get_all() and xapi.login_count == 1

        await control(fresh_sim, "latency", {"seconds": 0.6})
        started = time.monotonic()
        call = asyncio.create_task(xapi.VM.get_all_records())  # idempotent: sent again
        await asyncio.sleep(0.3)
        await control(fresh_sim, "drop-connections")
        assert await asyncio.wait_for(call, 10)
        assert time.monotonic() - started > 1.2  # cut at 0.3 s, then a probe and the call again

        vm = next(iter(await xapi.VM.get_all()))
        clone = asyncio.create_task(xapi.VM.clone(vm, "maybe"))  # not idempotent
        await asyncio.sleep(0.3)
        await control(fresh_sim, "drop-connections")
        with pytest.raises(ConnectionFailed) as info:
            await asyncio.wait_for(clone, 10)
        assert info.value.sent and info.value.method == "VM.clone"


async def test_latency_and_timeouts(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi:
        await control(fresh_sim, "latency", {"seconds": 0.4})
        with pytest.raises(CallTimeout) as info:
            await xapi.VM.get_all(timeout=0.1)
        assert info.value.sent and info.value.method == "VM.get_all"
        started = time.monotonic()
        assert await xapi.VM.get_all()
        assert time.monotonic() - started >= 0.4
        await control(fresh_sim, "reset")


async def test_failing_calls(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi:
        vm = next(iter(await xapi.VM.get_all()))
        error = ["VM_BAD_POWER_STATE", vm, "halted", "running"]
        await control(fresh_sim, "fail-calls", {"method": "VM.start", "error": error})
        with pytest.raises(BadPowerState) as info:
            await xapi.VM.start(vm, False, False)
        assert info.value.description == error and info.value.expected == ["halted"]
        await control(
            fresh_sim, "fail-calls", {"method": "*", "error": ["INTERNAL_ERROR", "injected"]}
        )
        with pytest.raises(ApiError) as other:
            await xapi.host.get_all()
        assert type(other.value) is ApiError and other.value.params == ["injected"]
        await control(fresh_sim, "fail-calls", method="DELETE")
        assert await xapi.host.get_all()


async def test_a_stopped_pool_fails_fast_and_comes_back(fresh_sim: SimThread) -> None:
    async with connect(fresh_sim) as xapi:
        session = xapi.session_ref
        await control(fresh_sim, "stop")
        started = time.monotonic()
        with pytest.raises(PoolUnreachable) as info:
            await xapi.VM.get_all()
        assert time.monotonic() - started < 5 and info.value.method == "VM.get_all"
        await control(fresh_sim, "start")
        assert await xapi.VM.get_all()
        assert xapi.session_ref == session

        # a call made while the pool is down succeeds once it is back, within the retries
        await control(fresh_sim, "stop")
        patient = RetryPolicy(attempts=8, backoff=0.1, max_backoff=0.3, probe_timeout=2)
        xapi.retry = patient
        call = asyncio.create_task(xapi.host.get_all())
        await asyncio.sleep(0.4)
        await control(fresh_sim, "start")
        assert await asyncio.wait_for(call, 10)


async def test_wrong_credentials_and_logout(fresh_sim: SimThread) -> None:
    url = fresh_sim.pool(1).describe()["url"]
    with pytest.raises(AuthenticationFailed):
        async with Xapi(url, "root", "wrong", retry=QUICK):
            pass
    sessions = len(fresh_sim.pool(1).pool.sessions)
    async with connect(fresh_sim) as xapi:
        assert len(fresh_sim.pool(1).pool.sessions) == sessions + 1
        assert xapi.session_ref in fresh_sim.pool(1).pool.sessions
    assert len(fresh_sim.pool(1).pool.sessions) == sessions  # logged out on close
