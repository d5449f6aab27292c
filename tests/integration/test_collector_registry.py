"""The registry as the collector reads it: a broken entry puts only that pool in ``error``, a
refused password too (and is not retried), a disabled entry is reported ``disabled``, and the
collector follows the registry as it changes (an entry fixed, an entry removed)."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import SecretStr

from tests.support.nats import NatsServer
from tests.support.objects_log import settled, wait_status
from tests.support.registry import entry_of, register
from tests.support.replica import Replica, settings_for
from tests.support.simthread import simulated
from tests.support.waiting import eventually
from xorca.bus.leases import Leases
from xorca.contracts.passwords import PasswordCipher, generate_secret_key
from xorca.contracts.registry import seal


async def test_broken_entries_are_reported_and_the_others_served(
    nats_server: NatsServer, nc: Client, js: JetStreamContext
) -> None:
    with simulated(pools=2) as sim:
        registry = await register(
            js,
            entry_of(sim, 1),
            entry_of(sim, 2, id="wrong-password", password=SecretStr("not the password")),
            entry_of(sim, 2, id="off", enabled=False),
        )
        kv = await js.key_value("XORCA_POOLS")
        await kv.put("broken", b'{"id": "broken", "name": "half a pool"')
        other_key = PasswordCipher(generate_secret_key())
        await kv.put("foreign-key", seal(entry_of(sim, 2, id="foreign-key"), other_key))
        statuses: list[str] = []

        async def seen(msg: Msg) -> None:
            statuses.append(msg.subject.rsplit(".", 1)[1])

        await nc.subscribe("xorca.v1.status.>", cb=seen)

        async with Replica(settings_for(nats_server)) as replica:
            await wait_status(js, "pool-1", "synced")
            await settled(js, sim, 1)
            broken = await wait_status(js, "broken", "error")
            assert broken.error is not None
            assert broken.error.code == "XORCA_REGISTRY_ENTRY_INVALID"
            assert "id" in broken.error.params[0] or "JSON" in broken.error.params[0]
            foreign = await wait_status(js, "foreign-key", "error")
            assert foreign.error is not None and "decrypted" in foreign.error.params[0]
            refused = await wait_status(js, "wrong-password", "error")
            assert refused.error is not None
            assert refused.error.code == "SESSION_AUTHENTICATION_FAILED"
            await wait_status(js, "off", "disabled")
            await asyncio.sleep(1.0)  # a refused password is not tried again
            assert statuses.count("wrong-password") == 2  # connecting, then error: no retries
            assert replica.held == {"pool-1", "broken", "foreign-key", "wrong-password", "off"}

            # fixed by a human: the entry is served
            await registry.put(entry_of(sim, 2, id="broken"))
            await wait_status(js, "broken", "synced")
            await settled(js, sim, 2)
            # removed: no longer served, its lease given back
            await registry.remove("pool-1")
            await eventually(
                lambda: "pool-1" not in replica.held, what="pool-1 let go", timeout=5, interval=0.05
            )
            value, _ = await (await Leases.open(js)).current("pool-1")
            assert value is None
            # a runner restarted for a changed entry keeps the lease it had
            assert replica.collector is not None
            metrics = replica.collector.metrics
            assert metrics.value("xorca_collector_lease_changes_total", what="lost") == 0
