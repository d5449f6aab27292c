"""The pool registry on NATS: the KV bucket XORCA_POOLS, read and written.

The entries themselves (their fields, their validation, the password sealed with Fernet) are the
contract's, ``xorca.contracts.registry``; this module stores and watches them. The CLI
(``xorca pool add|list|remove``) writes the bucket for now; collectors `Registry.watch` it and take
up, drop or reconnect pools as entries come, go and change.

A stored value that cannot be used (not JSON, a field missing or wrong, a password that no key of
ours decrypts) does not fail the listing or the watch: it comes out as a `RegistryEntryInvalid`
for that id, so the collector marks that pool ``error`` and serves the others.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from nats.js import JetStreamContext
from nats.js.errors import (
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
)
from nats.js.kv import KeyValue

from xorca.bus.setup import ensure_bucket, pools_bucket_config
from xorca.contracts.errors import (
    PoolExists,
    PoolNotFound,
    RegistryEntryInvalid,
    RegistryUnavailable,
)
from xorca.contracts.passwords import PasswordCipher
from xorca.contracts.registry import PoolEntry, seal, unseal
from xorca.contracts.subjects import POOLS_BUCKET

__all__ = ["Registry", "RegistryChange"]


@dataclass(frozen=True, slots=True)
class RegistryChange:
    """One change seen by `Registry.watch`: an entry, a broken entry, or a removal (``None``)."""

    id: str
    entry: PoolEntry | RegistryEntryInvalid | None
    revision: int


class Registry:
    """Reads and writes the pool registry; build it with `Registry.open`."""

    def __init__(self, kv: KeyValue, cipher: PasswordCipher) -> None:
        self._kv = kv
        self._cipher = cipher

    @classmethod
    async def open(
        cls, js: JetStreamContext, secret_key: str, *, create: bool = False, replicas: int = 1
    ) -> Registry:
        """Bind to XORCA_POOLS (creating or updating it first if ``create``)."""
        cipher = PasswordCipher(secret_key)
        if create:
            await ensure_bucket(js, pools_bucket_config(replicas))
        try:
            kv = await js.key_value(POOLS_BUCKET)
        except BucketNotFoundError as e:
            raise RegistryUnavailable(
                f"KV bucket {POOLS_BUCKET} does not exist (run the setup step)"
            ) from e
        return cls(kv, cipher)

    async def add(self, entry: PoolEntry) -> int:
        """Register a new pool; `PoolExists` if its id is taken. Returns the KV revision."""
        try:
            return await self._kv.create(entry.id, seal(entry, self._cipher))
        except KeyWrongLastSequenceError as e:
            raise PoolExists(entry.id) from e

    async def put(self, entry: PoolEntry) -> int:
        """Register or replace a pool."""
        return await self._kv.put(entry.id, seal(entry, self._cipher))

    async def get(self, entry_id: str) -> PoolEntry:
        """The entry, `PoolNotFound`, or `RegistryEntryInvalid` if it is stored broken."""
        try:
            found = await self._kv.get(entry_id)
        except (KeyNotFoundError, KeyDeletedError) as e:
            raise PoolNotFound(entry_id) from e
        return unseal(entry_id, found.value, self._cipher)

    async def list(self) -> list[PoolEntry | RegistryEntryInvalid]:
        """Every entry, sorted by name; a broken one as `RegistryEntryInvalid` in its place."""
        try:
            keys = await self._kv.keys()
        except NoKeysError:
            return []
        out: list[PoolEntry | RegistryEntryInvalid] = []
        for key in keys:
            try:
                out.append(await self.get(key))
            except RegistryEntryInvalid as invalid:
                out.append(invalid)
            except PoolNotFound:
                continue  # removed between the listing and the read
        return sorted(out, key=_sort_key)

    async def remove(self, entry_id: str) -> None:
        """Forget a pool, purging every stored revision (old ciphertexts included)."""
        try:
            await self._kv.get(entry_id)
        except (KeyNotFoundError, KeyDeletedError) as e:
            raise PoolNotFound(entry_id) from e
        await self._kv.purge(entry_id)

    async def watch(self) -> AsyncGenerator[RegistryChange | None, None]:
        """Every current entry, then ``None`` once (caught up), then each change as it happens."""
        watcher = await self._kv.watchall()
        # nats-py leaves these two unannotated: give them their real types once
        next_update = cast(
            Callable[[float | None], Awaitable[KeyValue.Entry | None]], watcher.updates
        )
        stop = cast(Callable[[], Awaitable[None]], watcher.stop)
        try:
            while True:
                update = await next_update(None)
                if update is None:
                    yield None
                    continue
                yield self._change(update)
        finally:
            await stop()

    def _change(self, update: KeyValue.Entry) -> RegistryChange:
        revision = update.revision or 0
        if update.operation in ("DEL", "PURGE"):
            return RegistryChange(update.key, None, revision)
        try:
            entry: PoolEntry | RegistryEntryInvalid = unseal(update.key, update.value, self._cipher)
        except RegistryEntryInvalid as invalid:
            entry = invalid
        return RegistryChange(update.key, entry, revision)


def _sort_key(item: PoolEntry | RegistryEntryInvalid) -> tuple[int, str, str]:
    if isinstance(item, RegistryEntryInvalid):
        return (1, "", item.id)
    return (0, item.name.lower(), item.id)
