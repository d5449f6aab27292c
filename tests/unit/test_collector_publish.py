"""Publish planning with plain values: the msg-id chain, what is not published, tombstones for
what vanished, and what to do with a message whose fate is unknown."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from xorca.collector.core.publish import LogIndex, Planned, Stored, Unpublishable, digest_of
from xorca.contracts.msgid import GENESIS, next_msg_id
from xorca.contracts.objects import ObjectChanged, decode_object, encode_object
from xorca.xapi.watcher import Change

POOL = "3a1c5e0e-9c8f-4f8e-b1a4-2b7d6f0c9e11"
VM = "0f3b8d2a-6c1e-4e57-9d0a-5b2c7e8f1a34"
VM2 = "9b7c5d3e-1f2a-4b6c-8d0e-2f4a6b8c0d1e"
SUBJECT = f"xorca.v1.obj.{POOL}.vm.{VM}"


def vm(op: str = "add", power: str = "Halted", uuid: str = VM) -> Change:
    return Change(op, "VM", f"OpaqueRef:{uuid}", {"uuid": uuid, "power_state": power})  # type: ignore[arg-type]


def planned(index: LogIndex, change: Change) -> Planned:
    message = index.plan(change)
    assert message is not None
    return message


def published(index: LogIndex, change: Change, now: float = 0.0) -> Planned:
    """Plan ``change`` and record it as acknowledged."""
    message = planned(index, change)
    index.record(message, seq=1, now=now)
    return message


def test_the_first_message_of_a_subject_chains_from_genesis() -> None:
    message = planned(LogIndex(POOL), vm())
    assert message.subject == SUBJECT  # the class is lowercased, as event.from names it
    assert message.previous_id == GENESIS
    assert message.msg_id == next_msg_id(SUBJECT, GENESIS, "add", message.body)
    decoded = decode_object(message.subject, message.headers, message.body)
    assert (decoded.op, decoded.ref, decoded.record) == ("add", f"OpaqueRef:{VM}", vm().record)


def test_each_change_chains_after_the_one_before_and_a_to_b_to_a_gets_a_new_id() -> None:
    index = LogIndex(POOL)
    a = published(index, vm("add", "Halted"))
    b = published(index, vm("mod", "Running"))
    again = planned(index, vm("mod", "Halted"))
    assert b.previous_id == a.msg_id
    assert again.previous_id == b.msg_id
    assert len({a.msg_id, b.msg_id, again.msg_id}) == 3


def test_a_change_identical_to_the_newest_message_is_not_published() -> None:
    index = LogIndex(POOL)
    published(index, vm("add", "Halted"))
    assert index.plan(vm("mod", "Halted")) is not None  # another op is another message
    assert index.plan(vm("add", "Halted")) is None


def test_a_restarted_publisher_goes_on_from_what_the_stream_holds() -> None:
    before = LogIndex(POOL)
    first = published(before, vm("add", "Halted"))
    # what a restarted collector reads back: the stored message's headers and body
    stored = {SUBJECT: Stored.of_message(first.headers, first.body, seq=7)}
    after = LogIndex(POOL, stored)
    assert after.plan(vm("add", "Halted")) is None  # the first load restates it: not sent
    both = [planned(before, vm("mod", "Running")), planned(after, vm("mod", "Running"))]
    assert both[0].msg_id == both[1].msg_id  # so a republish is a duplicate for JetStream


def test_a_deletion_rolls_the_subject_up_and_expires() -> None:
    index = LogIndex(POOL, tombstone_ttl=3600)
    published(index, vm("add"))
    tombstone = planned(index, vm("del"))
    assert tombstone.headers["Nats-Rollup"] == "sub"
    assert tombstone.headers["Nats-TTL"] == "3600"
    assert orjson.loads(tombstone.body) == vm().record  # the last record known
    assert "Nats-Rollup" not in planned(LogIndex(POOL), vm("add")).headers


def test_the_first_load_tombstones_what_vanished_while_nobody_watched() -> None:
    def stored(uuid: str, op: str) -> tuple[str, Stored]:
        return f"xorca.v1.obj.{POOL}.vm.{uuid}", Stored("f" * 32, b"", op, f"OpaqueRef:{uuid}")

    gone, deleted = "aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002"
    index = LogIndex(POOL, dict([stored(VM, "mod"), stored(gone, "add"), stored(deleted, "del")]))
    messages = list(index.plan_batch([vm("add", "Running")], first=True))
    assert [(m.op, m.subject.rsplit(".", 1)[1]) for m in messages] == [("del", gone), ("add", VM)]
    tombstone = messages[0]
    assert (tombstone.body, tombstone.ref) == (b"{}", f"OpaqueRef:{gone}")
    assert tombstone.previous_id == "f" * 32
    # a later batch is only what the watcher says: nothing vanishes from it implicitly
    assert [m.op for m in LogIndex(POOL, dict([stored(gone, "add")])).plan_batch([])] == []


@pytest.mark.parametrize(
    ("record", "says"),
    [({"name_label": "no uuid"}, "no uuid"), ({"uuid": "a.b"}, "contains '.'")],
)
def test_changes_without_a_valid_subject_are_refused_not_published(
    record: dict[str, str], says: str
) -> None:
    refused: list[Unpublishable] = []
    bad = Change("add", "VM", "OpaqueRef:bad", record)
    messages = list(LogIndex(POOL).plan_batch([bad, vm()], refused=refused.append))
    assert [m.subject for m in messages] == [SUBJECT]
    assert len(refused) == 1 and says in refused[0].reason
    with pytest.raises(Unpublishable):
        LogIndex(POOL).plan(bad)


def test_planning_is_lazy_and_counts_what_needs_no_message() -> None:
    index = LogIndex(POOL)
    published(index, vm("add", "Halted"))
    taken: list[int] = []

    def changes() -> Iterator[Change]:
        for i in range(1000):
            taken.append(i)
            yield vm("mod", f"state-{i}", uuid=f"00000000-0000-0000-0000-{i:012d}")

    unchanged: list[None] = []
    plan = index.plan_batch(changes())
    next(plan)
    assert taken == [0]  # one message encoded, not the whole batch
    list(index.plan_batch([vm("add", "Halted")], unchanged=lambda: unchanged.append(None)))
    assert len(unchanged) == 1


def test_replan_a_message_that_landed() -> None:
    index = LogIndex(POOL)
    message = planned(index, vm())
    landed = Stored.of_message(message.headers, message.body, seq=3)
    assert index.replan(message, landed) is None
    assert index.get(SUBJECT) == landed
    assert index.plan(vm()) is None


def test_replan_a_message_that_did_not_land_sends_it_again_with_the_same_id() -> None:
    index = LogIndex(POOL)
    first = published(index, vm("add", "Halted"))
    lost = planned(index, vm("mod", "Running"))
    newest = Stored.of_message(first.headers, first.body)
    assert index.replan(lost, newest) is lost
    fresh = planned(LogIndex(POOL), vm("add"))
    assert LogIndex(POOL).replan(fresh, None) is fresh


def test_replan_after_someone_else_wrote_chains_after_them() -> None:
    index = LogIndex(POOL)
    mine = planned(index, vm("mod", "Running"))
    theirs = Stored("e" * 32, digest_of("mod", b'{"other":1}'), "mod", "OpaqueRef:x")
    again = index.replan(mine, theirs)
    assert again is not None and again.previous_id == "e" * 32
    assert again.msg_id == next_msg_id(SUBJECT, "e" * 32, "mod", mine.body)
    assert again.body == mine.body


def test_tombstones_are_forgotten_after_the_duplicate_window() -> None:
    index = LogIndex(POOL, forget_tombstones_after=120)
    published(index, vm("add"), now=0)
    published(index, vm("del"), now=10)
    published(index, vm("add", uuid=VM2), now=20)
    assert len(index) == 2
    index.forget_old_tombstones(now=129)
    assert len(index) == 2
    index.forget_old_tombstones(now=130)
    assert index.get(SUBJECT) is None and len(index) == 1


@pytest.mark.parametrize("ttl", [None, 3600.0])
@pytest.mark.parametrize("op", ["add", "mod", "del"])
def test_messages_are_exactly_what_the_contract_encodes(op: str, ttl: float | None) -> None:
    """The planner builds messages itself (it makes 100,000 of them for a large pool's first
    load); they must be byte for byte what `encode_object` makes."""
    index = LogIndex(POOL, tombstone_ttl=ttl)
    previous = published(index, vm("add", "Halted")) if op != "add" else None
    message = planned(index, vm(op, "Running"))
    change = ObjectChanged.model_validate(
        {"pool": POOL, "xapi_class": "VM", "uuid": VM, "ref": f"OpaqueRef:{VM}", "op": op,
         "record": vm(op, "Running").record}
    )  # fmt: skip
    expected = encode_object(change, previous.msg_id if previous else GENESIS, tombstone_ttl=ttl)
    assert (message.subject, message.headers, message.body) == (
        expected.subject, expected.headers, expected.body)  # fmt: skip
