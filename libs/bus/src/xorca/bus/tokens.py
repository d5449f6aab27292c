"""API tokens on NATS: the KV bucket XORCA_TOKENS, read, written and watched.

The token's format and the entry (only the token's SHA-256 is kept) are the contract's,
``xorca.contracts.tokens``. The CLI (``xorca token create|list|revoke``) writes the bucket; the api
watches it, so a revoked token stops working within moments on every gateway.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime
from typing import cast

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyDeletedError, KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from xorca.bus.setup import ensure_bucket, tokens_bucket_config
from xorca.contracts.errors import ContractError
from xorca.contracts.tokens import (
    TOKENS_BUCKET,
    Role,
    TokenEntry,
    TokenNotFound,
    decode_entry,
    digest,
    new_token,
)

__all__ = ["Tokens"]


class Tokens:
    """Reads and writes XORCA_TOKENS; build it with `Tokens.open`."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, *, create: bool = False, replicas: int = 1) -> Tokens:
        if create:
            await ensure_bucket(js, tokens_bucket_config(replicas))
        try:
            return cls(await js.key_value(TOKENS_BUCKET))
        except BucketNotFoundError as e:
            raise ContractError(f"KV bucket {TOKENS_BUCKET} does not exist") from e

    async def create(self, name: str, *, role: Role = "admin") -> tuple[str, TokenEntry]:
        """A new token (shown once: only its digest is kept) and its entry."""
        token, token_id = new_token()
        entry = TokenEntry(
            id=token_id, name=name, sha256=digest(token), created=datetime.now(UTC), role=role
        )
        await self._kv.create(token_id, entry.to_json())
        return token, entry

    async def list(self) -> list[TokenEntry]:
        try:
            keys = await self._kv.keys()
        except NoKeysError:
            return []
        out = []
        for key in keys:
            entry = await self.get(key)
            if entry is not None:
                out.append(entry)
        return sorted(out, key=lambda e: (e.created, e.id))

    async def get(self, token_id: str) -> TokenEntry | None:
        try:
            found = await self._kv.get(token_id)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        return decode_entry(found.value)

    async def revoke(self, token_id: str) -> None:
        if await self.get(token_id) is None:
            raise TokenNotFound(token_id)
        await self._kv.purge(token_id)

    async def watch(self) -> AsyncGenerator[tuple[str, TokenEntry | None] | None, None]:
        """Every token, then ``None`` once (caught up), then each change: (id, entry or None)."""
        watcher = await self._kv.watchall()
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
                gone = update.operation in ("DEL", "PURGE")
                yield update.key, None if gone else decode_entry(update.value)
        finally:
            await stop()
