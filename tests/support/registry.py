"""The pool registry (KV ``XORCA_POOLS``) filled with a simulator's pools, sealed with `KEY`, the
secret key every collector and gateway of the tests is given."""

from __future__ import annotations

from typing import Any

from nats.js import JetStreamContext
from pydantic import SecretStr

from tests.support.simthread import SimThread
from xorca.bus.registry import Registry
from xorca.bus.setup import ensure_streams
from xorca.contracts.passwords import generate_secret_key
from xorca.contracts.registry import PoolEntry

KEY = generate_secret_key()


def entry_of(sim: SimThread, index: int, **fields: Any) -> PoolEntry:
    """The registry entry of pool ``index`` (id ``pool-<index>``), ``fields`` overriding."""
    described = sim.pool(index).describe()
    values: dict[str, Any] = {
        "id": f"pool-{index}",
        "name": described["name"],
        "url": described["url"],
        "username": described["username"],
        "password": SecretStr(described["password"]),
    }
    return PoolEntry(**(values | fields))


async def register(js: JetStreamContext, *entries: PoolEntry) -> Registry:
    """The streams and the registry made, ``entries`` put in it."""
    await ensure_streams(js)
    registry = await Registry.open(js, KEY, create=True)
    for entry in entries:
        await registry.put(entry)
    return registry
