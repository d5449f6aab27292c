"""`Xapi`: the client's public face. Calls, the readable proxies, tasks, metrics and consoles;
the session, redirects and failover behind them are `PoolSession`'s (``session.py``).

Values come back as the codec decodes them. JSON-RPC gives native ints; over XML-RPC, XAPI's
64-bit ints arrive as decimal strings (see `Xapi.protocol`). The client does not coerce records
to the datamodel: that is the consumer's business, once, with the datamodel at hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import httpx

from xorca.xapi.client.proxy import ApiProxy, AsyncApiProxy, ClassProxy
from xorca.xapi.client.rrd import RrdFormatError, RrdUpdates, parse_rrd_updates
from xorca.xapi.client.session import (
    Credentials,
    Origin,
    PoolSession,
    RetryPolicy,
    is_idempotent,
)
from xorca.xapi.client.tasks import Task
from xorca.xapi.client.tls import TlsPolicy
from xorca.xapi.client.transport import Protocol, Transport
from xorca.xapi.errors import ProtocolError
from xorca.xapi.values import Value

if TYPE_CHECKING:
    from xorca.xapi.client.console import ConsoleStream

__all__ = ["RetryPolicy", "Xapi", "is_idempotent"]

#: an ``event.from`` call's HTTP timeout is its own timeout plus this (XO: 60.1 s poll, 66 s HTTP)
EVENT_MARGIN = 5.0


class Xapi:
    """An async XAPI client for one pool. Use it as an async context manager::

        async with Xapi("https://10.0.0.1", "root", "secret", tls=TlsPolicy.pinned(fp)) as xapi:
            vms = await xapi.VM.get_all_records()
            task = await xapi.Async.VM.start(ref, False, False)
            await task.result()

    ``xapi.X.m(...)`` is ``xapi.call("X.m", ...)`` for any XAPI class ``X`` except ``console``
    (`console` opens a VM console); ``xapi.api.X.m`` works for every class.
    """

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        protocol: Protocol | None = None,
        tls: TlsPolicy | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_concurrent: int = 16,
        retry: RetryPolicy | None = None,
        hosts: Iterable[str] = (),
        originator: str = "xorca",
        http: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``url`` is any host of the pool (``https://address[:port]``); ``hosts`` more host
        addresses to try if it does not answer. ``protocol`` None means JSON-RPC, falling back to
        XML-RPC for hosts that do not speak it. ``timeout`` is the default per call;
        ``max_concurrent`` bounds the requests in flight. ``http`` replaces the network (tests).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an XAPI URL is http(s)://host[:port], not {url!r}")
        self.timeout = timeout
        self.tls = tls or TlsPolicy.verified()
        self._username = username
        self._closed = False
        self._transport = Transport(
            tls=self.tls, connect_timeout=connect_timeout, max_concurrent=max_concurrent, http=http
        )
        self._session = PoolSession(
            self._transport,
            Origin(parts.scheme, parts.port),
            parts.hostname,
            Credentials(username, password, originator),
            seeds=list(hosts),
            protocol=protocol,
            timeout=timeout,
            retry=retry or RetryPolicy(),
        )

    # ------------------------------------------------------------------------------ state

    @property
    def protocol(self) -> Protocol:
        """The wire in use. ``"jsonrpc"``: ints are ints. ``"xmlrpc"``: XAPI's 64-bit ints arrive
        as decimal strings (XAPI sends them untyped), floats, bools and the rest as themselves."""
        return self._session.protocol

    @property
    def master_url(self) -> str:
        """Where calls go now: the master as last seen."""
        return self._session.master

    @property
    def session_ref(self) -> str | None:
        """The current session, or None before login and after close."""
        return self._session.ref

    @property
    def hosts(self) -> dict[str, str]:
        """The pool's hosts as of the last login: host ref → address."""
        return dict(self._session.hosts)

    @property
    def login_count(self) -> int:
        """Logins so far: a watcher compares it to learn that the session was renewed."""
        return self._session.logins

    @property
    def retry(self) -> RetryPolicy:
        return self._session.retry

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        self._session.retry = policy

    @property
    def transport(self) -> Transport:
        return self._transport

    def url_for(self, address: str) -> str:
        """The URL of a host address, with the scheme and port this client was given."""
        return self._session.origin.url(address)

    # ------------------------------------------------------------------------------ calls

    async def call(self, method: str, *params: Value, timeout: float | None = None) -> Any:
        """Call ``method`` (``"VM.start"``) with ``params`` after the session; returns the decoded
        value, or a `Task` for ``Async.*`` calls. Raises the `XapiError` tree."""
        if method.startswith("Async."):
            return await self.call_async(method, *params, timeout=timeout)
        return await self._send(method, list(params), self._timeout_for(method, params, timeout))

    async def call_async(self, method: str, *params: Value, timeout: float | None = None) -> Task:
        """Start ``Async.<method>`` (the prefix is optional) and return its `Task`."""
        name = method if method.startswith("Async.") else f"Async.{method}"
        ref = await self._send(name, list(params), timeout or self.timeout)
        if not isinstance(ref, str) or not ref.startswith("OpaqueRef:"):
            raise ProtocolError(name, f"expected a task ref, got {ref!r:.80}", url=self.master_url)
        return Task(self, ref, name)

    async def _send(self, method: str, params: list[Value], timeout: float) -> Value:
        if self._closed:
            raise RuntimeError(f"{method}: this Xapi client is closed")
        return await self._session.send(method, params, timeout)

    @property
    def api(self) -> ApiProxy:
        """``xapi.api.VM.get_all()``: every XAPI class, whatever its name."""
        return ApiProxy(self.call, self.call_async)

    @property
    def Async(self) -> AsyncApiProxy:  # spelled as XAPI spells it
        """``await xapi.Async.VM.clone(vm, "copy")`` returns a `Task`."""
        return AsyncApiProxy(self.call_async)

    def __getattr__(self, name: str) -> ClassProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        return ClassProxy(name, self.call)

    def _timeout_for(self, method: str, params: Sequence[Value], timeout: float | None) -> float:
        if timeout is not None:
            return timeout
        if method == "event.from" and len(params) >= 3:
            poll = params[2]
            if isinstance(poll, int | float) and not isinstance(poll, bool) and poll >= 0:
                return max(self.timeout, float(poll) + EVENT_MARGIN)
        return self.timeout

    # ---------------------------------------------------------------------------- sessions

    async def session_id(self) -> str:
        """The session ref, logging in first if there is none."""
        return await self._session.ensure()

    async def login(self) -> str:
        """Log in now (calls log in on demand anyway) and return the session ref."""
        return await self._session.ensure()

    async def renew_session(self, stale: str) -> str:
        """Forget ``stale`` (if it is still the current session) and log in again."""
        return await self._session.renew(stale)

    # ---------------------------------------------------------------------------- metrics

    async def rrd_updates(
        self,
        host_ref_or_address: str,
        /,
        *,
        start: int = -600,
        interval: int = 5,
        cf: str = "AVERAGE",
        host: bool = True,
        vm_uuids: Sequence[str] | None = None,
        sr_uuids: Sequence[str] = (),
        json: bool = True,
        timeout: float | None = None,
    ) -> RrdUpdates:
        """``GET /rrd_updates`` on one host (each host reports itself and its resident VMs).

        ``start`` negative is relative to the host's last update; ``vm_uuids`` None means every
        resident VM, ``[]`` none. ``json`` asks for JSON (else XML); both parse alike.
        """
        address = await self._address_of(host_ref_or_address)
        params = [("start", str(start)), ("interval", str(interval)), ("cf", cf)]
        if host:
            params.append(("host", "true"))
        if vm_uuids is not None:
            params += [("vm_uuid", u) for u in vm_uuids] or [("vm_uuid", "none")]
        params += [("sr_uuid", u) for u in sr_uuids]
        if json:
            params.append(("json", "true"))
        accept = "application/json" if json else "text/xml"
        what, url = "GET /rrd_updates", self.url_for(address) + "/rrd_updates"
        for attempt in (1, 2):
            session = await self.session_id()
            response = await self._transport.get(
                what,
                url,
                params=[*params, ("session_id", session)],
                headers={"Accept": accept},
                timeout=timeout or self.timeout,
            )
            if response.status_code == 401 and attempt == 1:
                await self.renew_session(session)  # the session expired: once more, fresh
                continue
            if response.status_code != 200:
                text = response.content[:200].decode("utf-8", "replace")
                raise ProtocolError(
                    what,
                    f"HTTP {response.status_code}: {text!r}",
                    url=url,
                    status=response.status_code,
                )
            try:
                return parse_rrd_updates(response.content, response.headers.get("content-type", ""))
            except RrdFormatError as e:
                raise ProtocolError(what, f"malformed rrd_updates: {e}", url=url) from e
        raise AssertionError("unreachable")

    async def _address_of(self, host_ref_or_address: str) -> str:
        if not host_ref_or_address.startswith("OpaqueRef:"):
            return host_ref_or_address
        known = self._session.hosts.get(host_ref_or_address)
        if known:
            return known
        address = await self.call("host.get_address", host_ref_or_address)
        if not isinstance(address, str) or not address:
            raise ProtocolError("host.get_address", f"expected an address, got {address!r:.80}")
        return address

    # ---------------------------------------------------------------------------- consoles

    async def console(self, vm_ref: str, *, timeout: float | None = None) -> ConsoleStream:
        """Open the VM's rfb console on the host it runs on: a raw RFB byte stream."""
        from xorca.xapi.client.console import open_console

        return await open_console(self, vm_ref, timeout=timeout or self.timeout)

    # ---------------------------------------------------------------------------- lifetime

    async def close(self) -> None:
        """Log out (best effort) and close every connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._session.logout()
        finally:
            await self._transport.aclose()

    async def __aenter__(self) -> Self:
        try:
            await self.session_id()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "logged in" if self.session_ref else "not logged in"
        return f"<Xapi {self._username}@{self.master_url} {self.protocol} {state}>"
