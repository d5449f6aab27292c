"""Pool leases on NATS: acquire, renew and release them in the KV bucket XORCA_LEASES.

What a lease is, and when one may be taken (`may_take`), is the contract's
(``xorca.contracts.leases``). Here every write is a compare-and-set on the key's revision, so of
two replicas that race for a pool exactly one wins, and a replica that paused past its expiry
learns on its next renewal that the lease is gone (`LeaseLost`) instead of serving the pool beside
its successor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue
from pydantic import ValidationError

from xorca.bus.setup import ensure_bucket, leases_bucket_config
from xorca.contracts.errors import LeaseError, LeaseLost
from xorca.contracts.leases import LeaseValue, may_take
from xorca.contracts.subjects import LEASES_BUCKET

__all__ = ["Lease", "Leases"]

#: JetStream's codes for a failed compare-and-set (JSStreamWrongLastSequence*)
_WRONG_LAST_SEQUENCE = (10071, 10164)


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease we hold: renew it before ``value.expires_at`` with the ``revision`` we wrote."""

    key: str
    value: LeaseValue
    revision: int


class Leases:
    """Acquire, renew and release leases; build it with `Leases.open`."""

    def __init__(self, kv: KeyValue, *, clock: Callable[[], float] = time.time) -> None:
        self._kv = kv
        self._clock = clock

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        *,
        create: bool = False,
        replicas: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> Leases:
        if create:
            await ensure_bucket(js, leases_bucket_config(replicas))
        try:
            kv = await js.key_value(LEASES_BUCKET)
        except BucketNotFoundError as e:
            raise LeaseError(f"KV bucket {LEASES_BUCKET} does not exist") from e
        return cls(kv, clock=clock)

    async def current(self, key: str) -> tuple[LeaseValue | None, int]:
        """The lease's value (``None`` if free or unreadable) and the revision to write after."""
        try:
            entry = await self._kv.get(key)
        except (KeyNotFoundError, KeyDeletedError) as e:
            # a released lease is a delete marker: the next write must name its revision
            # (nats-py 2.16 raises KeyNotFoundError carrying the marker's entry)
            marker = e.entry
            return None, marker.revision if marker is not None and marker.revision else 0
        try:
            return LeaseValue.model_validate_json(entry.value or b""), entry.revision or 0
        except ValidationError:
            return None, entry.revision or 0  # a value nobody can read holds nothing

    async def acquire(self, key: str, holder: str, ttl: float) -> Lease | None:
        """The lease if ``holder`` got it (or already had it), ``None`` if someone else has it."""
        now = self._clock()
        value, revision = await self.current(key)
        if not may_take(value, holder, now):
            return None
        acquired = value.acquired_at if value and value.holder == holder else now
        new = LeaseValue(holder=holder, expires_at=now + ttl, acquired_at=acquired)
        try:
            written = await self._kv.update(key, new.to_json(), last=revision)
        except KeyWrongLastSequenceError:
            return None  # someone wrote first
        return Lease(key, new, written)

    async def renew(self, lease: Lease, ttl: float) -> Lease:
        """The lease for another ``ttl``; `LeaseLost` if it is no longer the one we wrote."""
        new = LeaseValue(
            holder=lease.value.holder,
            expires_at=self._clock() + ttl,
            acquired_at=lease.value.acquired_at,
        )
        try:
            written = await self._kv.update(lease.key, new.to_json(), last=lease.revision)
        except KeyWrongLastSequenceError as e:
            value, _ = await self.current(lease.key)
            raise LeaseLost(lease.key, value.holder if value else None) from e
        return Lease(lease.key, new, written)

    async def release(self, lease: Lease) -> bool:
        """Give the lease up at once (on shutdown); ``False`` if it was not ours any more."""
        try:
            await self._kv.delete(lease.key, last=lease.revision)
        except APIError as e:
            # nats-py raises the bare APIError here, not KeyWrongLastSequenceError
            if e.err_code in _WRONG_LAST_SEQUENCE:
                return False
            raise
        return True
