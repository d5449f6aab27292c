"""XAPI for one owned pool: an `Xapi` client from its registry entry, the `PoolWatcher` on it,
and the calls commands make.

`TrackedClient` is what the watcher talks through: the same client, telling whether an
``event.from`` is under way. The runner uses that to order statuses with batches (a watcher that
says "synced" has either handed out its batch, or gone back to polling without one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from xorca.contracts.registry import PoolEntry
from xorca.xapi.client import RetryPolicy, Task, TlsPolicy, Xapi
from xorca.xapi.errors import ProtocolError
from xorca.xapi.values import Value
from xorca.xapi.watcher import PoolWatcher, WatchOptions

__all__ = ["PoolLink", "TrackedClient", "XapiLinks"]


class TrackedClient:
    """An `EventClient` (what `PoolWatcher` needs) that flags its calls in progress."""

    def __init__(self, xapi: Xapi, on_call: Callable[[], None]) -> None:
        self.xapi = xapi
        self.in_call = False
        self._on_call = on_call

    @property
    def master_url(self) -> str:
        return self.xapi.master_url

    @property
    def login_count(self) -> int:
        return self.xapi.login_count

    async def call(self, method: str, *params: Value, timeout: float | None = None) -> Any:
        self.in_call = True
        self._on_call()
        try:
            return await self.xapi.call(method, *params, timeout=timeout)
        finally:
            self.in_call = False


class PoolLink:
    """One pool's client, its watcher, and command calls."""

    def __init__(self, xapi: Xapi, options: WatchOptions) -> None:
        self.xapi = xapi
        self.options = options
        self.tracked: TrackedClient | None = None

    async def pool_uuid(self) -> str:
        """Log in (if needed) and read the pool's uuid: the pool's name on the bus."""
        records = await self.xapi.call("pool.get_all_records")
        if not isinstance(records, dict) or len(records) != 1:
            raise ProtocolError("pool.get_all_records", f"expected one pool, got {records!r:.80}")
        (record,) = records.values()
        uuid = record.get("uuid") if isinstance(record, dict) else None
        if not isinstance(uuid, str) or not uuid:
            raise ProtocolError("pool.get_all_records", "the pool record has no uuid")
        return uuid

    def watcher(self, on_call: Callable[[], None]) -> PoolWatcher:
        self.tracked = TrackedClient(self.xapi, on_call)
        return PoolWatcher(self.tracked, self.options)

    @property
    def in_call(self) -> bool:
        return self.tracked is not None and self.tracked.in_call

    async def start(self, method: str, args: tuple[Any, ...], timeout: float) -> Task:
        """``Async.<method>``: the task XAPI runs it as."""
        return await self.xapi.call_async(method, *args, timeout=timeout)

    async def call(self, method: str, args: tuple[Any, ...], timeout: float) -> Value:
        """A synchronous call (setters, ``task.cancel``)."""
        result: Value = await self.xapi.call(method, *args, timeout=timeout)
        return result

    async def close(self) -> None:
        await asyncio.shield(self.xapi.close())


class XapiLinks:
    """Makes the `PoolLink` of a registry entry."""

    def __init__(
        self,
        *,
        watch: WatchOptions,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        originator: str = "xorca-collector",
    ) -> None:
        self.watch = watch
        self.timeout = timeout
        self.retry = retry
        self.originator = originator

    def open(self, entry: PoolEntry) -> PoolLink:
        tls = entry.tls  # plain settings in the registry: the client's policy is made here
        xapi = Xapi(
            entry.url,
            entry.username,
            entry.password.get_secret_value(),
            tls=TlsPolicy.of(tls.mode, ca_pem=tls.ca_pem, fingerprints=tls.fingerprints),
            timeout=self.timeout,
            retry=self.retry,
            originator=self.originator,
        )
        return PoolLink(xapi, self.watch)
