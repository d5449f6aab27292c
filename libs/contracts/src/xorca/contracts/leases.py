"""Pool leases: which collector replica serves which pool, in the KV bucket XORCA_LEASES.

A lease is one key (the pool's registry id) whose value names its holder and when it expires.
Every write is a compare-and-set on the key's revision, so of two replicas that race for a pool
exactly one wins, and a replica that paused past its expiry learns on its next renewal that the
lease is gone (`LeaseLost`) instead of serving the pool beside its successor.

The expiry is a wall-clock time written by the holder, so replicas need clocks that agree to well
within a lease's ttl (NTP gives milliseconds; use a ttl of ten seconds or more and renew at a third
of it). The bucket has no TTL of its own: an expired lease stays until someone takes it over, which
also shows who held it last.

`LeaseValue` is the value's format and `may_take` the whole decision, pure; the KV side is
``xorca.bus.leases.Leases``.
"""

from __future__ import annotations

from pydantic import Field

from xorca.contracts.base import Message
from xorca.contracts.subjects import LEASES_BUCKET

__all__ = ["LEASES_BUCKET", "LeaseValue", "may_take"]


class LeaseValue(Message):
    """The value of a lease key."""

    holder: str = Field(min_length=1, description="id of the collector replica")
    expires_at: float = Field(description="unix time after which anyone may take the lease")
    acquired_at: float = Field(description="unix time the holder first took it")


def may_take(current: LeaseValue | None, holder: str, now: float) -> bool:
    """Whether ``holder`` may write the lease: free, expired, or already its own."""
    return current is None or current.holder == holder or current.expires_at <= now
