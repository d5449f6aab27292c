"""The pool registry and the leases in real KV buckets: encryption at rest, broken entries next to
good ones, watching, compare-and-set leases."""

from __future__ import annotations

import asyncio

import pytest
from nats.js import JetStreamContext
from pydantic import SecretStr

from xorca.bus.leases import Leases
from xorca.bus.registry import Registry, RegistryChange
from xorca.bus.setup import ensure_streams
from xorca.contracts.errors import (
    LeaseLost,
    PoolExists,
    PoolNotFound,
    RegistryEntryInvalid,
    RegistryUnavailable,
)
from xorca.contracts.passwords import PasswordCipher, generate_secret_key
from xorca.contracts.registry import PoolEntry, seal

# the real NATS server fixtures (nats_server, nc, js)

KEY = generate_secret_key()
PASSWORD = "correct horse battery staple"


def entry(entry_id: str, name: str, password: str = PASSWORD) -> PoolEntry:
    return PoolEntry(
        id=entry_id,
        name=name,
        url=f"https://{name}.example:443",
        username="root",
        password=SecretStr(password),
    )


async def test_round_trip_with_the_password_encrypted_at_rest(js: JetStreamContext) -> None:
    registry = await Registry.open(js, KEY, create=True)
    await registry.add(entry("lab", "lab"))
    got = await registry.get("lab")
    assert got.password.get_secret_value() == PASSWORD
    raw = await js.get_msg("KV_XORCA_POOLS", subject="$KV.XORCA_POOLS.lab")
    assert raw.data is not None
    assert b"correct horse" not in raw.data
    assert b"password_encrypted" in raw.data


async def test_add_get_list_remove(js: JetStreamContext) -> None:
    await ensure_streams(js)
    registry = await Registry.open(js, KEY)
    await registry.add(entry("b", "beta"))
    await registry.add(entry("a", "Alpha"))
    with pytest.raises(PoolExists):
        await registry.add(entry("a", "again"))
    assert [e.id for e in await registry.list() if isinstance(e, PoolEntry)] == ["a", "b"]
    await registry.put(entry("a", "alpha-renamed", password="new"))
    assert (await registry.get("a")).password.get_secret_value() == "new"
    await registry.remove("a")
    with pytest.raises(PoolNotFound):
        await registry.get("a")
    with pytest.raises(PoolNotFound):
        await registry.remove("a")
    # removal purges every revision, old ciphertexts included
    kv = await js.key_value("XORCA_POOLS")
    history = await kv.history("a")
    assert [h.operation for h in history] == ["PURGE"]
    await registry.add(entry("a", "alpha-back"))  # and the id can be used again
    assert [e.id for e in await registry.list() if isinstance(e, PoolEntry)] == ["a", "b"]


async def test_a_malformed_entry_next_to_good_ones(js: JetStreamContext) -> None:
    registry = await Registry.open(js, KEY, create=True)
    await registry.add(entry("good-1", "one"))
    await registry.add(entry("good-2", "two"))
    kv = await js.key_value("XORCA_POOLS")
    await kv.put("broken", b"{not json")
    await kv.put("foreign", seal(entry("foreign", "other"), PasswordCipher(generate_secret_key())))
    listed = await registry.list()
    good = [e.id for e in listed if isinstance(e, PoolEntry)]
    bad = {e.id: e.reason for e in listed if isinstance(e, RegistryEntryInvalid)}
    assert good == ["good-1", "good-2"]
    assert set(bad) == {"broken", "foreign"}
    assert "cannot be decrypted" in bad["foreign"]
    with pytest.raises(RegistryEntryInvalid):
        await registry.get("broken")


async def test_an_empty_registry(js: JetStreamContext) -> None:
    registry = await Registry.open(js, KEY, create=True)
    assert await registry.list() == []
    watching = registry.watch()
    assert await asyncio.wait_for(anext(watching), 5) is None  # caught up at once
    await watching.aclose()


async def test_open_without_the_bucket(js: JetStreamContext) -> None:
    with pytest.raises(RegistryUnavailable):
        await Registry.open(js, KEY)


async def test_watch_sees_entries_then_changes(js: JetStreamContext) -> None:
    registry = await Registry.open(js, KEY, create=True)
    await registry.add(entry("first", "first"))
    changes: asyncio.Queue[RegistryChange | None] = asyncio.Queue()

    async def watch() -> None:
        async for change in registry.watch():
            await changes.put(change)

    task = asyncio.create_task(watch())
    try:
        initial = await asyncio.wait_for(changes.get(), 5)
        assert initial is not None
        assert initial.id == "first"
        assert await asyncio.wait_for(changes.get(), 5) is None  # caught up
        await registry.add(entry("second", "second"))
        await (await js.key_value("XORCA_POOLS")).put("broken", b"[]")
        await registry.remove("first")
        seen = [await asyncio.wait_for(changes.get(), 5) for _ in range(3)]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert seen[0] is not None
    assert isinstance(seen[0].entry, PoolEntry)
    assert seen[0].entry.password.get_secret_value() == PASSWORD
    assert seen[1] is not None
    assert isinstance(seen[1].entry, RegistryEntryInvalid)
    assert seen[2] == RegistryChange("first", None, seen[2].revision if seen[2] else 0)


# ---- leases -----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_lease_acquire_renew_expire_take_over_release(js: JetStreamContext) -> None:
    clock = Clock()
    leases = await Leases.open(js, create=True, clock=clock)
    mine = await leases.acquire("pool-1", "a", ttl=10)
    assert mine is not None
    assert await leases.acquire("pool-1", "b", ttl=10) is None  # held
    clock.now += 5
    mine = await leases.renew(mine, ttl=10)
    assert mine.value.expires_at == 1015
    assert mine.value.acquired_at == 1000
    again = await leases.acquire("pool-1", "a", ttl=10)  # re-acquiring our own is a renewal
    assert again is not None
    assert again.value.acquired_at == 1000
    clock.now += 11  # a paused past its expiry
    theirs = await leases.acquire("pool-1", "b", ttl=10)
    assert theirs is not None
    with pytest.raises(LeaseLost) as lost:
        await leases.renew(again, ttl=10)
    assert lost.value.holder == "b"
    assert not await leases.release(again)  # not ours any more: left alone
    assert (await leases.current("pool-1"))[0] == theirs.value
    assert await leases.release(theirs)
    assert (await leases.current("pool-1"))[0] is None
    assert await leases.acquire("pool-1", "a", ttl=10) is not None  # free again


async def test_one_winner_when_replicas_race(js: JetStreamContext) -> None:
    leases = await Leases.open(js, create=True)
    results = await asyncio.gather(
        *(leases.acquire("pool-9", f"replica-{i}", ttl=30) for i in range(6))
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert (await leases.current("pool-9"))[0] == winners[0].value


async def test_an_unreadable_lease_is_free(js: JetStreamContext) -> None:
    leases = await Leases.open(js, create=True)
    await (await js.key_value("XORCA_LEASES")).put("pool-2", b"garbage")
    assert await leases.acquire("pool-2", "a", ttl=10) is not None
