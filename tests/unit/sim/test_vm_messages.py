"""The messages xapi raises after VM lifecycle operations (``message_forwarding.ml``
``create_vm_message``, ``api_messages.ml``), through ``dispatch.call`` on the lifecycle lab."""

from __future__ import annotations

import pytest

from tests.support.vm_lab import OP_SECONDS, Lab, build_lab
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers import message as message_handlers
from xorca.xapi_sim.vm import messages


@pytest.fixture
async def lab() -> Lab:
    return await build_lab().log_in()


def _new(lab: Lab, before: set[str]) -> list[dict[str, Value]]:
    """The messages posted since ``before`` was taken, oldest first."""
    return [m for r, m in lab.db.messages.items() if r not in before]


def _name(lab: Lab, cls: str, ref: str) -> tuple[str, str]:
    rec = lab.db.get(cls, ref)
    return str(rec["name_label"]), str(rec["uuid"])


async def _posts(lab: Lab, method: str, *params: Value) -> list[dict[str, Value]]:
    before = set(lab.db.messages)
    await lab.call(method, *params)
    return _new(lab, before)


def _only(posted: list[dict[str, Value]], vm_uuid: str) -> tuple[str, str]:
    """The one message posted: on the VM, priority 5; its name and body."""
    (message,) = posted
    assert (message["cls"], message["obj_uuid"], message["priority"]) == ("VM", vm_uuid, 5)
    return str(message["name"]), str(message["body"])


def test_the_table_is_xapis() -> None:
    assert set(messages.PRIORITY.values()) == {5}
    assert messages.body("pause", "web", "u-1") == "VM 'web' (uuid: u-1) paused"
    assert (
        messages.body(
            "pool_migrate", "web", "u-1", source="h1", source_uuid="a", host="h2", host_uuid="b"
        )
        == "VM 'web' (uuid: u-1) migrated from host 'h1' (uuid: a) to host 'h2' (uuid: b)"
    )
    assert (
        messages.body("revert", "web", "u-1", snapshot="s", snapshot_uuid="su")
        == "VM 'web' (uuid: u-1) reverted to snapshot: s (uuid su)"  # no colon: xapi's text
    )
    assert messages.body("start", "{x}", "u", host="h", host_uuid="hu") == (
        "VM '{x}' (uuid: u) started on host: h (uuid: hu)"
    )
    for op in ("clone", "copy", "provision", "destroy", "power_state_reset"):
        assert op not in messages.ANNOUNCEMENTS


async def test_every_power_operation_posts_its_message(lab: Lab) -> None:
    web = lab.vms["web"]
    host1, host2 = lab.hosts
    name, uuid = _name(lab, "VM", web)
    h1, h1_uuid = _name(lab, "host", host1)
    h2, h2_uuid = _name(lab, "host", host2)
    prefix = f"VM '{name}' (uuid: {uuid}) "
    steps: list[tuple[str, tuple[Value, ...], str, str]] = [
        ("VM.start_on", (web, host1, False, False), "VM_STARTED",
         f"started on host: {h1} (uuid: {h1_uuid})"),
        ("VM.pause", (web,), "VM_PAUSED", "paused"),
        ("VM.unpause", (web,), "VM_UNPAUSED", "unpaused"),
        ("VM.clean_reboot", (web,), "VM_REBOOTED", "rebooted cleanly"),
        ("VM.hard_reboot", (web,), "VM_REBOOTED", "rebooted forcibly"),
        ("VM.pool_migrate", (web, host2, {}), "VM_MIGRATED",
         f"migrated from host '{h1}' (uuid: {h1_uuid}) to host '{h2}' (uuid: {h2_uuid})"),
        ("VM.suspend", (web,), "VM_SUSPENDED", "suspended"),
        ("VM.resume_on", (web, host1, False, False), "VM_RESUMED",
         f"resumed on host: {h1} (uuid: {h1_uuid})"),
        ("VM.snapshot", (web, "before"), "VM_SNAPSHOTTED", "snapshotted, snapshot name: before"),
        ("VM.checkpoint", (web, "live"), "VM_CHECKPOINTED", "checkpointed, snapshot name: live"),
        ("VM.clean_shutdown", (web,), "VM_SHUTDOWN", "shutdown"),
        ("VM.start", (web, False, False), "VM_STARTED",
         f"started on host: {h1} (uuid: {h1_uuid})"),
        ("VM.hard_shutdown", (web,), "VM_SHUTDOWN", "shutdown forcibly"),
        ("VM.start", (web, False, False), "VM_STARTED",
         f"started on host: {h1} (uuid: {h1_uuid})"),
        ("VM.shutdown", (web,), "VM_SHUTDOWN", "shutdown"),
        ("VM.start", (web, False, False), "VM_STARTED",
         f"started on host: {h1} (uuid: {h1_uuid})"),
        ("VM.suspend", (web,), "VM_SUSPENDED", "suspended"),
        ("VM.resume", (web, False, False), "VM_RESUMED",
         f"resumed on host: {h1} (uuid: {h1_uuid})"),
    ]  # fmt: skip
    for method, params, expected, tail in steps:
        assert _only(await _posts(lab, method, *params), uuid) == (expected, prefix + tail), method


async def test_a_forced_shutdown_of_a_suspended_vm_and_a_clean_one_of_a_pv_guest(lab: Lab) -> None:
    web, pv = lab.vms["web"], lab.vms["pv"]
    await lab.call("VM.start", web, False, False)
    await lab.call("VM.suspend", web)
    name, uuid = _name(lab, "VM", web)
    assert _only(await _posts(lab, "VM.hard_shutdown", web), uuid) == (
        "VM_SHUTDOWN",
        f"VM '{name}' (uuid: {uuid}) shutdown forcibly",
    )
    await lab.call("VM.start", pv, False, False)
    name, uuid = _name(lab, "VM", pv)
    assert _only(await _posts(lab, "VM.shutdown", pv), uuid) == (
        "VM_SHUTDOWN",
        f"VM '{name}' (uuid: {uuid}) shutdown",
    )


async def test_revert_reports_the_forced_shutdown_then_the_revert(lab: Lab) -> None:
    web = lab.vms["web"]
    snap = str(await lab.call("VM.snapshot", web, "clean"))
    await lab.call("VM.start", web, False, False)
    name, uuid = _name(lab, "VM", web)
    snap_name, snap_uuid = _name(lab, "VM", snap)
    posted = await _posts(lab, "VM.revert", snap)
    assert [(m["name"], m["obj_uuid"], m["body"]) for m in posted] == [
        ("VM_SHUTDOWN", uuid, f"VM '{name}' (uuid: {uuid}) shutdown forcibly"),
        (
            "VM_SNAPSHOT_REVERTED",
            uuid,
            f"VM '{name}' (uuid: {uuid}) reverted to snapshot: {snap_name} (uuid {snap_uuid})",
        ),
    ]
    # reverting a halted VM shuts nothing down
    assert [m["name"] for m in await _posts(lab, "VM.revert", snap)] == ["VM_SNAPSHOT_REVERTED"]


async def test_operations_without_a_message_post_none(lab: Lab) -> None:
    web, tpl = lab.vms["web"], lab.vms["tpl"]
    assert await _posts(lab, "VM.clone", web, "a clone") == []
    copy = await lab.call("VM.copy", web, "a copy", lab.srs["shared"])
    assert await _posts(lab, "VM.provision", tpl) == []
    assert await _posts(lab, "VM.destroy", str(copy)) == []
    await lab.call("VM.start", web, False, False)
    assert await _posts(lab, "VM.power_state_reset", web) == []
    assert await _posts(lab, "VM.set_memory_dynamic_range", web, 2**30, 2**31) == []


async def test_a_failed_or_cancelled_operation_posts_none(lab: Lab) -> None:
    web, bare = lab.vms["web"], lab.vms["bare"]
    before = set(lab.db.messages)
    assert (await lab.fails("VM.pause", web))[0] == "VM_BAD_POWER_STATE"
    await lab.call("VM.start", bare, False, False)
    started = set(lab.db.messages)
    assert await lab.fails("VM.suspend", bare) == ["VM_LACKS_FEATURE", bare]
    assert await lab.fails("VM.clean_shutdown", bare) == ["VM_LACKS_FEATURE", bare]
    task = str(await lab.call("Async.VM.start", web, False, False))
    await lab.operation_started(web)
    await lab.call("task.cancel", task)
    assert (await lab.wait_task(task))["status"] == "cancelled"
    assert lab.vm("web")["power_state"] == "Halted"
    assert [m["name"] for m in _new(lab, before)] == ["VM_STARTED"]  # bare's start only
    assert _new(lab, started) == []


async def test_an_async_start_posts_before_its_task_succeeds(lab: Lab) -> None:
    web = lab.vms["web"]
    first = await lab.call("event.from", ["message"], "", 1.0)
    assert isinstance(first, dict)
    task = str(await lab.call("Async.VM.start", web, False, False))
    batch = await lab.call("event.from", ["message"], first["token"], 20 * OP_SECONDS + 5)
    assert isinstance(batch, dict)
    (event,) = batch["events"]  # type: ignore[misc]
    assert (event["class"], event["operation"], event["id"]) == ("message", "add", "0")
    snapshot = event["snapshot"]
    assert snapshot["name"] == "VM_STARTED"
    assert snapshot["obj_uuid"] == lab.vm("web")["uuid"]
    assert (await lab.wait_task(task))["status"] == "success"


async def test_lifecycle_messages_stay_within_the_message_limit(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(message_handlers, "MESSAGE_LIMIT", 3)
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    for _ in range(3):
        await lab.call("VM.pause", web)
        await lab.call("VM.unpause", web)
    assert len(lab.db.messages) == 3
    assert [m["name"] for m in lab.db.messages.values()] == [
        "VM_UNPAUSED",
        "VM_PAUSED",
        "VM_UNPAUSED",
    ]
