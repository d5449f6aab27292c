"""The collector against the simulator and a real NATS server: what XORCA_OBJECTS holds.

After activity, the newest message of every subject of the pool must be the simulator's record
of that object, every object the pool no longer has must end in a tombstone, and the pool's
status must say ``synced``. A collector restarted after the pool changed must publish exactly
what differs. The harness here (a replica as a task, the log and the pool read side by side) is
shared by the other ``test_collector_*`` modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

import httpx
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import SecretStr

from tests.conftest import FAST
from tests.support.nats import NatsServer
from tests.support.simthread import SimThread
from xorca.bus.registry import Registry
from xorca.bus.setup import ensure_streams
from xorca.collector.adapters.log import last_per_subject
from xorca.collector.bootstrap import run
from xorca.collector.service import Collector
from xorca.collector.settings import CollectorSettings
from xorca.contracts.passwords import generate_secret_key
from xorca.contracts.registry import PoolEntry
from xorca.contracts.status import PoolStatusChanged, decode_status
from xorca.contracts.subjects import object_subject, objects_filter, status_subject
from xorca.runtime.aio import cancel_and_wait
from xorca.xapi.watcher import default_classes
from xorca.xapi_sim.content.guests import destroy_vm
from xorca.xapi_sim.simulator import SimOptions
from xorca.xapi_sim.state.pool import SimPool

# the real NATS server fixtures (nats_server, nc, js) come from tests/conftest.py

KEY = generate_secret_key()
Log = dict[str, tuple[str, dict[str, Any]]]
Pool = dict[str, dict[str, Any]]

# ---------------------------------------------------------------------------------- harness


def settings_for(
    server: NatsServer, collector_id: str = "c1", **overrides: Any
) -> CollectorSettings:
    """Short leases and polls, and quick retries, so that each test takes seconds."""
    values: dict[str, Any] = {
        "nats_url": server.url,
        "secret_key": SecretStr(KEY),
        "collector_id": collector_id,
        "lease_period": 1.5,
        "watch_poll": 1.0,
        "retry_pause": 0.05,
        "ack_timeout": 1.0,
        "command_timeout": 10.0,
        "http_port": -1,
        "log_json": False,
    }
    return CollectorSettings(**(values | overrides))


class Replica:
    """A collector replica run as a task of the test's loop, as ``xorca collector`` runs one."""

    def __init__(self, settings: CollectorSettings) -> None:
        self.settings = settings
        self.task: asyncio.Task[None] | None = None
        self.collector: Collector | None = None

    @property
    def id(self) -> str:
        return self.settings.collector_id

    @property
    def held(self) -> set[str]:
        return set(self.collector.runners()) if self.collector and self.running else set()

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def start(self) -> Replica:
        started: asyncio.Future[Collector] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(run(self.settings, started=started.set_result))
        self.collector = await asyncio.wait_for(started, 10)
        return self

    async def stop(self) -> None:
        """A clean stop: last statuses published, leases released."""
        assert self.collector is not None and self.task is not None
        self.collector.stop()
        await asyncio.wait_for(self.task, 15)

    async def kill(self) -> None:
        """A crash: the task is cancelled, nothing is released or said."""
        assert self.task is not None
        assert await cancel_and_wait(self.task, 10)

    async def __aenter__(self) -> Replica:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.running:
            await self.stop()


@contextlib.contextmanager
def simulated(pools: int = 1, vms: int = 8, seed: int = 21) -> Iterator[SimThread]:
    with SimThread(SimOptions(pools=pools, hosts_per_pool=2, vms_per_pool=vms, seed=seed,
                              config=FAST)) as sim:  # fmt: skip
        yield sim


def entry_of(sim: SimThread, index: int, **fields: Any) -> PoolEntry:
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
    await ensure_streams(js)
    registry = await Registry.open(js, KEY, create=True)
    for entry in entries:
        await registry.put(entry)
    return registry


def uuid_of(sim: SimThread, index: int = 1) -> str:
    return sim.pool(index).pool.uuid


async def on_sim(sim: SimThread, index: int, fn: Any) -> Any:
    """``fn(pool)`` on the simulator's loop (its state is not thread-safe)."""

    async def call() -> Any:
        return fn(sim.pool(index).pool)

    return await asyncio.to_thread(sim.run, call)


async def pool_state(sim: SimThread, index: int = 1) -> Pool:
    """Every record of the watched classes, by the subject it must have in the log."""

    def read(pool: SimPool) -> Pool:
        out: Pool = {}
        for cls in default_classes():
            rows = pool.db.messages.items() if cls == "message" else pool.db.records(cls)
            for _, record in rows:
                out[object_subject(pool.uuid, cls.lower(), str(record["uuid"]))] = dict(record)
        return out

    state: Pool = await on_sim(sim, index, read)
    return state


async def log_state(js: JetStreamContext, pool: str) -> Log:
    """The newest message of every subject of ``pool``: op and record."""
    out: Log = {}
    async for msg in last_per_subject(js, objects_filter(pool)):
        out[msg.subject] = ((msg.headers or {})["Xorca-Op"], orjson.loads(msg.data))
    return out


def differences(log: Log, pool: Pool) -> list[str]:
    wrong = []
    for subject, record in pool.items():
        op, body = log.get(subject, ("missing", {}))
        if op not in ("add", "mod") or body != record:
            wrong.append(f"{subject}: {op}")
    wrong += [f"{s}: no tombstone" for s, (op, _) in log.items() if s not in pool and op != "del"]
    return wrong


async def settled(js: JetStreamContext, sim: SimThread, index: int = 1, timeout: float = 20) -> Log:
    """Wait until the log says exactly what the pool holds; the log."""
    deadline = time.monotonic() + timeout
    while True:
        log, pool = await log_state(js, uuid_of(sim, index)), await pool_state(sim, index)
        wrong = differences(log, pool)
        if not wrong:
            return log
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(wrong)} subjects differ after {timeout} s: {wrong[:5]}")
        await asyncio.sleep(0.2)


async def activity(sim: SimThread, rate: float, index: int = 1) -> None:
    assert sim.control is not None
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{sim.control.url}/pools/{index}/activity", json={"rate": rate})
    assert answer.status_code == 200, answer.text


async def still(sim: SimThread, index: int = 1) -> None:
    """Stop the activity and let the operations it started finish."""
    await activity(sim, 0, index)
    await asyncio.sleep(0.6)  # FAST operations take 0.2 s


async def status_of(js: JetStreamContext, registry_id: str) -> PoolStatusChanged | None:
    try:
        stored = await js.get_msg("XORCA_OBJECTS", subject=status_subject(registry_id), direct=True)
    except NotFoundError:
        return None
    return decode_status(stored.subject or "", stored.data or b"")


async def wait_status(
    js: JetStreamContext, registry_id: str, state: str, timeout: float = 15, **fields: Any
) -> PoolStatusChanged:
    deadline = time.monotonic() + timeout
    while True:
        status = await status_of(js, registry_id)
        wanted = status is not None and status.state == state
        if wanted and all(getattr(status, k) == v for k, v in fields.items()):
            assert status is not None
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"{registry_id}: status {status} is not {state} {fields}")
        await asyncio.sleep(0.05)


class Tap:
    """Every object message *published* on a pool's subjects, as a core NATS subscriber sees it
    (duplicates that JetStream then drops included)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str, bytes]] = []

    async def handle(self, msg: Msg) -> None:
        headers = msg.headers or {}
        self.messages.append((msg.subject, headers["Nats-Msg-Id"], headers["Xorca-Op"], msg.data))

    def distinct_ids(self) -> int:
        return len({msg_id for _, msg_id, _, _ in self.messages})


@contextlib.asynccontextmanager
async def tapped(nc: Client, pool: str) -> AsyncIterator[Tap]:
    tap = Tap()
    sub = await nc.subscribe(objects_filter(pool), cb=tap.handle)
    try:
        yield tap
    finally:
        await nc.flush()
        await sub.unsubscribe()


async def stored_objects(js: JetStreamContext, pool: str) -> list[tuple[str, str, bytes]]:
    """Every object message the stream holds for ``pool``, in order: (subject, op, body)."""
    sub = await js.pull_subscribe(
        objects_filter(pool),
        durable=None,
        stream="XORCA_OBJECTS",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
    )
    out = []
    try:
        while (await sub.consumer_info()).num_pending:
            for msg in await sub.fetch(1000, timeout=5):
                out.append((msg.subject, (msg.headers or {})["Xorca-Op"], msg.data))
    finally:
        await sub.unsubscribe()
    return out


def repeats(stored: list[tuple[str, str, bytes]]) -> list[str]:
    """Subjects with two consecutive identical messages: a change published twice."""
    last: dict[str, tuple[str, bytes]] = {}
    out = []
    for subject, op, body in stored:
        if last.get(subject) == (op, body):
            out.append(subject)
        last[subject] = (op, body)
    return out


# ------------------------------------------------------------------------------------ tests


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

        await on_sim(sim, 1, change)
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
