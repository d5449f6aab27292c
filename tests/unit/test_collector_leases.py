"""Lease decisions with plain values: take, keep away, shed, fence, and who is alive."""

from __future__ import annotations

import pytest

from xorca.collector.core.leases import (
    Peers,
    fair_share,
    must_fence,
    preference,
    should_take,
    to_shed,
)
from xorca.contracts.leases import LeaseValue

NOW = 1_000.0


def lease(holder: str, expires_in: float) -> LeaseValue:
    return LeaseValue(holder=holder, expires_at=NOW + expires_in, acquired_at=NOW - 60)


@pytest.mark.parametrize(
    ("pools", "replicas", "share"), [(3, 2, 2), (3, 1, 3), (4, 2, 2), (0, 3, 0), (5, 0, 5)]
)
def test_fair_share(pools: int, replicas: int, share: int) -> None:
    assert fair_share(pools, replicas) == share


@pytest.mark.parametrize(
    ("current", "held", "fair", "free_since", "take"),
    [
        (None, 0, 2, None, True),  # free and under our share
        (None, 2, 2, None, False),  # free but we have our share: leave it to someone else
        (None, 2, 2, NOW - 30, True),  # ... unless nobody took it within the grace
        (None, 2, 2, NOW - 5, False),
        (lease("other", 5), 0, 2, None, False),  # held by a live replica
        (lease("other", 0), 0, 2, None, True),  # expired at this very second
        (lease("other", -5), 2, 2, NOW - 30, True),
        (lease("me", 5), 5, 2, None, True),  # ours already: take it back whatever the share
    ],
)
def test_should_take(
    current: LeaseValue | None, held: int, fair: int, free_since: float | None, take: bool
) -> None:
    decided = should_take(current, "me", NOW, held=held, fair=fair, free_since=free_since, grace=15)
    assert decided is take


def test_shed_one_pool_only_when_a_live_peer_is_under_its_share() -> None:
    assert to_shed(["a", "b", "c"], 2, {"other": 0}) == "c"  # the least preferred goes
    assert to_shed(["a", "b", "c"], 2, {"other": 2}) is None  # nobody to give it to
    assert to_shed(["a", "b"], 2, {"other": 0}) is None  # not above our share
    assert to_shed(["a", "b", "c"], 3, {}) is None


def test_fence_before_expiry() -> None:
    assert not must_fence(NOW + 10, NOW, margin=5)
    assert must_fence(NOW + 5, NOW, margin=5)
    assert must_fence(NOW - 1, NOW, margin=0)


def test_replicas_prefer_pools_in_different_orders() -> None:
    keys = [f"pool-{i}" for i in range(8)]
    mine, theirs = preference("replica-a", keys), preference("replica-b", keys)
    assert sorted(mine) == sorted(keys) == sorted(theirs)
    assert mine == preference("replica-a", reversed(keys))  # stable
    assert mine != theirs


def test_peers_are_alive_while_their_heartbeats_are_recent() -> None:
    peers = Peers(horizon=10)
    assert peers.heard("b", 2, NOW)  # new
    assert not peers.heard("b", 3, NOW + 5)  # known
    assert peers.alive(NOW + 9) == {"b": 3}
    assert peers.alive(NOW + 16) == {}  # forgotten
    assert peers.heard("b", 0, NOW + 17)  # and new again
