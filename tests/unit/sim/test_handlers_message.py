"""``message.*`` through ``dispatch.call``: messages live outside the database, so every call is
hand-written, and ``event.from`` must still see them come and go."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from tests.support.small_pool import OneHostLab, lab_pool
from xorca.xapi.values import DateTime
from xorca.xapi_sim.handlers import message as message_handlers
from xorca.xapi_sim.state.db import Database


@dataclass
class Lab(OneHostLab):
    vm_uuid: str = ""

    async def alert(self, name: str = "VM_STARTED", priority: int = 5, body: str = "") -> str:
        ref = await self.call("message.create", name, priority, "VM", self.vm_uuid, body)
        assert isinstance(ref, str)
        return ref


@pytest.fixture
async def lab() -> Lab:
    db = Database()
    host = db.create("host", name_label="host1", enabled=True)
    db.create("pool", name_label="lab", master=host)
    vm = db.create("VM", name_label="web")
    pool = lab_pool(db, event_batching_delay=0.0)
    return await Lab(pool, host=host, vm_uuid=str(db.field("VM", vm, "uuid"))).log_in()


async def test_create_gives_a_whole_record_and_every_read_finds_it(lab: Lab) -> None:
    ref = await lab.alert(body="web started on host1")
    record = await lab.call("message.get_record", ref)
    assert isinstance(record, dict)
    assert set(record) == {"uuid", "name", "priority", "cls", "obj_uuid", "timestamp", "body"}
    assert record["name"] == "VM_STARTED"
    assert record["priority"] == 5
    assert record["cls"] == "VM"
    assert record["obj_uuid"] == lab.vm_uuid
    assert isinstance(record["timestamp"], DateTime)
    assert abs(record["timestamp"].to_datetime().timestamp() - time.time()) < 2
    assert await lab.call("message.get_all") == [ref]
    assert await lab.call("message.get_all_records") == {ref: record}
    # the expression filters (xapi_message.ml get_all_records_where): priority as Int64.to_string
    assert await lab.call("message.get_all_records_where", 'field "priority"="5"') == {ref: record}
    assert await lab.call("message.get_all_records_where", 'field "priority"="1"') == {}
    where_cls = f'field "cls" = "VM" and field "obj_uuid" = "{lab.vm_uuid}"'
    assert await lab.call("message.get_all_records_where", where_cls) == {ref: record}
    assert await lab.call("message.get_all_records_where", 'field "_ref" = "x"') == {}
    assert await lab.fails("message.get_all_records_where", "priority = 5") == [
        "INVALID_VALUE",
        "priority = 5",
        'Failure("lexing: empty token")',
    ]
    assert await lab.call("message.get_by_uuid", record["uuid"]) == ref
    assert lab.db.refs("message") == []  # outside the database, as in xapi


async def test_unknown_refs_uuids_and_objects_fail_like_xapi(lab: Lab) -> None:
    assert await lab.fails("message.get_record", "OpaqueRef:nope") == [
        "HANDLE_INVALID",
        "message",
        "OpaqueRef:nope",
    ]
    assert await lab.fails("message.get_by_uuid", "nope") == ["UUID_INVALID", "message", "nope"]
    assert await lab.fails("message.create", "X", 1, "Host", lab.vm_uuid, "") == [
        "UUID_INVALID",
        "Host",
        lab.vm_uuid,
    ]
    assert (await lab.fails("message.create", "X", 1, "VM", lab.vm_uuid, "bell\x07"))[0] == (
        "INVALID_VALUE"
    )
    # the datamodel declares no field getters for messages
    assert await lab.fails("message.get_name", "OpaqueRef:x") == [
        "MESSAGE_METHOD_UNKNOWN",
        "message.get_name",
    ]


async def test_get_since_and_get_keep_only_later_messages_newest_first(lab: Lab) -> None:
    cutoff = DateTime.from_timestamp(time.time() - 1)
    first = await lab.alert("FIRST")
    await asyncio.sleep(0.01)
    middle = time.time()
    await asyncio.sleep(0.01)
    second = await lab.alert("SECOND")
    since = await lab.call("message.get_since", cutoff)
    assert isinstance(since, dict)
    assert list(since)[:2] == [second, first]  # newest first
    precise = datetime.fromtimestamp(middle, UTC).isoformat()  # 2026-…T…:….123456+00:00
    later = await lab.call("message.get_since", precise)
    assert list(later) == [second]  # sub-second precision, RFC 3339 accepted
    for_vm = await lab.call("message.get", "VM", lab.vm_uuid, "19700101T00:00:00Z")
    assert set(for_vm) == {first, second}  # type: ignore[arg-type]
    assert await lab.fails("message.get", "SR", lab.vm_uuid, "19700101T00:00:00Z") == [
        "UUID_INVALID",
        "SR",
        lab.vm_uuid,
    ]
    assert (await lab.fails("message.get_since", "yesterday"))[0] == "INVALID_VALUE"


async def test_destroy_destroy_many_and_destroy_all_with_filters(lab: Lab) -> None:
    low, high, other = await lab.alert(priority=1), await lab.alert(priority=5), await lab.alert()
    await lab.call("message.destroy", other)
    assert await lab.fails("message.destroy", other) == ["HANDLE_INVALID", "message", other]
    await lab.call("message.destroy_all", {"priority": "1"})
    assert await lab.call("message.get_all") == [high]
    assert low not in lab.db.messages
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    await lab.call("message.destroy_all", {"after": future})
    assert await lab.call("message.get_all") == [high]
    extra = await lab.alert()
    await lab.call("message.destroy_many", [high, extra])
    assert await lab.call("message.get_all") == []
    assert (await lab.fails("message.destroy_all", {"colour": "red"}))[0] == "INVALID_VALUE"


async def test_event_from_reports_message_add_and_del(lab: Lab) -> None:
    first = await lab.call("event.from", ["message"], "", 0.0)
    assert isinstance(first, dict)
    token = first["token"]
    ref = await lab.alert()
    added = await lab.call("event.from", ["message"], token, 1.0)
    assert isinstance(added, dict)
    (event,) = added["events"]  # type: ignore[misc]
    assert event["operation"] == "add"
    assert event["ref"] == ref
    assert event["snapshot"]["name"] == "VM_STARTED"
    await lab.call("message.destroy", ref)
    gone = await lab.call("event.from", ["message"], added["token"], 1.0)
    assert isinstance(gone, dict)
    assert [(e["operation"], e["ref"]) for e in gone["events"]] == [("del", ref)]  # type: ignore[union-attr, index]


async def test_the_oldest_messages_go_beyond_the_limit(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(message_handlers, "MESSAGE_LIMIT", 3)
    refs = [await lab.alert(f"M{i}") for i in range(5)]
    assert set(lab.db.messages) == set(refs[2:])
