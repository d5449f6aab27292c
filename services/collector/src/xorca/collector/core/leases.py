"""Lease decisions: which pools this replica takes, keeps, gives back, or must stop serving.

Pure functions of what the KV bucket says (a lease's holder and expiry), what this replica holds,
which peers are alive (from their presence heartbeats) and the clock. The KV side (compare-and-set
on the key's revision) is `xorca.bus.Leases`; this module only decides.

The rules:

- **take** a lease that is free, released, unreadable or expired (`contracts.leases.may_take`),
  or one that already names us (a restart with the same id), as long as we hold fewer pools than
  our fair share, ``ceil(pools / live replicas)``. A free lease that nobody under their share
  took within ``grace`` seconds is taken anyway: every pool must be served, balanced or not;
- **renew** every held lease each third of its period, so that one lost renewal is survived;
- **shed** (release cleanly) one pool per round while we hold more than our share and a live
  peer holds less: that is how a replica that joins gets work;
- **fence**: stop serving a pool whose lease we could not renew when it gets within ``margin`` of
  its expiry, *before* anyone else may take it, so that two replicas never publish one pool at
  once (as long as their clocks agree to well within the margin).

A replica is alive while its heartbeats are younger than ``2 * renew interval``: shorter than a
lease period, so that by the time a dead replica's leases expire, the survivors no longer count
it when they compute their share, and take its pools at once.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from xorca.contracts.leases import LeaseValue, may_take

__all__ = [
    "Peers",
    "fair_share",
    "must_fence",
    "preference",
    "should_take",
    "to_shed",
]


def fair_share(pools: int, replicas: int) -> int:
    """How many pools one of ``replicas`` live replicas should serve."""
    return math.ceil(pools / max(1, replicas))


def should_take(
    current: LeaseValue | None,
    me: str,
    now: float,
    *,
    held: int,
    fair: int,
    free_since: float | None,
    grace: float,
) -> bool:
    """Whether to try to acquire a lease we do not hold, whose KV value is ``current``."""
    if not may_take(current, me, now):
        return False
    if current is not None and current.holder == me:
        return True  # ours already (we restarted, or lost track of it): take it back
    if held < fair:
        return True
    return free_since is not None and now - free_since >= grace


def to_shed(held: Iterable[str], fair: int, peer_loads: Mapping[str, int]) -> str | None:
    """The lease to give back this round, if we hold more than ``fair`` and a live peer holds
    less (``peer_loads``: peer id → pools it holds). The one we prefer least goes."""
    mine = list(held)
    if len(mine) <= fair or not any(load < fair for load in peer_loads.values()):
        return None
    return mine[-1]


def must_fence(expires_at: float, now: float, margin: float) -> bool:
    """Whether a lease we failed to renew is too close to its expiry to keep serving."""
    return now >= expires_at - margin


def preference(me: str, keys: Iterable[str]) -> list[str]:
    """``keys`` in this replica's order of preference: a hash of (replica, key), so that
    replicas starting together reach for different pools first instead of racing for the same
    one (the compare-and-set would sort it out, but each lost race costs a round)."""

    def rank(key: str) -> bytes:
        return hashlib.sha256(f"{me}\0{key}".encode()).digest()

    return sorted(keys, key=rank)


@dataclass
class Peers:
    """The other replicas, from their heartbeats: when each was last heard and what it held."""

    horizon: float
    _seen: dict[str, tuple[float, int]] = field(default_factory=dict)

    def heard(self, replica: str, held: int, now: float) -> bool:
        """Record a heartbeat; True if this replica was not known (or had been forgotten)."""
        new = replica not in self._seen or now - self._seen[replica][0] > self.horizon
        self._seen[replica] = (now, held)
        return new

    def forget(self, replica: str) -> None:
        """A replica said it is leaving (a clean stop): its share goes to the others now."""
        self._seen.pop(replica, None)

    def alive(self, now: float) -> dict[str, int]:
        """Live peers and the pools each holds; the dead are forgotten."""
        for replica in [r for r, (at, _) in self._seen.items() if now - at > self.horizon]:
            del self._seen[replica]
        return {replica: held for replica, (_, held) in self._seen.items()}
