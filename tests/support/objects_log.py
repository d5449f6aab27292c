"""What the stream ``XORCA_OBJECTS`` holds for a simulated pool, read beside the pool itself: the
newest message of every subject against the simulator's records (`settled`), the pool's status
(`wait_status`), every message published (`tapped`) or stored (`stored_objects`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from tests.support.simthread import SimThread, on_sim, uuid_of
from tests.support.waiting import eventually
from xorca.collector.adapters.log import last_per_subject
from xorca.contracts.status import PoolStatusChanged, decode_status
from xorca.contracts.subjects import object_subject, objects_filter, status_subject
from xorca.xapi.watcher import default_classes
from xorca.xapi_sim.state.pool import SimPool

#: subject -> (op, record) of the newest message
Log = dict[str, tuple[str, dict[str, Any]]]
#: subject -> the record the simulator holds
Pool = dict[str, dict[str, Any]]


async def pool_state(sim: SimThread, index: int = 1) -> Pool:
    """Every record of the watched classes, by the subject it must have in the log."""

    def read(pool: SimPool) -> Pool:
        out: Pool = {}
        for cls in default_classes():
            rows = pool.db.messages.items() if cls == "message" else pool.db.records(cls)
            for _, record in rows:
                out[object_subject(pool.uuid, cls.lower(), str(record["uuid"]))] = dict(record)
        return out

    return await on_sim(sim, read, index)


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

    async def matching() -> Log:
        log, pool = await log_state(js, uuid_of(sim, index)), await pool_state(sim, index)
        wrong = differences(log, pool)
        assert not wrong, f"{len(wrong)} subjects differ: {wrong[:5]}"
        return log

    return await eventually(
        matching, what=f"the log to say what pool {index} holds", timeout=timeout, interval=0.2
    )


async def status_of(js: JetStreamContext, registry_id: str) -> PoolStatusChanged | None:
    try:
        stored = await js.get_msg("XORCA_OBJECTS", subject=status_subject(registry_id), direct=True)
    except NotFoundError:
        return None
    return decode_status(stored.subject or "", stored.data or b"")


async def wait_status(
    js: JetStreamContext, registry_id: str, state: str, timeout: float = 15, **fields: Any
) -> PoolStatusChanged:
    """Wait until the pool's newest status is ``state`` (with ``fields``); that status."""

    async def wanted() -> PoolStatusChanged:
        status = await status_of(js, registry_id)
        assert status is not None and status.state == state, f"status {status}"
        assert all(getattr(status, k) == v for k, v in fields.items()), f"status {status}"
        return status

    return await eventually(
        wanted, what=f"{registry_id}: status {state} {fields}", timeout=timeout, interval=0.05
    )


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
