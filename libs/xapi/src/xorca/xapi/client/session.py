"""`PoolSession`: one logged-in session with one pool, kept working through the pool's mishaps.

What it absorbs, so that callers only see failures they can act on:

- an expired or garbage-collected session (``SESSION_INVALID``): log in again, once, and retry;
- a call that reached a member (``HOST_IS_SLAVE [address]``): go to the master it names, keeping
  the scheme and port of the URL we were given (XAPI names an IP, nothing more);
- a master that stops answering: ask every known host of the pool (learned from
  ``host.get_all_records`` at each login) which one is the master (the master answers, members
  name it), in bounded rounds with a growing pause, then retry the call there;
- a host older than JSON-RPC: speak XML-RPC to it (only when no protocol was imposed).

A call is sent again after a connection failure only if that cannot run it twice: the request
never left (`TransportError.sent` is False) or the call is idempotent (`RetryPolicy.idempotent`:
getters, ``event.from``). A read timeout is not failed over: the master took the call and is
slow, a member could only name it again, and the caller chose the timeout.

Logins, re-logins and failover rounds are serialised by one lock, so that twenty calls meeting
the same expired session or dead master cause one login and one round, not twenty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from xorca.xapi.client.transport import JsonRpcUnsupported, Protocol, Transport
from xorca.xapi.errors import (
    CallTimeout,
    ConnectionFailed,
    HostIsSlave,
    PoolUnreachable,
    ProtocolError,
    SessionInvalid,
    TransportError,
    XapiError,
)
from xorca.xapi.values import Value

__all__ = ["LOGIN", "SESSIONLESS", "Origin", "PoolSession", "RetryPolicy", "is_idempotent"]

log = logging.getLogger(__name__)

LOGIN = "session.login_with_password"
#: calls that take no session parameter
SESSIONLESS = frozenset({LOGIN, "session.slave_local_login_with_password", "system.listMethods"})


def is_idempotent(method: str) -> bool:
    """Whether sending ``method`` twice does no more than sending it once: getters
    (``get_record``, ``get_all_records``, field getters…), ``event.from`` (its token says where to
    resume) and login (a spare session at worst). ``Async.*`` never: it would start a second task.
    """
    if method.startswith("Async."):
        return False
    _, _, message = method.partition(".")
    return message.startswith("get_") or method in ("event.from", "system.listMethods", LOGIN)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries before it fails; tests use small values."""

    #: failover rounds per call: each asks every known host which one is the master
    attempts: int = 3
    #: pause before the second round, doubled for each further round up to `max_backoff`
    backoff: float = 0.5
    max_backoff: float = 5.0
    #: ``HOST_IS_SLAVE`` redirects followed per call
    redirects: int = 3
    #: timeout of one probe ("are you the master?") during failover
    probe_timeout: float = 5.0
    #: calls that may be sent again after their connection failed mid-call
    idempotent: Callable[[str], bool] = field(default=is_idempotent)

    def delay(self, round_: int) -> float:
        """The pause before failover round ``round_`` (1-based): none before the first, since a
        master switch or a dropped connection usually recovers at once."""
        if round_ <= 1:
            return 0.0
        return min(self.backoff * 2.0 ** (round_ - 2), self.max_backoff)


@dataclass(frozen=True)
class Origin:
    """The scheme and port every host of the pool is reached on (those of the URL we were given:
    XAPI only ever names a host's address)."""

    scheme: str
    port: int | None = None

    def url(self, address: str) -> str:
        if ":" in address and not address.startswith("["):
            address = f"[{address}]"  # IPv6
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{address}{port}"


@dataclass
class Credentials:
    username: str
    password: str = field(repr=False)
    originator: str = "xorca"


class PoolSession:
    """The session, the master, and the pool's hosts; `send` gets a call to the master."""

    def __init__(
        self,
        transport: Transport,
        origin: Origin,
        master: str,
        credentials: Credentials,
        *,
        seeds: list[str],
        protocol: Protocol | None,
        timeout: float,
        retry: RetryPolicy,
    ) -> None:
        self.transport = transport
        self.origin = origin
        self.credentials = credentials
        self.timeout = timeout
        self.retry = retry
        self.master = origin.url(master)
        self.protocol: Protocol = protocol or "jsonrpc"
        self._auto_protocol = protocol is None
        self._seeds = [self.master, *(origin.url(a) for a in seeds)]
        #: host ref → address, as of the last login
        self.hosts: dict[str, str] = {}
        self.ref: str | None = None
        self.logins = 0
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------------------- calls

    async def send(self, method: str, params: list[Value], timeout: float) -> Value:
        """``method`` on the master with the session prepended (unless it takes none)."""
        if method in SESSIONLESS:
            return await self._on_master(method, params, timeout, None)
        relogged = False
        while True:
            session = await self.ensure()
            try:
                return await self._on_master(method, params, timeout, session)
            except SessionInvalid:
                if relogged:
                    raise
                relogged = True
                log.info("%s: session invalid, logging in again", method)
                await self.renew(session)

    async def _on_master(
        self, method: str, params: list[Value], timeout: float, session: str | None
    ) -> Value:
        """Send to the master, following HOST_IS_SLAVE and failing over on lost connections."""
        redirects = rounds = 0
        while True:
            url = self.master
            args = params if session is None else [session, *params]
            try:
                return await self.transport.rpc(
                    url, method, args, protocol=self.protocol, timeout=timeout
                )
            except HostIsSlave as e:
                redirects += 1
                if redirects > self.retry.redirects or not e.master:
                    raise
                self._follow(url, e.master)
            except (ConnectionFailed, CallTimeout) as e:
                if not self._may_retry(method, e):
                    raise
                rounds += 1
                if rounds > self.retry.attempts:
                    raise _unreachable(method, e, rounds - 1) from e
                await asyncio.sleep(self.retry.delay(rounds))
                async with self._lock:
                    await self._fail_over_locked(url)

    def _may_retry(self, method: str, error: TransportError) -> bool:
        if isinstance(error, CallTimeout) and error.sent:
            return False  # the master is slow, not gone (see the module docstring)
        return not error.sent or self.retry.idempotent(method)

    def _follow(self, url: str, master: str) -> None:
        target = self.origin.url(master)
        if self.master == url and target != url:
            log.info("%s is not the master; following HOST_IS_SLAVE to %s", url, target)
            self.master = target

    # ---------------------------------------------------------------------------- sessions

    async def ensure(self) -> str:
        """The session ref, logging in first if there is none."""
        session = self.ref
        if session is not None:
            return session
        async with self._lock:
            if self.ref is None:
                await self._login_locked()
            assert self.ref is not None
            return self.ref

    async def renew(self, stale: str) -> str:
        """Forget ``stale`` (if it is still the current session) and log in again."""
        async with self._lock:
            if self.ref == stale:
                self.ref = None
        return await self.ensure()

    async def logout(self) -> None:
        """Best effort: the session dies with its idle timeout anyway."""
        session, self.ref = self.ref, None
        if session is not None:
            with contextlib.suppress(XapiError):
                await self.transport.rpc(
                    self.master,
                    "session.logout",
                    [session],
                    protocol=self.protocol,
                    timeout=min(self.timeout, self.retry.probe_timeout),
                )

    async def _login_locked(self) -> None:
        redirects = rounds = 0
        while self.ref is None:
            url = self.master
            try:
                self._logged_in(await self._login_at(url))
            except HostIsSlave as e:
                redirects += 1
                if redirects > self.retry.redirects or not e.master:
                    raise
                self._follow(url, e.master)
            except (ConnectionFailed, CallTimeout) as e:
                rounds += 1
                if rounds > self.retry.attempts:
                    raise _unreachable(LOGIN, e, rounds - 1) from e
                await asyncio.sleep(self.retry.delay(rounds))
                await self._fail_over_locked(url)  # probes log in: may set the session
        await self._learn_hosts(self.ref)

    def _logged_in(self, session: str) -> None:
        self.ref = session
        self.logins += 1

    async def _login_at(self, url: str) -> str:
        c = self.credentials
        params: list[Value] = [c.username, c.password, "1.1", c.originator]
        try:
            ref = await self.transport.rpc(
                url, LOGIN, params, protocol=self.protocol, timeout=self.timeout
            )
        except JsonRpcUnsupported:
            if not self._auto_protocol:
                raise
            log.info("%s does not answer JSON-RPC; speaking XML-RPC", url)
            self.protocol, self._auto_protocol = "xmlrpc", False
            ref = await self.transport.rpc(
                url, LOGIN, params, protocol="xmlrpc", timeout=self.timeout
            )
        if not isinstance(ref, str) or not ref:
            raise ProtocolError(LOGIN, f"expected a session ref, got {ref!r:.80}", url=url)
        return ref

    async def _learn_hosts(self, session: str) -> None:
        """Remember every host's address, for failover. Best effort: a failure only costs the
        failover candidates, so it is logged, not raised."""
        method = "host.get_all_records"
        try:
            records = await self.transport.rpc(
                self.master, method, [session], protocol=self.protocol, timeout=self.timeout
            )
            if not isinstance(records, dict):
                raise ProtocolError(method, f"expected a map, got {type(records).__name__}")
            hosts: dict[str, str] = {}
            for ref, record in records.items():
                address = record.get("address") if isinstance(record, dict) else None
                if not isinstance(address, str):
                    raise ProtocolError(method, f"host {ref} has no address string")
                if address:
                    hosts[ref] = address
        except XapiError as e:
            log.warning("could not learn the pool's hosts: %s", e)
            return
        self.hosts = hosts

    # ---------------------------------------------------------------------------- failover

    def _candidates(self, failed: str) -> list[str]:
        """Every host URL worth asking, the one that failed first (it may be back already)."""
        urls = [failed, *self._seeds, *(self.origin.url(a) for a in self.hosts.values())]
        return list(dict.fromkeys(urls))

    async def _fail_over_locked(self, failed: str) -> None:
        """One round: ask the hosts, following the masters they name, until one is the master.
        Leaves `master` unchanged if nobody is (the caller's next attempt then fails again)."""
        if self.master != failed:
            return  # another call has already moved on
        queue, tried = deque(self._candidates(failed)), set[str]()
        while queue:
            url = queue.popleft()
            if url in tried:
                continue
            tried.add(url)
            answer = await self._probe(url)
            if answer == url:
                if url != failed:
                    log.warning("master %s is unreachable; %s is the master now", failed, url)
                self.master = url
                return
            if answer is not None:
                queue.appendleft(answer)  # a member named the master: ask it next
        log.warning("no master among %s", sorted(tried))

    async def _probe(self, url: str) -> str | None:
        """Whether ``url`` is the master (returns ``url``), names one (returns its URL), or does
        not answer (None). Without a session the probe is a login, which is what we need next."""
        session = self.ref
        try:
            if session is None:
                self._logged_in(await self._login_at(url))
            else:
                await self.transport.rpc(
                    url,
                    "pool.get_all",
                    [session],
                    protocol=self.protocol,
                    timeout=self.retry.probe_timeout,
                )
        except HostIsSlave as e:
            return self.origin.url(e.master) if e.master else None
        except SessionInvalid:
            self.ref = None
            return url  # it answers; if it is a member, the next login is redirected
        except TransportError:
            return None
        return url


def _unreachable(method: str, error: TransportError, rounds: int) -> PoolUnreachable:
    return PoolUnreachable(
        method,
        f"no host of the pool answered as master after {rounds} failover round(s); "
        f"last error: {error.message}",
        url=error.url,
        sent=error.sent,
    )
