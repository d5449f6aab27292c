"""API tokens: who may use the api, in the KV bucket XORCA_TOKENS.

A token is ``xorca_<id>_<secret>``: ``id`` (12 hex digits) names its entry, ``secret`` is 32 random
bytes (URL-safe base64). The entry stores the SHA-256 of the whole token, never the token, so a
copy of the bucket lets nobody in. SHA-256 and not argon2id: argon2id slows down guessing a
*password*, which people choose from a small space; a token is 256 random bits, which no number
of guesses reaches, and it is checked on every request (the gateway keeps the entries in memory
and compares digests in constant time).

The CLI (``xorca token create|list|revoke``) writes the bucket; the api watches it, so a revoked
token stops working within moments on every gateway. The auth service will issue tokens for
users later, into the same seam (`Principal`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Literal, cast

from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BucketNotFoundError, KeyDeletedError, KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue
from pydantic import AwareDatetime, Field, ValidationError

from xorca.contracts.base import Message
from xorca.contracts.errors import ContractError
from xorca.contracts.setup import ensure_bucket, tokens_config

__all__ = [
    "TOKENS_BUCKET",
    "TokenEntry",
    "TokenNotFound",
    "Tokens",
    "digest",
    "parse_token",
    "tokens_bucket_config",
]

TOKENS_BUCKET = "XORCA_TOKENS"
_TOKEN = re.compile(r"^xorca_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")

Role = Literal["admin"]


class TokenNotFound(ContractError):
    def __init__(self, token_id: str) -> None:
        super().__init__(f"no token {token_id!r}")
        self.token_id = token_id


class TokenEntry(Message):
    """What the bucket keeps of a token."""

    id: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]
    name: Annotated[str, Field(min_length=1, max_length=128)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="of the whole token")]
    created: AwareDatetime
    role: Role = "admin"


def tokens_bucket_config(replicas: int = 1) -> StreamConfig:
    return tokens_config(replicas)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_token(token: str) -> str | None:
    """The id a well-formed token names, or None."""
    found = _TOKEN.match(token)
    return found.group(1) if found else None


def new_token() -> tuple[str, str]:
    """(token, id): a fresh token and the id it carries."""
    token_id = secrets.token_hex(6)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return f"xorca_{token_id}_{secret}", token_id


def matches(entry: TokenEntry, token: str) -> bool:
    """Whether ``token`` is the one ``entry`` was made for (constant time)."""
    return hmac.compare_digest(entry.sha256, digest(token))


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
        return _entry(found.value)

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
                yield update.key, None if gone else _entry(update.value)
        finally:
            await stop()


def _entry(value: bytes | None) -> TokenEntry | None:
    """A stored entry, or None when it does not decode (such a token lets nobody in)."""
    try:
        return TokenEntry.model_validate_json(value or b"")
    except ValidationError:
        return None
