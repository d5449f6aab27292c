"""Every VM operation through the official SDK, synchronous and ``Async.*`` with task polling."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import pytest
import XenAPI

from tests.support.sdk import sdk_session
from tests.support.simthread import SimThread
from tests.support.waiting import eventually_sync


@pytest.fixture
def xapi(fresh_sim: SimThread) -> Iterator[XenAPI.Session]:
    with sdk_session(fresh_sim.pool(1).describe()["url"]) as session:
        yield session


def vms_in(xapi: XenAPI.Session, power_state: str) -> list[str]:
    return [
        ref
        for ref, r in xapi.xenapi.VM.get_all_records().items()
        if r["power_state"] == power_state
        and not r["is_a_template"]
        and not r["is_a_snapshot"]
        and not r["is_control_domain"]
    ]


def wait_task(xapi: XenAPI.Session, task: str, timeout: float = 30) -> dict[str, Any]:
    """Poll the task until it is no longer running; its record, with the progress it showed."""
    progress = []

    def finished() -> dict[str, Any] | None:
        record: dict[str, Any] = xapi.xenapi.task.get_record(task)
        progress.append(float(record["progress"]))
        return None if record["status"] in ("pending", "cancelling") else record

    record = eventually_sync(finished, what=f"task {task} to finish", timeout=timeout)
    record["seen_progress"] = progress
    return record


def test_lifecycle_round_trip(xapi: XenAPI.Session) -> None:
    vm = vms_in(xapi, "Halted")[0]
    xapi.xenapi.VM.start(vm, False, False)
    record = xapi.xenapi.VM.get_record(vm)
    assert record["power_state"] == "Running"
    assert record["resident_on"] != "OpaqueRef:NULL"
    assert int(record["domid"]) >= 1
    assert record["consoles"]
    assert all(
        xapi.xenapi.VBD.get_currently_attached(v)
        for v in record["VBDs"]
        if not xapi.xenapi.VBD.get_empty(v)
    )
    assert (
        "clean_shutdown" in record["allowed_operations"]
        and "start" not in record["allowed_operations"]
    )
    location = xapi.xenapi.console.get_location(record["consoles"][0])
    host_address = xapi.xenapi.host.get_address(record["resident_on"])
    assert location.startswith(f"https://{host_address}/console?")

    xapi.xenapi.VM.pause(vm)
    assert xapi.xenapi.VM.get_power_state(vm) == "Paused"
    xapi.xenapi.VM.unpause(vm)
    xapi.xenapi.VM.suspend(vm)
    assert xapi.xenapi.VM.get_power_state(vm) == "Suspended"
    assert xapi.xenapi.VM.get_resident_on(vm) == "OpaqueRef:NULL"
    xapi.xenapi.VM.resume(vm, False, False)
    assert xapi.xenapi.VM.get_power_state(vm) == "Running"
    xapi.xenapi.VM.clean_reboot(vm)
    xapi.xenapi.VM.hard_reboot(vm)
    assert xapi.xenapi.VM.get_power_state(vm) == "Running"

    hosts = xapi.xenapi.host.get_all()
    target = next(h for h in hosts if h != xapi.xenapi.VM.get_resident_on(vm))
    xapi.xenapi.VM.pool_migrate(vm, target, {"live": "true"})
    assert xapi.xenapi.VM.get_resident_on(vm) == target

    xapi.xenapi.VM.clean_shutdown(vm)
    record = xapi.xenapi.VM.get_record(vm)
    assert record["power_state"] == "Halted"
    assert record["resident_on"] == "OpaqueRef:NULL"
    assert record["domid"] == "-1"
    assert record["consoles"] == []
    assert "start" in record["allowed_operations"]

    xapi.xenapi.VM.start_on(vm, hosts[0], False, False)
    assert xapi.xenapi.VM.get_resident_on(vm) == hosts[0]
    xapi.xenapi.VM.hard_shutdown(vm)
    assert xapi.xenapi.VM.get_power_state(vm) == "Halted"


def test_snapshot_checkpoint_revert_clone_copy_destroy(xapi: XenAPI.Session) -> None:
    vm = vms_in(xapi, "Halted")[0]
    snap = xapi.xenapi.VM.snapshot(vm, "before change")
    snap_record = xapi.xenapi.VM.get_record(snap)
    assert snap_record["is_a_snapshot"] and snap_record["snapshot_of"] == vm
    assert snap in xapi.xenapi.VM.get_snapshots(vm)
    xapi.xenapi.VM.set_name_description(vm, "changed after the snapshot")
    xapi.xenapi.VM.revert(snap)
    assert xapi.xenapi.VM.get_power_state(vm) == "Halted"

    clone = xapi.xenapi.VM.clone(vm, "a clone")
    assert xapi.xenapi.VM.get_power_state(clone) == "Halted"
    assert xapi.xenapi.VM.get_name_label(clone) == "a clone"
    sr = xapi.xenapi.VDI.get_SR(
        xapi.xenapi.VBD.get_VDI(
            next(v for v in xapi.xenapi.VM.get_VBDs(vm) if xapi.xenapi.VBD.get_type(v) == "Disk")
        )
    )
    copy = xapi.xenapi.VM.copy(vm, "a copy", sr)
    assert xapi.xenapi.VM.get_power_state(copy) == "Halted"
    xapi.xenapi.VM.destroy(clone)
    xapi.xenapi.VM.destroy(copy)
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.get_record(clone)
    assert info.value.details == ["HANDLE_INVALID", "VM", clone]

    running = vms_in(xapi, "Running")[0]
    checkpoint = xapi.xenapi.VM.checkpoint(running, "checkpoint")
    assert xapi.xenapi.VM.get_is_a_snapshot(checkpoint)
    assert xapi.xenapi.VM.get_power_state(checkpoint) == "Suspended"


def test_power_state_errors_are_xapis(xapi: XenAPI.Session) -> None:
    running = vms_in(xapi, "Running")[0]
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.start(running, False, False)
    assert info.value.details == ["VM_BAD_POWER_STATE", running, "halted", "running"]
    halted = vms_in(xapi, "Halted")[0]
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.clean_shutdown(halted)
    assert info.value.details == ["VM_BAD_POWER_STATE", halted, "running", "halted"]
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.destroy(running)
    assert info.value.details[0] == "VM_BAD_POWER_STATE"
    template = next(
        r
        for r, rec in xapi.xenapi.VM.get_all_records().items()
        if rec["is_a_template"] and not rec["is_a_snapshot"]
    )
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.start(template, False, False)
    assert info.value.details == ["VM_IS_TEMPLATE", template, "start"]
    xapi.xenapi.VM.add_to_blocked_operations(halted, "start", "maintenance")
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.start(halted, False, False)
    assert info.value.details == ["OPERATION_BLOCKED", halted, "maintenance"]
    xapi.xenapi.VM.remove_from_blocked_operations(halted, "start")


def test_async_call_returns_a_task_that_reports_progress_and_result(xapi: XenAPI.Session) -> None:
    halted = vms_in(xapi, "Halted")[0]
    task = xapi.xenapi.Async.VM.clone(halted, "async clone")
    assert task.startswith("OpaqueRef:")
    record = xapi.xenapi.task.get_record(task)
    assert record["name_label"] == "Async.VM.clone"
    assert record["status"] in ("pending", "success")
    done = wait_task(xapi, task)
    assert done["status"] == "success"
    assert float(done["progress"]) == 1.0
    assert done["seen_progress"] == sorted(done["seen_progress"])
    result = xmlrpc.client.loads(
        f"<methodResponse><params><param>{done['result']}</param></params></methodResponse>"
    )[0][0]
    assert xapi.xenapi.VM.get_name_label(result) == "async clone"
    assert done["finished"] != xmlrpc.client.DateTime("19700101T00:00:00Z")


def test_async_failure_and_running_operation_conflicts(xapi: XenAPI.Session) -> None:
    running = vms_in(xapi, "Running")[0]
    failed = wait_task(xapi, xapi.xenapi.Async.VM.start(running, False, False))
    assert failed["status"] == "failure"
    assert failed["error_info"] == ["VM_BAD_POWER_STATE", running, "halted", "running"]

    task = xapi.xenapi.Async.VM.clean_shutdown(running)
    marked = eventually_sync(  # the call runs in a task of its own
        lambda: xapi.xenapi.VM.get_current_operations(running), what="the shutdown marked"
    )
    assert marked == {task: "clean_shutdown"}
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.suspend(running)
    assert info.value.details == [
        "OTHER_OPERATION_IN_PROGRESS",
        "VM",
        running,
        "clean_shutdown",
        task,
    ]
    assert wait_task(xapi, task)["status"] == "success"
    assert xapi.xenapi.VM.get_current_operations(running) == {}


def test_cancel_stops_an_operation_and_keeps_the_vm_as_it_was(xapi: XenAPI.Session) -> None:
    running = vms_in(xapi, "Running")[0]
    task = xapi.xenapi.Async.VM.clean_shutdown(running)
    xapi.xenapi.task.cancel(task)
    done = wait_task(xapi, task)
    assert done["status"] == "cancelled"
    assert done["error_info"] == ["TASK_CANCELLED", task]
    assert xapi.xenapi.VM.get_power_state(running) == "Running"
    ((key, op),) = done["current_operations"].items()  # the cancel call's own (dummy) task
    assert key.startswith("DummyRef:|") and op == "cancel"
    assert xapi.xenapi.task.cancel(task) == ""  # xapi refuses no task, finished or not
    assert xapi.xenapi.task.get_status(task) == "cancelled"
    xapi.xenapi.task.destroy(task)
    with pytest.raises(XenAPI.Failure):
        xapi.xenapi.task.get_record(task)


def test_session_and_task_messages_have_no_async_mode(xapi: XenAPI.Session) -> None:
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.Async.VM.get_name_label(xapi.xenapi.VM.get_all()[0])
    assert info.value.details[0] == "Fault"
    assert "No async mode" in info.value.details[1]


def _messages_on(xapi: XenAPI.Session, vm: str) -> list[dict[str, Any]]:
    """The VM's messages, oldest first (xapi answers newest first, to the sub-second)."""
    uuid = xapi.xenapi.VM.get_uuid(vm)
    records = xapi.xenapi.message.get_all_records().values()
    return [m for m in reversed(records) if m["cls"] == "VM" and m["obj_uuid"] == uuid]


def test_lifecycle_operations_leave_xapis_messages(xapi: XenAPI.Session) -> None:
    vm = vms_in(xapi, "Halted")[0]
    name, uuid = xapi.xenapi.VM.get_name_label(vm), xapi.xenapi.VM.get_uuid(vm)
    before = len(_messages_on(xapi, vm))
    xapi.xenapi.VM.start(vm, False, False)
    host = xapi.xenapi.VM.get_resident_on(vm)
    host_name, host_uuid = xapi.xenapi.host.get_name_label(host), xapi.xenapi.host.get_uuid(host)
    xapi.xenapi.VM.pause(vm)
    xapi.xenapi.VM.unpause(vm)
    xapi.xenapi.VM.snapshot(vm, "sdk snap")
    with pytest.raises(XenAPI.Failure):
        xapi.xenapi.VM.start(vm, False, False)  # refused: no message
    xapi.xenapi.VM.hard_shutdown(vm)
    posted = [(m["name"], m["priority"], m["body"]) for m in _messages_on(xapi, vm)[before:]]
    prefix = f"VM '{name}' (uuid: {uuid}) "
    assert posted == [
        ("VM_STARTED", "5", prefix + f"started on host: {host_name} (uuid: {host_uuid})"),
        ("VM_PAUSED", "5", prefix + "paused"),
        ("VM_UNPAUSED", "5", prefix + "unpaused"),
        ("VM_SNAPSHOTTED", "5", prefix + "snapshotted, snapshot name: sdk snap"),
        ("VM_SHUTDOWN", "5", prefix + "shutdown forcibly"),
    ]


def test_revert_of_a_vm_that_is_not_a_snapshot(xapi: XenAPI.Session) -> None:
    vm = vms_in(xapi, "Halted")[0]
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.revert(vm)
    assert info.value.details == ["VM_REVERT_FAILED", vm, "OpaqueRef:NULL"]
