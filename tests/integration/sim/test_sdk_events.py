"""``event.from`` and the legacy event API through the official SDK (XAPI.md §2)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import XenAPI

from tests.support.sdk import raw_proxy, sdk_session
from tests.support.simthread import SimThread
from tests.support.waiting import eventually_sync

TOKEN = re.compile(r"^\d{20},\d{20}$")


def event_from(
    xapi: XenAPI.Session, classes: list[str], token: str, timeout: float
) -> dict[str, Any]:
    return getattr(xapi.xenapi.event, "from")(classes, token, timeout)  # type: ignore[no-any-return]


@pytest.fixture
def xapi(fresh_sim: SimThread) -> Iterator[XenAPI.Session]:
    with sdk_session(fresh_sim.pool(1).describe()["url"]) as session:
        yield session


def test_first_call_returns_every_object_as_add(xapi: XenAPI.Session) -> None:
    batch = event_from(xapi, ["*"], "", 5.0)
    assert TOKEN.match(batch["token"])
    ops = {e["operation"] for e in batch["events"]}
    assert ops == {"add"}
    vms = xapi.xenapi.VM.get_all()
    seen = {e["ref"] for e in batch["events"] if e["class"] == "vm"}
    assert seen == set(vms)
    classes = {e["class"] for e in batch["events"]}
    assert {"vm", "host", "pool", "sr", "vdi", "vbd", "vif", "network", "pif"} <= classes
    assert "session" not in classes  # sessions never produce events
    one = next(e for e in batch["events"] if e["class"] == "vm")
    assert one["snapshot"] == xapi.xenapi.VM.get_record(one["ref"])
    assert one["timestamp"] == "0.0" and one["id"].isdigit()
    # valid_ref_counts covers every table, subscribed or not
    counts = batch["valid_ref_counts"]
    assert int(counts["vm"]) == len(vms)
    assert "session" in counts and int(counts["session"]) >= 1


def test_changes_are_coalesced_and_deletions_reported(xapi: XenAPI.Session) -> None:
    token = event_from(xapi, ["vm"], "", 5.0)["token"]
    vm = next(r for r, rec in xapi.xenapi.VM.get_all_records().items() if not rec["is_a_template"])
    for i in range(5):
        xapi.xenapi.VM.set_name_description(vm, f"change {i}")
    batch = event_from(xapi, ["vm"], token, 5.0)
    mine = [e for e in batch["events"] if e["ref"] == vm]
    assert len(mine) == 1
    assert mine[0]["operation"] == "mod"
    assert mine[0]["snapshot"]["name_description"] == "change 4"
    token = batch["token"]

    template = next(
        r
        for r, rec in xapi.xenapi.VM.get_all_records().items()
        if rec["is_a_template"] and not rec["is_a_snapshot"]
    )
    clone = xapi.xenapi.VM.clone(template, "event test clone")
    xapi.xenapi.VM.set_name_description(clone, "modified after creation")
    batch = event_from(xapi, ["vm"], token, 5.0)
    mine = [e for e in batch["events"] if e["ref"] == clone]
    assert [e["operation"] for e in mine] == [
        "add"
    ]  # created after the token: add, even if modified
    assert mine[0]["snapshot"]["name_description"] == "modified after creation"
    token = batch["token"]

    xapi.xenapi.VM.destroy(clone)
    batch = event_from(xapi, ["vm"], token, 5.0)
    deleted = [e for e in batch["events"] if e["ref"] == clone]
    assert [e["operation"] for e in deleted] == ["del"]
    assert "snapshot" not in deleted[0] or not deleted[0]["snapshot"]


def test_created_and_destroyed_between_calls_is_not_reported(xapi: XenAPI.Session) -> None:
    token = event_from(xapi, ["vm"], "", 5.0)["token"]
    template = next(
        r
        for r, rec in xapi.xenapi.VM.get_all_records().items()
        if rec["is_a_template"] and not rec["is_a_snapshot"]
    )
    clone = xapi.xenapi.VM.clone(template, "ephemeral")
    xapi.xenapi.VM.destroy(clone)
    vm = xapi.xenapi.VM.get_all()[0]
    xapi.xenapi.VM.set_name_description(vm, "something else to report")
    batch = event_from(xapi, ["vm"], token, 5.0)
    assert clone not in {e["ref"] for e in batch["events"]}


def test_timeout_returns_an_empty_batch_with_a_usable_token(xapi: XenAPI.Session) -> None:
    token = event_from(xapi, ["pool"], "", 5.0)["token"]
    started = time.monotonic()
    batch = event_from(xapi, ["pool"], token, 0.5)
    elapsed = time.monotonic() - started
    assert batch["events"] == []
    assert 0.4 <= elapsed < 5
    assert TOKEN.match(batch["token"])


def test_long_poll_returns_as_soon_as_something_matches(
    xapi: XenAPI.Session, fresh_sim: SimThread
) -> None:
    token = event_from(xapi, ["vm"], "", 5.0)["token"]
    vm = xapi.xenapi.VM.get_all()[0]
    url = fresh_sim.pool(1).describe()["url"]

    def change_later() -> None:
        time.sleep(0.5)
        with sdk_session(url) as other:
            other.xenapi.VM.set_name_description(vm, "woken up")

    thread = threading.Thread(target=change_later)
    started = time.monotonic()
    thread.start()
    batch = event_from(xapi, ["vm"], token, 30.0)
    elapsed = time.monotonic() - started
    thread.join()
    assert 0.4 <= elapsed < 5
    assert [e["ref"] for e in batch["events"]] == [vm]


def test_object_subscription_and_bad_arguments(xapi: XenAPI.Session) -> None:
    vms = xapi.xenapi.VM.get_all()
    batch = event_from(xapi, [f"vm/{vms[0]}"], "", 5.0)
    assert [e["ref"] for e in batch["events"]] == [vms[0]]
    batch = event_from(xapi, ["VM"], "", 5.0)  # class names are case-insensitive
    assert {e["ref"] for e in batch["events"]} == set(vms)
    with pytest.raises(XenAPI.Failure) as info:
        event_from(xapi, ["vm"], "not-a-token", 1.0)
    assert info.value.details == ["EVENT_FROM_TOKEN_PARSE_FAILURE", "not-a-token"]


def test_an_unknown_class_is_no_error_and_returns_empty_at_its_timeout(
    xapi: XenAPI.Session,
) -> None:
    for classes in (["no_such_class"], ["vm/"], ["session"]):
        started = time.monotonic()
        batch = event_from(xapi, classes, "", 0.5)
        elapsed = time.monotonic() - started
        assert batch["events"] == [], classes
        assert 0.4 <= elapsed < 5, classes
        assert batch["token"] == "00000000000000000000,00000000000000000000"
        assert "vm" in batch["valid_ref_counts"]
    # xapi reads the token's numbers as OCaml does
    assert event_from(xapi, ["pool"], "0x0,0", 5.0)["events"]


def test_vm_started_arrives_through_event_from_after_an_async_start(
    xapi: XenAPI.Session,
) -> None:
    token = event_from(xapi, ["message", "task"], "", 5.0)["token"]
    vm = next(
        r
        for r, rec in xapi.xenapi.VM.get_all_records().items()
        if rec["power_state"] == "Halted"
        and not rec["is_a_template"]
        and not rec["is_a_snapshot"]
        and not rec["is_control_domain"]
    )
    uuid = xapi.xenapi.VM.get_uuid(vm)
    task = xapi.xenapi.Async.VM.start(vm, False, False)
    started, done = None, None

    def both_seen() -> bool:
        nonlocal token, started, done
        batch = event_from(xapi, ["message", "task"], token, 10.0)
        token = batch["token"]
        for e in batch["events"]:
            record = e.get("snapshot") or {}
            if e["class"] == "message" and (record.get("name"), record.get("obj_uuid")) == (
                "VM_STARTED",
                uuid,
            ):
                started = e
            elif e["ref"] == task and record.get("status") == "success":
                done = e
        return started is not None and done is not None

    eventually_sync(both_seen, what="VM_STARTED and the task's success", timeout=30, interval=0)
    assert started is not None and done is not None
    message = started["snapshot"]
    assert (message["cls"], message["priority"], started["id"]) == ("VM", "5", "0")
    host = xapi.xenapi.VM.get_resident_on(vm)
    assert message["body"] == (
        f"VM '{xapi.xenapi.VM.get_name_label(vm)}' (uuid: {uuid}) started on host: "
        f"{xapi.xenapi.host.get_name_label(host)} (uuid: {xapi.xenapi.host.get_uuid(host)})"
    )


def test_inject_gives_a_token_just_before_a_touch(xapi: XenAPI.Session) -> None:
    pool = xapi.xenapi.pool.get_all()[0]
    token = xapi.xenapi.event.inject("pool", pool)
    assert TOKEN.match(token)
    batch = event_from(xapi, ["pool"], token, 5.0)
    assert [(e["ref"], e["operation"]) for e in batch["events"]] == [(pool, "mod")]
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.event.inject("vm", pool)
    assert info.value.details[0] == "HANDLE_INVALID"


def test_messages_arrive_as_add_and_del_with_id_zero(xapi: XenAPI.Session) -> None:
    token = event_from(xapi, ["message"], "", 5.0)["token"]
    pool_uuid = xapi.xenapi.pool.get_uuid(xapi.xenapi.pool.get_all()[0])
    ref = xapi.xenapi.message.create("XORCA_TEST", "3", "Pool", pool_uuid, "hello")
    batch = event_from(xapi, ["message"], token, 5.0)
    assert [(e["ref"], e["operation"], e["id"]) for e in batch["events"]] == [(ref, "add", "0")]
    assert batch["events"][0]["snapshot"]["name"] == "XORCA_TEST"
    xapi.xenapi.message.destroy(ref)
    batch = event_from(xapi, ["message"], batch["token"], 5.0)
    assert [(e["ref"], e["operation"]) for e in batch["events"]] == [(ref, "del")]


def test_logout_wakes_a_blocked_event_from(fresh_sim: SimThread) -> None:
    url = fresh_sim.pool(1).describe()["url"]
    with sdk_session(url) as watcher:
        handle = watcher.handle
        token = event_from(watcher, ["pool"], "", 5.0)["token"]
    result: dict[str, Any] = {}

    def block() -> None:
        with raw_proxy(url) as raw:
            result["answer"] = getattr(raw.event, "from")(handle, ["pool"], token, 30.0)

    with sdk_session(url) as watcher:
        handle = watcher.handle
        token = event_from(watcher, ["pool"], "", 5.0)["token"]
        thread = threading.Thread(target=block)
        started = time.monotonic()
        thread.start()
        time.sleep(0.3)
    thread.join(10)
    assert time.monotonic() - started < 5
    assert result["answer"] == {
        "Status": "Failure",
        "ErrorDescription": ["SESSION_INVALID", handle],
    }


def test_legacy_register_next_and_events_lost(xapi: XenAPI.Session, fresh_sim: SimThread) -> None:
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.event.next()
    assert info.value.details[0] == "SESSION_NOT_REGISTERED"
    xapi.xenapi.event.register(["vm"])
    vm = xapi.xenapi.VM.get_all()[0]
    xapi.xenapi.VM.set_name_description(vm, "legacy")
    events = xapi.xenapi.event.next()
    assert any(e["ref"] == vm and e["operation"] == "mod" for e in events)
    assert all(e["class"] == "vm" for e in events)
    assert float(events[0]["timestamp"]) > 1e9

    pool = fresh_sim.pool(1).pool
    fresh_sim.run(lambda: _overflow_legacy_queue(pool))
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.event.next()
    assert info.value.details == ["EVENTS_LOST"]
    xapi.xenapi.event.unregister(["vm"])


async def _overflow_legacy_queue(pool: Any) -> None:
    vm = pool.db.refs("VM")[0]
    for i in range(pool.legacy_queue_limit + 10):
        pool.db.update("VM", vm, name_description=f"flood {i}")
