"""The collector against the simulator and a real NATS server: what XORCA_OBJECTS holds.

After activity, the newest message of every subject of the pool must be the simulator's record
of that object, every object the pool no longer has must end in a tombstone, and the pool's
status must say ``synced``. A collector restarted after the pool changed must publish exactly
what differs. The harness (a replica as a task, the log and the pool read side by side) is in
tests/support: replica.py, registry.py, objects_log.py.
"""

from __future__ import annotations

import asyncio

import httpx
from nats.aio.client import Client
from nats.js import JetStreamContext

from tests.support.control import activity, still
from tests.support.nats import NatsServer
from tests.support.objects_log import pool_state, settled, tapped, wait_status
from tests.support.registry import entry_of, register
from tests.support.replica import Replica, settings_for
from tests.support.simthread import on_sim, simulated, uuid_of
from xorca.xapi_sim.content.guests import destroy_vm
from xorca.xapi_sim.state.pool import SimPool

# the real NATS server fixtures (nats_server, nc, js) come from tests/conftest.py


async def test_after_activity_the_log_is_the_pool(
    nats_server: NatsServer, js: JetStreamContext
) -> None:
    with simulated() as sim:
        await register(js, entry_of(sim, 1))
        async with Replica(settings_for(nats_server)) as replica:
            synced = await wait_status(js, "pool-1", "synced")
            assert (synced.pool_uuid, synced.collector) == (uuid_of(sim), "c1")
            await activity(sim, 80)
            await asyncio.sleep(2.5)
            await still(sim)
            log = await settled(js, sim)
            assert replica.collector is not None
            changes = replica.collector.metrics.value(
                "xorca_collector_changes_total", pool="pool-1"
            )
        tombstones = [s for s, (op, _) in log.items() if op == "del"]
        classes = {s.split(".")[4] for s in tombstones}
        assert classes >= {"task", "console"}, classes  # things came and went
        assert changes > len(log)  # the activity's changes went through, not just the load
        stopped = await wait_status(js, "pool-1", "disconnected")
        assert stopped.error is not None and stopped.error.code == "XORCA_COLLECTOR_STOPPED"


async def test_a_restart_publishes_only_what_differs(
    nats_server: NatsServer, nc: Client, js: JetStreamContext
) -> None:
    with simulated() as sim:
        await register(js, entry_of(sim, 1))
        async with Replica(settings_for(nats_server)):
            await wait_status(js, "pool-1", "synced")
            before = await settled(js, sim)

        # while nobody watches: a VM goes (with its metrics, disks…), another is renamed
        def change(pool: SimPool) -> str:
            guests = [
                ref
                for ref, vm in pool.db.records("VM")
                if not (vm["is_a_template"] or vm["is_control_domain"] or vm["is_a_snapshot"])
            ]
            pool.db.update("VM", guests[1], name_label="renamed while away")
            destroy_vm(pool.db, guests[0])
            return guests[0]

        await on_sim(sim, change)
        pool = await pool_state(sim)
        expected = {s for s, record in pool.items() if before.get(s) != ("add", record)
                    and before.get(s, ("", None))[1] != record}  # fmt: skip
        vanished = {s for s in before if s not in pool}
        assert vanished and expected  # the test changes something on both sides

        async with tapped(nc, uuid_of(sim)) as tap, Replica(settings_for(nats_server)):
            await wait_status(js, "pool-1", "synced", collector="c1")
            after = await settled(js, sim)
        published = {subject for subject, _, _, _ in tap.messages}
        assert published == expected | vanished  # exactly what differs, nothing else
        assert len(tap.messages) == len(published)
        assert {s for s in vanished if after[s] == ("del", {})} == vanished


async def test_health_readiness_and_metrics(nats_server: NatsServer, js: JetStreamContext) -> None:
    with simulated() as sim:
        await register(js, entry_of(sim, 1))
        async with Replica(settings_for(nats_server, http_port=0, http_host="127.0.0.1")) as r:
            await wait_status(js, "pool-1", "synced")
            assert r.collector is not None and r.collector.http is not None
            url = r.collector.http.url
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{url}/healthz")).json() == {"status": "ok"}
                ready = await http.get(f"{url}/readyz")
                assert ready.status_code == 200
                assert ready.json()["pools"] == [
                    {"registry_id": "pool-1", "pool_uuid": uuid_of(sim), "state": "synced",
                     "published": True}
                ]  # fmt: skip
                metrics = (await http.get(f"{url}/metrics")).text
            assert "xorca_collector_pools_owned 1.0" in metrics
            assert 'xorca_collector_messages_total{outcome="stored"}' in metrics
            assert "xorca_collector_lag_seconds_count" in metrics
