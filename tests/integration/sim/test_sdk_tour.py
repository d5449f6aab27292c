"""A tour of the simulator as a script author writes against the official ``xenapi`` SDK.

Login, discovery through ``system.listMethods``, server-side filtering with
``get_all_records_where``, every class's records, the VM lifecycle through ``Async.*`` calls and
task polling, a failing task, and a removed method (XAPI.md §1, §3, §4).
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import pytest
import XenAPI

from tests.support.sdk import raw_proxy, sdk_session
from tests.support.simthread import SimThread
from tests.support.waiting import eventually_sync
from xorca.xapi.datamodel import NULL_REF, datamodel

DM = datamodel()

Records = dict[str, dict[str, Any]]


@pytest.fixture
def url(fresh_sim: SimThread) -> str:
    return str(fresh_sim.pool(1).describe()["url"])


@pytest.fixture
def xapi(url: str) -> Iterator[XenAPI.Session]:
    with sdk_session(url, login=False) as session:
        session.xenapi.login_with_password("root", "xorca", "2.21", "xorca-sdk-tour")
        yield session


def guests(xapi: XenAPI.Session, power_state: str) -> list[str]:
    return sorted(
        ref
        for ref, r in xapi.xenapi.VM.get_all_records().items()
        if r["power_state"] == power_state
        and not (r["is_a_template"] or r["is_a_snapshot"] or r["is_control_domain"])
    )


def wait_task(xapi: XenAPI.Session, task: str, timeout: float = 30) -> str:
    """Poll the task until it is no longer running; its final status."""

    def final() -> str | None:
        status = str(xapi.xenapi.task.get_status(task))
        return None if status in ("pending", "cancelling") else status

    return eventually_sync(final, what=f"task {task} to finish", timeout=timeout)


def task_result(xapi: XenAPI.Session, task: str) -> Any:
    """The task's result: the XML-RPC serialisation of what the call returned, decoded."""
    text = xapi.xenapi.task.get_result(task)
    assert text.startswith("<value>"), text
    wrapped = f"<methodResponse><params><param>{text}</param></params></methodResponse>"
    return xmlrpc.client.loads(wrapped)[0][0]


def run_async(xapi: XenAPI.Session, call: str, *args: Any) -> Any:
    """``Async.<call>``: wait for success, decode the result, destroy the task."""
    cls, msg = call.split(".")
    task = getattr(getattr(xapi.xenapi.Async, cls), msg)(*args)
    assert task.startswith("OpaqueRef:")
    assert xapi.xenapi.task.get_name_label(task) == f"Async.{call}"
    status = wait_task(xapi, task)
    assert status == "success", (call, status, xapi.xenapi.task.get_error_info(task))
    assert float(xapi.xenapi.task.get_progress(task)) == 1.0
    result = task_result(xapi, task)
    xapi.xenapi.task.destroy(task)
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.task.get_record(task)
    assert info.value.details == ["HANDLE_INVALID", "task", task]
    return result


def test_list_methods_names_the_synchronous_wire_names(xapi: XenAPI.Session) -> None:
    # the SDK reaches system.listMethods as a plain proxy method: its answer has no Status struct
    names = xapi.system.listMethods()
    assert isinstance(names, list) and all(isinstance(n, str) for n in names)
    assert {"VM.start", "VM.get_all_records", "VM.get_all_records_where", "task.get_result"} <= set(
        names
    )
    assert [n for n in names if n.startswith("Async.")] == []
    classes = {n.split(".")[0] for n in names if n.endswith(".get_all_records")}
    assert classes == {c.name for c in DM.classes.values() if "get_all_records" in c.messages}


def test_get_all_records_where_filters_on_the_server(xapi: XenAPI.Session) -> None:
    everything: Records = xapi.xenapi.VM.get_all_records()

    def where(expression: str) -> Records:
        answer: Records = xapi.xenapi.VM.get_all_records_where(expression)
        return answer

    running = where('field "power_state" = "Running" and not (field "is_a_template" = "true")')
    expected = {
        ref: r
        for ref, r in everything.items()
        if r["power_state"] == "Running" and not r["is_a_template"]
    }
    assert running == expected
    assert 0 < len(running) < len(everything)

    stopped = where(
        '(field "power_state" = "Halted" or field "power_state" = "Suspended")'
        ' and (field "is_a_template" = "false" and field "is_a_snapshot" = "false")'
    )
    expected = {
        ref: r
        for ref, r in everything.items()
        if r["power_state"] in ("Halted", "Suspended")
        and not r["is_a_template"]
        and not r["is_a_snapshot"]
    }
    assert stopped == expected
    assert stopped and set(stopped).isdisjoint(running)

    # a reference field compares as its text
    host = next(iter(running.values()))["resident_on"]
    on_host = where(f'field "resident_on" = "{host}"')
    assert on_host == {ref: r for ref, r in everything.items() if r["resident_on"] == host}
    assert on_host and set(on_host) < set(everything)

    assert where("true") == everything
    assert where("false") == {}


def test_get_all_records_where_groups_as_xapis_grammar(xapi: XenAPI.Session) -> None:
    # xapi's db_filter_parse.mly declares `%right LNOT` before `%left LAND LOR`: `and` and `or`
    # bind equally and from the left, and `not` binds looser than both
    everything: Records = xapi.xenapi.VM.get_all_records()
    template = {ref for ref, r in everything.items() if r["is_a_template"]}
    running = {ref for ref, r in everything.items() if r["power_state"] == "Running"}
    halted = {ref for ref, r in everything.items() if r["power_state"] == "Halted"}
    dom0 = {ref for ref, r in everything.items() if r["is_control_domain"]}
    assert template and running - dom0 and dom0 and template <= halted

    def where(expression: str) -> set[str]:
        return set(xapi.xenapi.VM.get_all_records_where(expression))

    # (template or running) and dom0: only the control domains, no template
    assert where(
        'field "is_a_template" = "true" or field "power_state" = "Running"'
        ' and field "is_control_domain" = "true"'
    ) == ((template | running) & dom0)
    # not (template and halted): every VM but the templates, running guests included
    assert where('not field "is_a_template" = "true" and field "power_state" = "Halted"') == (
        set(everything) - (template & halted)
    )


def test_every_class_answers_get_all_records(xapi: XenAPI.Session) -> None:
    names = xapi.system.listMethods()
    classes = sorted(
        {n.split(".")[0] for n in names if n.endswith(".get_all_records")} & set(DM.classes)
    )
    removed = [
        c for c in classes if DM.classes[c].messages["get_all_records"].lifecycle == "Removed_s"
    ]
    sizes = {}
    for cls in sorted(set(classes) - set(removed)):
        proxy = getattr(xapi.xenapi, cls)
        records = proxy.get_all_records()
        assert isinstance(records, dict), cls
        refs = proxy.get_all()
        assert sorted(records) == sorted(refs), cls
        fields = set(DM.classes[cls].fields)
        for ref, record in records.items():
            assert ref.startswith("OpaqueRef:") and isinstance(record, dict), cls
            assert set(record) == fields, cls
        sizes[cls] = len(records)
    assert len(sizes) >= 40
    assert all(sizes[c] > 0 for c in ("pool", "host", "VM", "SR", "VDI", "VBD", "network", "PIF"))
    assert sizes["pool"] == 1
    # the classes xapi no longer serves (VMPP, VIF_metrics, VBD_metrics) are still listed, and
    # answer MESSAGE_REMOVED
    assert removed
    for cls in removed:
        proxy = getattr(xapi.xenapi, cls)
        for call in (proxy.get_all_records, proxy.get_all):
            with pytest.raises(XenAPI.Failure) as info:
                call()
            assert info.value.details == ["MESSAGE_REMOVED"], cls


def test_vm_lifecycle_through_async_calls(xapi: XenAPI.Session) -> None:
    vm = guests(xapi, "Halted")[0]
    hosts = set(xapi.xenapi.host.get_all())
    snapshots_before = set(xapi.xenapi.VM.get_snapshots(vm))

    assert run_async(xapi, "VM.start", vm, False, False) == ""
    record = xapi.xenapi.VM.get_record(vm)
    assert record["power_state"] == "Running"
    assert record["resident_on"] in hosts
    assert int(record["domid"]) >= 1
    assert record["current_operations"] == {}
    assert "clean_shutdown" in record["allowed_operations"]
    assert "start" not in record["allowed_operations"]

    assert run_async(xapi, "VM.clean_shutdown", vm) == ""
    record = xapi.xenapi.VM.get_record(vm)
    assert record["power_state"] == "Halted"
    assert record["resident_on"] == NULL_REF
    assert record["domid"] == "-1"
    assert "start" in record["allowed_operations"]

    snapshot = run_async(xapi, "VM.snapshot", vm, "tour snapshot")
    assert isinstance(snapshot, str) and snapshot.startswith("OpaqueRef:")
    snap = xapi.xenapi.VM.get_record(snapshot)
    assert snap["is_a_snapshot"] is True
    assert snap["snapshot_of"] == vm
    assert snap["name_label"] == "tour snapshot"
    assert snapshot in xapi.xenapi.VM.get_snapshots(vm)
    assert snapshot not in snapshots_before

    clone = run_async(xapi, "VM.clone", vm, "tour clone")
    assert isinstance(clone, str) and clone not in (vm, snapshot)
    copy = xapi.xenapi.VM.get_record(clone)
    assert copy["power_state"] == "Halted"
    assert copy["name_label"] == "tour clone"
    assert copy["is_a_snapshot"] is False and copy["is_a_template"] is False
    assert copy["uuid"] != xapi.xenapi.VM.get_uuid(vm)
    assert clone in xapi.xenapi.VM.get_all()

    assert run_async(xapi, "VM.destroy", clone) == ""
    assert clone not in xapi.xenapi.VM.get_all()
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.get_record(clone)
    assert info.value.details == ["HANDLE_INVALID", "VM", clone]
    # the source and its snapshot are still there
    assert xapi.xenapi.VM.get_power_state(vm) == "Halted"
    assert set(xapi.xenapi.VM.get_snapshots(vm)) == snapshots_before | {snapshot}


def test_a_failing_async_call_ends_its_task_in_failure(xapi: XenAPI.Session) -> None:
    vm = guests(xapi, "Running")[0]
    task = xapi.xenapi.Async.VM.start(vm, False, False)
    assert wait_task(xapi, task) == "failure"
    record = xapi.xenapi.task.get_record(task)
    assert record["error_info"] == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    assert record["result"] == ""
    assert record["finished"] != xmlrpc.client.DateTime("19700101T00:00:00Z")
    xapi.xenapi.task.destroy(task)
    assert task not in xapi.xenapi.task.get_all()
    assert xapi.xenapi.VM.get_power_state(vm) == "Running"


def test_a_removed_method_answers_message_removed(xapi: XenAPI.Session, url: str) -> None:
    vm = guests(xapi, "Running")[0]
    assert DM.classes["VM"].messages["snapshot_with_quiesce"].lifecycle == "Removed_s"
    before = set(xapi.xenapi.VM.get_all())
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.snapshot_with_quiesce(vm, "quiesced")
    assert info.value.details == ["MESSAGE_REMOVED"]
    assert set(xapi.xenapi.VM.get_all()) == before
    # xapi checks the session before answering that the message is gone
    with raw_proxy(url) as raw:
        answer = raw.VM.snapshot_with_quiesce("OpaqueRef:not-a-session", vm, "quiesced")
    assert answer == {
        "Status": "Failure",
        "ErrorDescription": ["SESSION_INVALID", "OpaqueRef:not-a-session"],
    }
