"""Sessions, redirects, failover and retries, against a fake pool behind ``httpx.MockTransport``.

The fake speaks the real wire (the codec encodes its answers) but its hosts, master and failures
are plain attributes, so each rule of the client is tested without sockets or timing.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from xorca.xapi import codec
from xorca.xapi.client import (
    AuthenticationFailed,
    CallTimeout,
    ConnectionFailed,
    JsonRpcUnsupported,
    PoolUnreachable,
    ProtocolError,
    RetryPolicy,
    SessionInvalid,
    Task,
    Xapi,
    is_idempotent,
)
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value

HOSTS = ("10.0.0.1", "10.0.0.2", "10.0.0.3")
FAST = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.02, probe_timeout=1)


class FakePool:
    """Three hosts; ``master`` answers, the others say HOST_IS_SLAVE; ``down`` hosts refuse."""

    def __init__(self) -> None:
        self.master = HOSTS[0]
        self.down: set[str] = set()
        self.sessions: set[str] = set()
        self.calls: list[tuple[str, str]] = []  # (host, method) of every answered call
        self.logins = 0
        self.jsonrpc = True
        self.failures: dict[str, Callable[[httpx.Request], httpx.Response]] = {}
        self.errors: dict[str, list[str]] = {}
        self.results: dict[str, Value] = {}
        self.delay = 0.0
        self.in_flight = self.peak = 0
        self.last_query = httpx.QueryParams()
        self.last_accept: str | None = None
        self._ids = itertools.count(1)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down:
            raise httpx.ConnectError("Connection refused", request=request)
        if request.method == "GET":
            return self.metrics(request)
        if request.url.path == "/jsonrpc":
            if not self.jsonrpc:
                page = b"<html><body><h1>HTTP 500 Internal Server Error</h1></body></html>"
                return httpx.Response(500, content=page, headers={"content-type": "text/html"})
            req = codec.decode_jsonrpc_request(request.content)
            method, params = req.method, req.params
        else:
            method, params = codec.decode_xmlrpc_request(request.content)
        if method in self.failures:
            return self.failures[method](request)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            result = self.dispatch(host, method, params)
        except XapiError as e:
            if request.url.path == "/jsonrpc":
                body = codec.encode_jsonrpc_error(req.id, req.version, e.code, e.params)
            else:
                body = codec.encode_xmlrpc_response(codec.failure(e.code, e.params))
        else:
            if request.url.path == "/jsonrpc":
                body = codec.encode_jsonrpc_result(req.id, req.version, result)
            else:
                body = codec.encode_xmlrpc_response(codec.success(result))
        finally:
            self.in_flight -= 1
        return httpx.Response(200, content=body)

    def metrics(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.url.host, f"GET {request.url.path}"))
        if "GET /rrd_updates" in self.failures:
            return self.failures["GET /rrd_updates"](request)
        if request.url.params.get("session_id") not in self.sessions:
            return httpx.Response(401, content=b"<html>Unauthorised</html>")
        self.last_query = request.url.params
        self.last_accept = request.headers.get("accept")
        legend = '["AVERAGE:host:h:cpu0"]'
        body = f'{{"meta":{{"start":0,"step":5,"end":5,"legend":{legend}}},"data":'
        body += '[{"t":5,"values":["NaN"]},{"t":0,"values":["1.5"]}]}'
        return httpx.Response(
            200, content=body.encode(), headers={"content-type": "application/json"}
        )

    def dispatch(self, host: str, method: str, params: list[Value]) -> Value:
        self.calls.append((host, method))
        if method in self.errors:
            raise XapiError(self.errors[method][0], self.errors[method][1:])
        if method == "session.login_with_password":
            if host != self.master:
                raise XapiError("HOST_IS_SLAVE", [self.master])
            if params[:2] != ["root", "pw"]:
                raise XapiError("SESSION_AUTHENTICATION_FAILED", [str(params[0]), "no"])
            self.logins += 1
            ref = f"OpaqueRef:session-{next(self._ids)}"
            self.sessions.add(ref)
            return ref
        if params[0] not in self.sessions:
            raise XapiError("SESSION_INVALID", [str(params[0])])
        if host != self.master:
            raise XapiError("HOST_IS_SLAVE", [self.master])
        if method == "session.logout":
            self.sessions.discard(str(params[0]))
            return ""
        if method == "host.get_all_records":
            return {f"OpaqueRef:host-{i}": {"address": a} for i, a in enumerate(HOSTS)}
        if method == "pool.get_all":
            return ["OpaqueRef:pool"]
        if method in self.results:
            return self.results[method]
        return f"{method} on {host}"

    def count(self, method: str) -> int:
        return sum(1 for _, m in self.calls if m == method)


def reply(request: httpx.Request, result: Value) -> httpx.Response:
    """A JSON-RPC answer to ``request`` carrying ``result``, whatever it is."""
    ident = codec.decode_jsonrpc_request(request.content).id
    return httpx.Response(200, content=codec.encode_jsonrpc_result(ident, "2.0", result))


@pytest.fixture
def pool() -> FakePool:
    return FakePool()


def client(pool: FakePool, url: str = "http://10.0.0.1", **options: Any) -> Xapi:
    options.setdefault("retry", FAST)
    return Xapi(url, "root", "pw", http=pool.transport(), **options)


async def test_login_learns_the_hosts_and_close_logs_out(pool: FakePool) -> None:
    async with client(pool) as xapi:
        assert xapi.session_ref in pool.sessions
        assert sorted(xapi.hosts.values()) == list(HOSTS)
        assert xapi.protocol == "jsonrpc" and xapi.login_count == 1
        assert await xapi.VM.get_all() == "VM.get_all on 10.0.0.1"
    assert pool.sessions == set() and pool.count("session.logout") == 1
    with pytest.raises(RuntimeError, match="closed"):
        await xapi.call("VM.get_all")


async def test_calls_log_in_on_demand(pool: FakePool) -> None:
    xapi = client(pool)
    assert xapi.session_ref is None
    await asyncio.gather(*(xapi.call("VM.get_all") for _ in range(5)))
    assert pool.logins == 1
    await xapi.close()


async def test_session_invalid_logs_in_again_once(pool: FakePool) -> None:
    async with client(pool) as xapi:
        pool.sessions.clear()  # expired
        assert await xapi.call("VM.get_all") == "VM.get_all on 10.0.0.1"
        assert xapi.login_count == 2
        # concurrent calls share one re-login
        pool.sessions.clear()
        await asyncio.gather(*(xapi.call("VM.get_all") for _ in range(6)))
        assert xapi.login_count == 3
        # a call that keeps failing SESSION_INVALID gives up after exactly one re-login
        pool.errors["VM.get_all"] = ["SESSION_INVALID", "x"]
        with pytest.raises(SessionInvalid) as info:
            await xapi.call("VM.get_all")
        assert info.value.method == "VM.get_all" and xapi.login_count == 4


async def test_host_is_slave_is_followed_keeping_scheme_and_port(pool: FakePool) -> None:
    pool.master = HOSTS[1]
    async with client(pool, url="http://10.0.0.3:8080") as xapi:
        assert xapi.master_url == "http://10.0.0.2:8080"
        pool.master = HOSTS[0]  # a master switch while logged in
        assert await xapi.call("VM.get_all") == "VM.get_all on 10.0.0.1"
        assert xapi.master_url == "http://10.0.0.1:8080" and xapi.login_count == 1


async def test_failover_when_the_master_stops_answering(pool: FakePool) -> None:
    async with client(pool) as xapi:
        pool.master = HOSTS[2]
        pool.down = {HOSTS[0]}
        assert await xapi.call("VM.clone") == "VM.clone on 10.0.0.3"  # never sent: safe
        assert xapi.master_url == "http://10.0.0.3" and xapi.login_count == 1


async def test_failover_at_login_uses_the_seed_hosts(pool: FakePool) -> None:
    pool.down = {HOSTS[0]}
    pool.master = HOSTS[1]
    async with client(pool, hosts=[HOSTS[2]]) as xapi:  # 10.0.0.3 names the master
        assert xapi.master_url == "http://10.0.0.2"


async def test_a_pool_with_no_reachable_master_fails_after_bounded_rounds(pool: FakePool) -> None:
    async with client(pool) as xapi:
        pool.down = {HOSTS[0]}  # the master is gone and the members still name it
        with pytest.raises(PoolUnreachable) as info:
            await xapi.call("VM.get_all")
        assert info.value.method == "VM.get_all" and not info.value.sent
        # two rounds, each probing three hosts, following nobody twice
        assert pool.count("pool.get_all") == 2 * 2
        pool.down.clear()
        assert await xapi.call("VM.get_all") == "VM.get_all on 10.0.0.1"  # it comes back


def cut(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("Server disconnected", request=request)


async def test_a_cut_connection_is_retried_only_for_idempotent_calls(pool: FakePool) -> None:
    async with client(pool) as xapi:
        pool.failures["VM.clone"] = cut
        with pytest.raises(ConnectionFailed) as info:
            await xapi.call("VM.clone", "OpaqueRef:v", "copy")
        assert info.value.sent and info.value.method == "VM.clone"
        attempts = {"n": 0}

        def cut_once(request: httpx.Request) -> httpx.Response:
            attempts["n"] += 1
            del pool.failures["VM.get_record"]
            return cut(request)

        pool.failures["VM.get_record"] = cut_once
        assert await xapi.call("VM.get_record", "OpaqueRef:v") == "VM.get_record on 10.0.0.1"
        assert attempts["n"] == 1


async def test_a_slow_master_times_out_without_failover(pool: FakePool) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)  # MockTransport has no clock

    async with client(pool) as xapi:
        pool.failures["VM.get_all"] = slow
        with pytest.raises(CallTimeout) as info:
            await xapi.call("VM.get_all", timeout=0.05)
        assert info.value.sent and pool.count("pool.get_all") == 0


async def test_wrong_credentials(pool: FakePool) -> None:
    xapi = Xapi("http://10.0.0.1", "root", "nope", http=pool.transport(), retry=FAST)
    with pytest.raises(AuthenticationFailed) as info:
        async with xapi:
            pass
    assert info.value.method == "session.login_with_password"
    assert xapi.transport.closed  # the failed __aenter__ closed it


async def test_xmlrpc_fallback_for_hosts_without_jsonrpc(pool: FakePool) -> None:
    pool.jsonrpc = False
    async with client(pool) as xapi:
        assert xapi.protocol == "xmlrpc"
        assert await xapi.VM.get_all() == "VM.get_all on 10.0.0.1"
    with pytest.raises(JsonRpcUnsupported):
        async with client(pool, protocol="jsonrpc"):
            pass
    async with client(FakePool(), protocol="xmlrpc") as xapi:
        assert xapi.protocol == "xmlrpc"


async def test_unexpected_login_answers_are_protocol_errors(pool: FakePool) -> None:
    pool.failures["session.login_with_password"] = lambda request: reply(request, 42)
    with pytest.raises(ProtocolError) as info:
        async with client(pool):
            pass
    assert info.value.method == "session.login_with_password" and "42" in str(info.value)


async def test_malformed_host_records_do_not_break_login(pool: FakePool) -> None:
    pool.failures["host.get_all_records"] = lambda request: reply(
        request, {"OpaqueRef:h": {"address": 7}}
    )
    async with client(pool) as xapi:
        assert xapi.hosts == {}
        assert await xapi.VM.get_all() == "VM.get_all on 10.0.0.1"


async def test_concurrent_calls_are_bounded(pool: FakePool) -> None:
    async with client(pool, max_concurrent=2) as xapi:
        pool.delay = 0.02
        pool.peak = 0
        await asyncio.gather(*(xapi.call("VM.get_all") for _ in range(10)))
        assert pool.peak == 2


async def test_event_from_gets_a_timeout_longer_than_its_poll(pool: FakePool) -> None:
    seen: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return reply(request, "")

    async with client(pool, timeout=10) as xapi:
        pool.failures["event.from"] = record
        await xapi.call("event.from", ["*"], "", 30.0)
        await xapi.call("event.from", ["*"], "", 1.0)
    assert seen[0]["read"] == 35.0 and seen[1]["read"] == 10


async def test_proxies_and_async_calls(pool: FakePool) -> None:
    pool.results["Async.VM.start"] = "OpaqueRef:task-1"
    async with client(pool) as xapi:
        assert await xapi.VM.get_all() == "VM.get_all on 10.0.0.1"
        assert await xapi.api.console.get_all() == "console.get_all on 10.0.0.1"
        task = await xapi.Async.VM.start("OpaqueRef:v", False, False)
        assert isinstance(task, Task) and task.ref == "OpaqueRef:task-1"
        assert task.method == "Async.VM.start"
        again = await xapi.call("Async.VM.start", "OpaqueRef:v", False, False)
        assert isinstance(again, Task)
        same = await xapi.call_async("VM.start", "OpaqueRef:v", False, False)
        assert same.ref == "OpaqueRef:task-1"
        pool.results["Async.VM.clone"] = 17
        with pytest.raises(ProtocolError, match="task ref"):
            await xapi.api.Async.VM.clone("OpaqueRef:v", "x")
    assert repr(xapi.VM.start) == "<XAPI method VM.start>"
    assert xapi.event.from_.name == "event.from" and xapi.VM.get_.name == "VM.get_"
    with pytest.raises(AttributeError):
        _ = xapi._private


def test_idempotent_calls() -> None:
    for method in ("VM.get_record", "VM.get_all_records", "host.get_address", "event.from"):
        assert is_idempotent(method)
    for method in ("VM.start", "VM.clone", "Async.VM.get_record", "event.next", "task.cancel"):
        assert not is_idempotent(method)
    assert RetryPolicy(backoff=0.5, max_backoff=1.5).delay(1) == 0
    assert [RetryPolicy(backoff=0.5, max_backoff=1.5).delay(n) for n in (2, 3, 4)] == [
        0.5,
        1.0,
        1.5,
    ]


def test_bad_urls_are_refused() -> None:
    for url in ("10.0.0.1", "ftp://10.0.0.1", "http://"):
        with pytest.raises(ValueError, match="http"):
            Xapi(url, "root", "pw")
    xapi = Xapi("https://[fd00::1]:8443", "root", "pw")
    assert xapi.master_url == "https://[fd00::1]:8443"
    assert xapi.url_for("fd00::2") == "https://[fd00::2]:8443"
    assert "pw" not in repr(xapi)


async def test_rrd_updates_go_to_the_host_and_renew_an_expired_session(pool: FakePool) -> None:
    async with client(pool) as xapi:
        pool.sessions.clear()  # expired: the first GET answers 401
        updates = await xapi.rrd_updates("OpaqueRef:host-2", vm_uuids=[], cf="MAX")
        assert [c for c in pool.calls if c[1] == "GET /rrd_updates"] == [
            ("10.0.0.3", "GET /rrd_updates"),
            ("10.0.0.3", "GET /rrd_updates"),
        ]
        assert xapi.login_count == 2
        query = pool.last_query
        assert query.get_list("vm_uuid") == ["none"] and query["host"] == "true"
        assert (query["start"], query["interval"], query["cf"]) == ("-600", "5", "MAX")
        assert pool.last_accept == "application/json" and query["json"] == "true"
        [(key, points)] = updates.series.items()
        assert key.name == "cpu0" and points[0] == (0, 1.5)

        await xapi.rrd_updates("10.0.0.2", host=False, vm_uuids=["u1", "u2"], json=False)
        assert pool.last_query.get_list("vm_uuid") == ["u1", "u2"]
        assert "host" not in pool.last_query and pool.last_accept == "text/xml"

        pool.failures["GET /rrd_updates"] = lambda request: httpx.Response(500, content=b"no")
        with pytest.raises(ProtocolError) as info:
            await xapi.rrd_updates("10.0.0.1")
        assert info.value.status == 500 and info.value.method == "GET /rrd_updates"
        pool.failures["GET /rrd_updates"] = lambda request: httpx.Response(200, content=b"{}")
        with pytest.raises(ProtocolError, match="malformed rrd_updates"):
            await xapi.rrd_updates("10.0.0.1")
        pool.down = {"10.0.0.2"}
        with pytest.raises(ConnectionFailed):
            await xapi.rrd_updates("10.0.0.2")
