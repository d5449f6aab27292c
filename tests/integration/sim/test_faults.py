"""Fault injection through the control endpoint: what the reliability tests of later work use."""

from __future__ import annotations

import time

import httpx
import pytest
import XenAPI

from tests.support.control import control_request
from tests.support.sdk import raw_proxy, sdk_session
from tests.support.simthread import SimThread


def test_listing_describes_pools_hosts_and_credentials(fresh_sim: SimThread) -> None:
    pools = control_request(fresh_sim, "GET").json()
    assert len(pools) == 1
    pool = pools[0]
    assert pool["url"].startswith("http://127.101.0.")
    assert {h["master"] for h in pool["hosts"]} == {True, False}
    assert pool["username"] == "root" and pool["password"] == "xorca"


def test_switching_the_master(fresh_sim: SimThread) -> None:
    before = fresh_sim.pool(1).describe()
    old_url, new_url = before["url"], before["members"][0]
    new_address = new_url.split("//")[1].rsplit(":", 1)[0]
    answer = control_request(fresh_sim, "POST", "master", {"host": new_address})
    assert answer.status_code == 200, answer.text
    assert answer.json()["url"] == new_url
    with pytest.raises(XenAPI.Failure) as info, sdk_session(old_url):
        pass
    assert info.value.details == ["HOST_IS_SLAVE", new_address]
    with sdk_session(new_url) as session:
        pool = session.xenapi.pool.get_all()[0]
        master = session.xenapi.pool.get_master(pool)
        assert session.xenapi.host.get_address(master) == new_address


def test_expired_sessions_are_invalid(fresh_sim: SimThread) -> None:
    url = fresh_sim.pool(1).describe()["url"]
    with sdk_session(url, login=True) as session:
        handle = session.handle
        assert control_request(fresh_sim, "POST", "expire-sessions").status_code == 200
        session._session = None  # nothing left to log out
    with raw_proxy(url) as raw:
        answer = raw.pool.get_all(handle)
    assert answer == {"Status": "Failure", "ErrorDescription": ["SESSION_INVALID", handle]}


def test_latency_and_failing_calls(fresh_sim: SimThread) -> None:
    with sdk_session(fresh_sim.pool(1).describe()["url"]) as session:
        _latency_and_failing_calls(fresh_sim, session)


def _latency_and_failing_calls(fresh_sim: SimThread, session: XenAPI.Session) -> None:
    control_request(fresh_sim, "POST", "latency", {"seconds": 0.3})
    started = time.monotonic()
    session.xenapi.pool.get_all()
    assert time.monotonic() - started >= 0.3
    control_request(
        fresh_sim,
        "POST",
        "fail-calls",
        {"method": "VM.get_all", "error": ["INTERNAL_ERROR", "injected"]},
    )
    with pytest.raises(XenAPI.Failure) as info:
        session.xenapi.VM.get_all()
    assert info.value.details == ["INTERNAL_ERROR", "injected"]
    session.xenapi.host.get_all()  # other calls still work
    control_request(fresh_sim, "POST", "reset")
    started = time.monotonic()
    session.xenapi.VM.get_all()
    assert time.monotonic() - started < 0.3


def test_dropped_connections_and_a_stopped_pool(fresh_sim: SimThread) -> None:
    url = fresh_sim.pool(1).describe()["url"]
    client = httpx.Client()
    assert (
        client.post(
            url + "/jsonrpc", json={"jsonrpc": "2.0", "method": "system.listMethods", "id": 1}
        ).status_code
        == 200
    )
    control_request(fresh_sim, "POST", "drop-connections")
    # the kept-alive connection is gone; a new one works
    assert (
        httpx.post(
            url + "/jsonrpc", json={"jsonrpc": "2.0", "method": "system.listMethods", "id": 1}
        ).status_code
        == 200
    )
    assert control_request(fresh_sim, "POST", "stop").json()["running"] is False
    with pytest.raises(httpx.ConnectError):
        httpx.post(
            url + "/jsonrpc",
            json={"jsonrpc": "2.0", "method": "system.listMethods", "id": 1},
            timeout=2,
        )
    assert control_request(fresh_sim, "POST", "start").json()["running"] is True
    assert (
        httpx.post(
            url + "/jsonrpc", json={"jsonrpc": "2.0", "method": "system.listMethods", "id": 1}
        ).status_code
        == 200
    )
    client.close()


def test_control_errors_are_clear(fresh_sim: SimThread) -> None:
    answer = control_request(fresh_sim, "POST", "latency", {"seconds": -1})
    assert answer.status_code == 400 and "seconds" in answer.json()["error"]
    answer = control_request(fresh_sim, "POST", "master", {"host": "nowhere"})
    assert answer.status_code == 400
    assert control_request(fresh_sim, "POST", "explode").status_code == 404
