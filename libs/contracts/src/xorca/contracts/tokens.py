"""API tokens: who may use the api, in the KV bucket XORCA_TOKENS.

A token is ``xorca_<id>_<secret>``: ``id`` (12 hex digits) names its entry, ``secret`` is 32 random
bytes (URL-safe base64). The entry stores the SHA-256 of the whole token, never the token, so a
copy of the bucket lets nobody in. SHA-256 and not argon2id: argon2id slows down guessing a
*password*, which people choose from a small space; a token is 256 random bits, which no number
of guesses reaches, and it is checked on every request (the gateway keeps the entries in memory
and compares digests in constant time).

This module is the token's format and the entry, pure; the KV side (``Tokens``: create, list,
revoke, watch) is ``xorca.bus.tokens``. The CLI (``xorca token create|list|revoke``) writes the
bucket; the api watches it, so a revoked token stops working within moments on every gateway. The
auth service will issue tokens for users later, into the same seam (`Principal`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, ValidationError

from xorca.contracts.base import Message
from xorca.contracts.errors import ContractError
from xorca.contracts.subjects import TOKENS_BUCKET

__all__ = [
    "TOKENS_BUCKET",
    "Role",
    "TokenEntry",
    "TokenNotFound",
    "decode_entry",
    "digest",
    "matches",
    "new_token",
    "parse_token",
]

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


def decode_entry(value: bytes | None) -> TokenEntry | None:
    """A stored entry, or None when it does not decode (such a token lets nobody in)."""
    try:
        return TokenEntry.model_validate_json(value or b"")
    except ValidationError:
        return None
