"""The pool registry: the pools xorca manages, in the KV bucket XORCA_POOLS.

One key per pool, its registry id (the entry's ``id``); the value is a `StoredPoolEntry` as JSON,
whose password is a Fernet token (passwords.py), never the password itself. The CLI
(``xorca pool add|list|remove``) writes it for now; the auth service will own it later, through the
api. Collectors `watch` it and take up, drop or reconnect pools as entries come, go and change.

A stored value that cannot be used (not JSON, a field missing or wrong, a password that no key of
ours decrypts) does not fail the listing or the watch: it comes out as a `RegistryEntryInvalid`
for that id, so the collector marks that pool ``error`` (status.py) and serves the others.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

from nats.js import JetStreamContext
from nats.js.errors import (
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
)
from nats.js.kv import KeyValue
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
from xorca.contracts.errors import (
    PoolExists,
    PoolNotFound,
    RegistryEntryInvalid,
    RegistryUnavailable,
)
from xorca.contracts.passwords import PasswordCipher
from xorca.contracts.setup import ensure_bucket, pools_bucket_config
from xorca.contracts.subjects import POOLS_BUCKET
from xorca.xapi.client.tls import TlsPolicy, normalise_fingerprint

__all__ = [
    "POOLS_BUCKET",
    "PoolEntry",
    "Registry",
    "RegistryChange",
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

    def policy(self) -> TlsPolicy:
        if self.mode == "pin":
            return TlsPolicy.pinned(*self.fingerprints)
        if self.mode == "insecure":
            return TlsPolicy.insecure()
        return TlsPolicy.verified(self.ca_pem)


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
