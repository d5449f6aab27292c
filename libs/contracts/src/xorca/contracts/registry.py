"""The pool registry: the pools xorca manages, in the KV bucket XORCA_POOLS.

One key per pool, its registry id (the entry's ``id``); the value is a `StoredPoolEntry` as JSON,
whose password is a Fernet token (passwords.py), never the password itself. The CLI
(``xorca pool add|list|remove``) writes it for now; the auth service will own it later, through the
api. Collectors watch it and take up, drop or reconnect pools as entries come, go and change.

This module is the entry and its validation, pure; the KV side (``Registry``: add, get, list,
watch) is ``xorca.bus.registry``. The TLS settings are plain data: whoever builds an XAPI client
from an entry turns them into the client's policy (``TlsPolicy.of``).

A stored value that cannot be used (not JSON, a field missing or wrong, a password that no key of
ours decrypts) does not fail the listing or the watch: `unseal` raises `RegistryEntryInvalid` for
that id, which the registry hands out in the entry's place, so the collector marks that pool
``error`` (status.py) and serves the others.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from xorca.contracts.base import Message, Token
from xorca.contracts.errors import RegistryEntryInvalid
from xorca.contracts.passwords import PasswordCipher
from xorca.contracts.subjects import POOLS_BUCKET
from xorca.xapi.fingerprints import normalise_fingerprint

__all__ = [
    "POOLS_BUCKET",
    "PoolEntry",
    "StoredPoolEntry",
    "TlsMode",
    "TlsSettings",
    "new_registry_id",
    "seal",
    "unseal",
]

TlsMode = Literal["verify", "pin", "insecure"]


def new_registry_id() -> str:
    return str(uuid.uuid4())


class TlsSettings(Message):
    """How to trust the pool's certificates; see ``xorca.xapi.client.tls`` for the three modes."""

    mode: TlsMode = "verify"
    ca_pem: Annotated[str, Field(description="extra trusted certificates, PEM (verify)")] = ""
    fingerprints: Annotated[
        list[str], Field(description="SHA-256 fingerprints, 64 hex digits (pin)")
    ] = Field(default_factory=list)

    @field_validator("fingerprints")
    @classmethod
    def _normalise(cls, value: list[str]) -> list[str]:
        return sorted({normalise_fingerprint(f) for f in value})

    @model_validator(mode="after")
    def _pin_needs_fingerprints(self) -> TlsSettings:
        if self.mode == "pin" and not self.fingerprints:
            raise ValueError("tls mode pin needs at least one fingerprint")
        return self


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be http(s)://host[:port] of a pool member")
    return value.rstrip("/")


class _EntryFields(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[Token, Field(max_length=64, description="registry id, also the KV key")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    url: Annotated[str, Field(description="URL of any pool member (the master is found)")]
    username: Annotated[str, Field(min_length=1, max_length=200)]
    tls: TlsSettings = Field(default_factory=TlsSettings)
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)


class PoolEntry(_EntryFields):
    """A pool to manage, as the services use it (the password in clear, but never printed)."""

    password: SecretStr

    def public(self) -> dict[str, Any]:
        """Everything but the password, for listings."""
        return self.model_dump(mode="json", exclude={"password"})


class StoredPoolEntry(_EntryFields, Message):
    """A registry entry as stored in KV XORCA_POOLS: the password is a Fernet token.

    Unknown fields are ignored, as in every message: the auth service may store more.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    password_encrypted: Annotated[
        str, Field(min_length=1, description="Fernet token of the password (XORCA_SECRET_KEY)")
    ]


def seal(entry: PoolEntry, cipher: PasswordCipher) -> bytes:
    """The KV value for ``entry``."""
    stored = StoredPoolEntry(
        **entry.model_dump(exclude={"password"}),
        password_encrypted=cipher.encrypt(entry.password.get_secret_value()),
    )
    return stored.to_json()


def unseal(key: str, value: bytes | None, cipher: PasswordCipher) -> PoolEntry:
    """The entry stored under ``key``, or `RegistryEntryInvalid` saying what is wrong with it."""
    try:
        stored = StoredPoolEntry.model_validate_json(value or b"")
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        raise RegistryEntryInvalid(key, f"{where}: {first['msg']}") from e
    if stored.id != key:
        raise RegistryEntryInvalid(key, f"entry says its id is {stored.id!r}")
    try:
        password = cipher.decrypt(stored.password_encrypted)
    except ValueError as e:
        raise RegistryEntryInvalid(key, str(e)) from e
    return PoolEntry(
        **stored.model_dump(exclude={"password_encrypted"}), password=SecretStr(password)
    )
