"""The log as docs/nats.md describes it, on a real server: dedupe by the msg-id chain, A→B→A kept,
bounded history, tombstones, and the two consumers the guide shows, replaying in order.

Messages are made with the contract's encoders and published with plain ``js.publish``, chained
by hand as the guide says: what is checked is the stream's layout and the encoding, which any
publisher relies on. The collector's own writer (its planning, restarts, lost acknowledgements)
is tested in ``test_collector_*``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy, PubAck

from xorca.bus.setup import ensure_streams
from xorca.contracts.log_entries import decode_log_entry
from xorca.contracts.msgid import GENESIS
from xorca.contracts.objects import MSG_ID_HEADER, ObjectChanged, encode_object
from xorca.contracts.status import PoolStatusChanged, encode_status
from xorca.contracts.subjects import objects_filter, status_subject

# the real NATS server fixtures (nats_server, nc, js)

POOL = "3a1c5e0e-9c8f-4f8e-b1a4-2b7d6f0c9e11"
VM = "0f3b8d2a-6c1e-4e57-9d0a-5b2c7e8f1a34"
VM2 = "9b7c5d3e-1f2a-4b6c-8d0e-2f4a6b8c0d1e"
SUBJECT = f"xorca.v1.obj.{POOL}.vm.{VM}"
AT = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def vm(op: str, power: str, uuid: str = VM) -> ObjectChanged:
    return ObjectChanged(
        pool=POOL,
        xapi_class="vm",
        uuid=uuid,
        ref=f"OpaqueRef:{uuid}",
        op=op,  # type: ignore[arg-type]
        record={"uuid": uuid, "power_state": power},
    )


def status(state: str) -> PoolStatusChanged:
    return PoolStatusChanged.model_validate(
        {
            "registry_id": "entry-1",
            "pool_uuid": POOL,
            "state": state,
            "since": AT,
            "collector": "c0",
            "at": AT,
        }
    )


class Chain:
    """Publishes each change chained after the last id it sent on the subject (docs/nats.md)."""

    def __init__(self, js: JetStreamContext, *, tombstone_ttl: float | None = None) -> None:
        self.js = js
        self.tombstone_ttl = tombstone_ttl
        self.last: dict[str, str] = {}

    async def publish(self, change: ObjectChanged) -> PubAck:
        previous = self.last.get(change.subject, GENESIS)
        message = encode_object(change, previous, tombstone_ttl=self.tombstone_ttl)
        ack = await self.js.publish(message.subject, message.body, headers=dict(message.headers))
        self.last[change.subject] = message.headers[MSG_ID_HEADER]
        return ack

    async def publish_status(self, change: PoolStatusChanged) -> PubAck:
        message = encode_status(change)
        return await self.js.publish(message.subject, message.body)


async def stored(js: JetStreamContext, subject: str = SUBJECT) -> int:
    info = await js.stream_info("XORCA_OBJECTS", subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def test_a_republish_of_the_same_change_is_a_duplicate(js: JetStreamContext) -> None:
    await ensure_streams(js)
    chain = Chain(js)
    first = await chain.publish(vm("add", "Halted"))
    # the ack was "lost": the same message goes out again with the same previous id
    message = encode_object(vm("mod", "Running"), chain.last[SUBJECT])
    sent = await js.publish(message.subject, message.body, headers=dict(message.headers))
    again = await js.publish(message.subject, message.body, headers=dict(message.headers))
    assert not sent.duplicate
    assert again.duplicate
    assert again.seq == sent.seq
    assert (first.seq, sent.seq) == (1, 2)
    assert await stored(js) == 2


async def test_a_to_b_to_a_is_three_changes(js: JetStreamContext) -> None:
    await ensure_streams(js)
    chain = Chain(js)
    acks = [
        await chain.publish(vm("add", "Halted")),
        await chain.publish(vm("mod", "Running")),
        await chain.publish(vm("mod", "Halted")),
        await chain.publish(vm("mod", "Running")),
    ]
    assert [a.seq for a in acks] == [1, 2, 3, 4]
    assert not any(a.duplicate for a in acks)
    assert await stored(js) == 3  # history 3: the oldest went


async def test_history_is_bounded_per_subject(js: JetStreamContext) -> None:
    await ensure_streams(js, history=2)
    chain = Chain(js)
    await chain.publish(vm("add", "Halted", VM2))
    for i in range(6):
        await chain.publish(vm("mod" if i else "add", f"state-{i}"))
    assert await stored(js) == 2
    assert await stored(js, f"xorca.v1.obj.{POOL}.vm.{VM2}") == 1


async def test_del_leaves_one_tombstone_with_the_last_record(js: JetStreamContext) -> None:
    await ensure_streams(js)
    chain = Chain(js, tombstone_ttl=3600)
    await chain.publish(vm("add", "Halted"))
    await chain.publish(vm("mod", "Running"))
    await chain.publish(vm("del", "Running"))
    assert await stored(js) == 1
    last = await js.get_msg("XORCA_OBJECTS", subject=SUBJECT)
    assert last.headers is not None
    assert last.headers["Xorca-Op"] == "del"
    assert last.headers["Nats-TTL"] == "3600"
    assert last.data is not None
    assert decode_log_entry(SUBJECT, last.headers, last.data) == vm("del", "Running")


async def test_a_consumer_replays_objects_and_statuses_in_order(js: JetStreamContext) -> None:
    await ensure_streams(js)
    chain = Chain(js)
    await chain.publish(vm("add", "Running"))
    await chain.publish_status(status("disconnected"))
    await chain.publish(vm("mod", "Halted"))
    await chain.publish_status(status("synced"))
    # as docs/nats.md shows: a durable pull consumer over a pool's objects and every status
    sub = await js.pull_subscribe(
        "",
        durable="docs-example",
        stream="XORCA_OBJECTS",
        config=ConsumerConfig(
            filter_subjects=[objects_filter(POOL), "xorca.v1.status.>"],
            deliver_policy=DeliverPolicy.ALL,
        ),
    )
    seen = []
    for msg in await sub.fetch(4, timeout=5):
        entry = decode_log_entry(msg.subject, msg.headers, msg.data)
        seen.append(entry.state if isinstance(entry, PoolStatusChanged) else entry.op)
        await msg.ack()
    assert seen == ["add", "disconnected", "mod", "synced"]


async def test_an_ordered_consumer_sees_the_latest_state(js: JetStreamContext) -> None:
    await ensure_streams(js)
    chain = Chain(js)
    for power in ("Halted", "Running", "Paused", "Running"):
        await chain.publish(vm("mod", power))
    # as docs/nats.md shows: an ordered push consumer, replaying from the start
    sub = await js.subscribe(
        objects_filter(POOL, "vm"), ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
    )
    states = []
    for _ in range(3):  # history 3: the first change is gone
        msg = await sub.next_msg(timeout=5)
        change = decode_log_entry(msg.subject, msg.headers, msg.data)
        assert isinstance(change, ObjectChanged)
        states.append(change.record["power_state"])
    await sub.unsubscribe()
    assert states == ["Running", "Paused", "Running"]
    assert status_subject("entry-1") == "xorca.v1.status.entry-1"
