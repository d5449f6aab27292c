"""The log on a real server: dedupe by the msg-id chain, A→B→A kept, bounded history, tombstones,
replay in order with statuses, and a NATS restart in the middle of it all."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import nats.errors
import orjson
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from tests.support.nats import NatsServer
from xorca.contracts.msgid import next_msg_id
from xorca.contracts.objects import ObjectChanged
from xorca.contracts.objects_log import ObjectLogPublisher, decode_log_entry
from xorca.contracts.setup import ensure_streams
from xorca.contracts.status import PoolStatusChanged
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


async def stored(js: JetStreamContext, subject: str = SUBJECT) -> int:
    info = await js.stream_info("XORCA_OBJECTS", subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def test_a_republish_of_the_same_change_is_a_duplicate(js: JetStreamContext) -> None:
    await ensure_streams(js)
    publisher = ObjectLogPublisher(js)
    first = await publisher.publish(vm("add", "Halted"))
    # the ack was "lost": the same message goes out again with the same previous id
    message = publisher.encode(vm("mod", "Running"), await publisher.previous_id(SUBJECT))
    sent = await js.publish(message.subject, message.body, headers=message.headers)
    again = await js.publish(message.subject, message.body, headers=message.headers)
    assert not sent.duplicate
    assert again.duplicate
    assert again.seq == sent.seq
    assert (first.seq, sent.seq) == (1, 2)
    # and the publisher, which never saw the first ack, retries: a duplicate as well
    retry = await ObjectLogPublisher(js).publish(vm("mod", "Running"))
    assert retry.duplicate
    assert await stored(js) == 2


async def test_a_to_b_to_a_is_three_changes(js: JetStreamContext) -> None:
    await ensure_streams(js)
    publisher = ObjectLogPublisher(js)
    acks = [
        await publisher.publish(vm("add", "Halted")),
        await publisher.publish(vm("mod", "Running")),
        await publisher.publish(vm("mod", "Halted")),
        await publisher.publish(vm("mod", "Running")),
    ]
    assert [a.seq for a in acks] == [1, 2, 3, 4]
    assert not any(a.duplicate for a in acks)
    assert await stored(js) == 3  # history 3: the oldest went


async def test_a_restarted_publisher_continues_the_chain(js: JetStreamContext) -> None:
    await ensure_streams(js)
    before = ObjectLogPublisher(js)
    await before.publish(vm("add", "Halted"))
    landed = await before.publish(vm("mod", "Running"))
    after = ObjectLogPublisher(js)  # a new process: knows nothing
    again = await after.publish(vm("mod", "Running"))  # its last change, published once more
    assert again.duplicate
    assert again.seq == landed.seq
    new = await after.publish(vm("mod", "Halted"))
    assert new.seq == landed.seq + 1
    last = await js.get_msg("XORCA_OBJECTS", subject=SUBJECT)
    assert last.headers is not None
    assert last.headers["Nats-Msg-Id"] == next_msg_id(
        SUBJECT,
        await before.previous_id(SUBJECT),
        "mod",
        orjson.dumps({"uuid": VM, "power_state": "Halted"}),
    )


async def test_history_is_bounded_per_subject(js: JetStreamContext) -> None:
    await ensure_streams(js, history=2)
    publisher = ObjectLogPublisher(js)
    await publisher.publish(vm("add", "Halted", VM2))
    for i in range(6):
        await publisher.publish(vm("mod" if i else "add", f"state-{i}"))
    assert await stored(js) == 2
    assert await stored(js, f"xorca.v1.obj.{POOL}.vm.{VM2}") == 1


async def test_del_leaves_one_tombstone_with_the_last_record(js: JetStreamContext) -> None:
    await ensure_streams(js)
    publisher = ObjectLogPublisher(js, tombstone_ttl=3600)
    await publisher.publish(vm("add", "Halted"))
    await publisher.publish(vm("mod", "Running"))
    await publisher.publish(vm("del", "Running"))
    assert await stored(js) == 1
    last = await js.get_msg("XORCA_OBJECTS", subject=SUBJECT)
    assert last.headers is not None
    assert last.headers["Xorca-Op"] == "del"
    assert last.headers["Nats-TTL"] == "3600"
    assert orjson.loads(last.data or b"") == {"uuid": VM, "power_state": "Running"}


async def test_a_consumer_replays_objects_and_statuses_in_order(js: JetStreamContext) -> None:
    await ensure_streams(js)
    publisher = ObjectLogPublisher(js)
    await publisher.publish(vm("add", "Running"))
    await publisher.publish_status(status("disconnected"))
    await publisher.publish(vm("mod", "Halted"))
    await publisher.publish_status(status("synced"))
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


async def test_an_ordered_consumer_sees_the_latest_state(js: JetStreamContext) -> None:
    await ensure_streams(js)
    publisher = ObjectLogPublisher(js)
    for power in ("Halted", "Running", "Paused", "Running"):
        await publisher.publish(vm("mod", power))
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


async def test_nats_restart_mid_stream(
    js: JetStreamContext, nc: Client, nats_server: NatsServer
) -> None:
    await ensure_streams(js)
    publisher = ObjectLogPublisher(js, timeout=1)
    await publisher.publish(vm("add", "Halted"))
    await asyncio.to_thread(nats_server.restart)  # same port, same store
    # a publish in flight while the connection drops is lost or unanswered: retry it as is,
    # which the msg-id chain makes safe whether or not the first attempt was stored
    for _ in range(20):
        try:
            changed = await publisher.publish(vm("mod", "Running"))
            break
        except nats.errors.TimeoutError:
            continue
    else:
        raise AssertionError("no publish went through after the restart")
    assert changed.seq == 2
    assert nc.is_connected
    fresh = ObjectLogPublisher(js)
    assert (await fresh.publish(vm("mod", "Running"))).duplicate
    assert await stored(js) == 2
