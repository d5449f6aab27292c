"""The simulator's row store: generations, relations kept on both sides, tombstones."""

from __future__ import annotations

import pytest

from xorca.xapi.datamodel import NULL_REF, datamodel
from xorca.xapi.errors import XapiError
from xorca.xapi_sim.state.db import TOMBSTONES_HIGH, TOMBSTONES_LOW, Database


@pytest.fixture
def db() -> Database:
    return Database()


def test_a_created_row_has_every_field_and_fresh_generations(db: Database) -> None:
    ref = db.create("VM", name_label="web-01")
    record = db.get("VM", ref)
    assert set(record) == set(datamodel().cls("VM").fields)
    assert record["name_label"] == "web-01"
    assert record["power_state"] == "Halted"
    assert record["uuid"]
    row = db.row("VM", ref)
    assert row.ctime == row.mtime == db.generation
    assert db.by_uuid_ref("VM", str(record["uuid"])) == ref


def test_updates_are_copy_on_write_and_bump_the_generation(db: Database) -> None:
    ref = db.create("VM", name_label="a")
    before = db.get("VM", ref)
    generation = db.generation
    db.update("VM", ref, name_label="b")
    assert before["name_label"] == "a"  # readers holding the old record see it unchanged
    assert db.get("VM", ref)["name_label"] == "b"
    assert db.row("VM", ref).mtime == generation + 1
    db.update("VM", ref, name_label="b")  # no change: no new generation
    assert db.generation == generation + 1


def test_pointer_fields_keep_the_other_side_in_step(db: Database) -> None:
    host_a, host_b = db.create("host"), db.create("host")
    vm = db.create("VM", resident_on=host_a)
    vbd = db.create("VBD", VM=vm)
    assert db.get("host", host_a)["resident_VMs"] == [vm]
    assert db.get("VM", vm)["VBDs"] == [vbd]
    db.update("VM", vm, resident_on=host_b)
    assert db.get("host", host_a)["resident_VMs"] == []
    assert db.get("host", host_b)["resident_VMs"] == [vm]
    db.destroy("VBD", vbd)
    assert db.get("VM", vm)["VBDs"] == []
    snapshot = db.create("VM", snapshot_of=vm, is_a_snapshot=True)
    assert db.get("VM", vm)["snapshots"] == [snapshot]
    db.destroy("VM", vm)  # the snapshot now points at nothing, as xapi leaves it
    assert db.get("VM", snapshot)["snapshot_of"] == NULL_REF
    assert db.get("host", host_b)["resident_VMs"] == []


def test_missing_rows_and_uuids_are_xapi_errors(db: Database) -> None:
    with pytest.raises(XapiError) as info:
        db.get("VM", "OpaqueRef:nope")
    assert info.value.description == ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]
    with pytest.raises(XapiError) as info:
        db.by_uuid_ref("VM", "nope")
    assert info.value.description == ["UUID_INVALID", "VM", "nope"]
    with pytest.raises(KeyError):
        db.create("VM", no_such_field=1)


def test_recent_walks_newest_first_and_tombstones_are_bounded(db: Database) -> None:
    refs = [db.create("VM", name_label=str(i)) for i in range(3)]
    since = db.generation
    db.update("VM", refs[0], name_label="changed")
    assert [row.ref for row in db.recent(since)] == [refs[0]]
    for _ in range(TOMBSTONES_HIGH + 1):
        db.destroy("VM", db.create("VM"))
    assert TOMBSTONES_LOW <= len(db.tombstones["VM"]) <= TOMBSTONES_HIGH
    newest = db.tombstones["VM"][-1]
    assert [t.ref for t in db.deleted(newest.dtime - 1, ["VM"])] == [newest.ref]


async def test_waiters_wake_on_a_write_and_time_out_otherwise(db: Database) -> None:
    import asyncio

    generation, messages = db.generation, db.message_generation
    assert await db.wait_beyond(generation, messages, 0.05) is False
    waiter = asyncio.ensure_future(db.wait_beyond(generation, messages, 5))
    await asyncio.sleep(0)
    db.create("pool")
    assert await asyncio.wait_for(waiter, 1) is True
    db.add_message({"name": "ALARM"})
    assert await db.wait_beyond(db.generation, messages, 0) is True
