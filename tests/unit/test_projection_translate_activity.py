"""Tasks, messages and pool statuses from hand-built inputs; which classes are projected, as
what type; and the only errors a translation lets out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.raw_records import NULL, POOL, Records, ref
from xorca.contracts.base import ErrorBody
from xorca.contracts.status import PoolStatusChanged
from xorca.projection.core.records import ClientObject, Raw
from xorca.projection.core.translate import (
    PRIMARY_CLASSES,
    TranslationError,
    pool_status,
    translate,
    type_of,
)

# ---- tasks and messages ------------------------------------------------------------------------


@pytest.fixture
def tasks() -> Records:
    db = Records()
    db.add("host", "h1")
    db.add("vm", "clone", is_a_template=False)
    db.add("vm_metrics", "m")
    db.add("task", "t1", name_label="Async.VM.clone", name_description="", status="success",
           progress=1.0, created="20261126T09:00:00Z", finished="20261126T09:00:04Z",
           resident_on=ref("h1"), subtask_of=NULL, result=f"<value>{ref('clone')}</value>",
           error_info=[], allowed_operations=[], current_operations={},
           type="<none/>", other_config={}, backtrace="()")  # fmt: skip
    db.add("task", "t2", name_label="Async.VM.start", status="failure", progress=1.0,
           created="20261126T09:00:00Z", finished="20261126T09:00:01Z", subtask_of=ref("t1"),
           result="",
           error_info=["VM_BAD_POWER_STATE", "OpaqueRef:x", "halted", "running"])  # fmt: skip
    db.add("task", "t3", name_label="Async.VM.start", status="pending", progress=0.4,
           created="20261126T09:00:00Z", finished="19700101T00:00:00Z", result="",
           allowed_operations=["cancel"], current_operations={ref("t3"): "cancel"})  # fmt: skip
    db.add("task", "t4", status="success", result=f"<value>{ref('m')}</value>")
    db.add("task", "t5", status="success", result=ref("clone"), progress=7)
    return db


def test_a_task_that_succeeded_links_its_result(tasks: Records) -> None:
    assert tasks.object("t1").data == {
        "id": "t1-uuid",
        "type": "task",
        "$pool": POOL,
        "name_label": "Async.VM.clone",
        "name_description": "",
        "status": "success",
        "progress": 1.0,
        "created": "2026-11-26T09:00:00Z",
        "finished": "2026-11-26T09:00:04Z",
        "$resident_on": "h1-uuid",
        "allowed_operations": [],
        "current_operations": {},
        "result": "<value>OpaqueRef:clone</value>",
        "$result": "clone-uuid",
        "result_type": "vm",
    }
    bare = tasks.object("t5").data
    assert (bare["$result"], bare["progress"]) == ("clone-uuid", 1.0)  # progress kept in 0..1
    # a result that is not a client object stays text
    assert "$result" not in tasks.object("t4").data


def test_a_failed_task_and_a_running_one(tasks: Records) -> None:
    failed = tasks.object("t2").data
    assert failed["error_info"] == ["VM_BAD_POWER_STATE", "OpaqueRef:x", "halted", "running"]
    assert failed["$subtask_of"] == "t1-uuid"
    assert "result" not in failed
    running = tasks.object("t3").data
    assert (running["status"], running["progress"]) == ("pending", 0.4)
    assert "finished" not in running  # the epoch is "not yet"
    assert running["current_operations"] == {"t3-uuid": "cancel"}


def test_an_alarm_message() -> None:
    db = Records()
    body = (
        'value: 0.966000\nconfig:\n<variable>\n\n\t<name value="cpu_usage"/>\n\n'
        '\t<alarm_trigger_level value="0.9"/>\n\n\t<alarm_trigger_period value="60"/>\n\n'
        '\t<alarm_auto_inhibit_period value="3600"/>\n\n</variable>\n'
    )
    db.add("message", "msg", name="ALARM", priority=3, cls="VM", obj_uuid="vm1-uuid",
           timestamp="20261126T09:00:00Z", body=body)  # fmt: skip
    assert db.object("msg").data == {
        "id": "msg-uuid",
        "type": "message",
        "$pool": POOL,
        "name": "ALARM",
        "priority": 3,
        "cls": "VM",
        "$object": "vm1-uuid",
        "timestamp": "2026-11-26T09:00:00Z",
        "body": body,
        "alarm": True,
        "alarm_value": 0.966,
        "alarm_source": "cpu_usage",
        "alarm_trigger_level": 0.9,
        "alarm_trigger_period": 60,
        "alarm_auto_inhibit_period": 3600,
    }
    assert db.asked == []  # a message names its object by uuid: nothing to look up


def test_other_messages_and_alarms_that_do_not_parse() -> None:
    db = Records()
    db.add("message", "m1", name="VM_STARTED", priority=5, cls="VM", obj_uuid="x",
           timestamp="2026-11-26T09:00:00Z", body="VM 'web' started")  # fmt: skip
    db.add("message", "m2", name="ALARM", priority=3, cls="Host", obj_uuid="",
           body="<value>0.5</value><variable><name value='x'/><broken></variable>")  # fmt: skip
    started = db.object("m1").data
    assert (started["alarm"], started["priority"]) == (False, 5)
    broken = db.object("m2").data
    assert broken["alarm"] is True
    assert broken["alarm_value"] == 0.5
    assert "alarm_source" not in broken and "$object" not in broken


# ---- pool status ---------------------------------------------------------------------------------


def test_a_pool_status() -> None:
    status = PoolStatusChanged(
        registry_id="paris",
        pool_uuid=POOL,
        state="disconnected",
        since=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        master="10.0.0.1",
        last_event_at=datetime(2026, 11, 26, 8, 59, 58, 500000, tzinfo=UTC),
        error=ErrorBody(code="XORCA_CONNECTION_FAILED", params=["refused"]),
        collector="c1",
        at=datetime(2026, 11, 26, 9, 0, 1, tzinfo=UTC),
    )
    assert pool_status(status) == ClientObject(
        "pool-status",
        "paris",
        POOL,
        {
            "id": "paris",
            "type": "pool-status",
            "$pool": POOL,
            "registry_id": "paris",
            "state": "disconnected",
            "since": "2026-11-26T09:00:00Z",
            "master": "10.0.0.1",
            "last_event_at": "2026-11-26T08:59:58.5Z",
            "error": {"code": "XORCA_CONNECTION_FAILED", "params": ["refused"]},
            "collector": "c1",
        },
    )


def test_a_pool_status_before_the_pool_is_known() -> None:
    status = PoolStatusChanged(
        registry_id="new",
        state="connecting",
        since=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        collector="c1",
        at=datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
    )
    found = pool_status(status)
    assert (found.pool, found.id) == (None, "new")
    assert found.data == {
        "id": "new",
        "type": "pool-status",
        "registry_id": "new",
        "state": "connecting",
        "since": "2026-11-26T09:00:00Z",
        "collector": "c1",
    }


# ---- classes and errors --------------------------------------------------------------------------


def test_primary_classes() -> None:
    assert frozenset(
        {"vm", "host", "pool", "sr", "vdi", "vbd", "vif", "network", "pif", "pbd", "task",
         "message"}
    ) == PRIMARY_CLASSES  # fmt: skip


@pytest.mark.parametrize(
    ("cls", "record", "expected"),
    [
        ("vm", {}, "vm"),
        ("VM", {"is_a_template": True}, "vm-template"),
        ("vm", {"is_a_template": True, "is_a_snapshot": True}, "vm-snapshot"),
        ("vm", {"is_control_domain": True, "is_a_template": True}, "vm-controller"),
        ("vm", {"is_a_template": "true"}, "vm-template"),
        ("vdi", {"is_a_snapshot": True}, "vdi-snapshot"),
        ("vdi", {"is_a_snapshot": False}, "vdi"),
        ("pool", {}, "pool"),
        ("message", {}, "message"),
        ("vm_metrics", {}, None),
        ("console", {}, None),
        ("pool_update", {}, None),
    ],
)
def test_type_of(cls: str, record: dict[str, object], expected: str | None) -> None:
    assert type_of(cls, record) == expected


@pytest.mark.parametrize("cls", ["vm_metrics", "vm_guest_metrics", "host_metrics", "host_cpu",
                                 "console", "pif_metrics", "feature", "sm"])  # fmt: skip
def test_secondary_classes_give_no_object(cls: str) -> None:
    db = Records()
    assert translate(db.add(cls, "x"), db.lookup) is None


def test_unusable_records_raise_translation_error() -> None:
    db = Records()
    not_a_map = Raw(POOL, "vm", ref("bad"), "bad-uuid", ["not", "a", "record"])  # type: ignore[arg-type]
    with pytest.raises(TranslationError) as info:
        translate(not_a_map, db.lookup)
    assert (info.value.cls, info.value.ref) == ("vm", "OpaqueRef:bad")
    assert isinstance(info.value, ValueError)
    with pytest.raises(TranslationError, match="no uuid"):
        translate(Raw(POOL, "sr", ref("anon"), "", {"name_label": "x"}), db.lookup)


def test_the_uuid_may_come_from_the_record() -> None:
    db = Records()
    found = translate(Raw(POOL, "sr", ref("s"), "", {"uuid": "from-record"}), db.lookup)
    assert found is not None and found.id == "from-record"


def test_what_the_lookup_raises_goes_through_untouched() -> None:
    class StoreDown(Exception):
        pass

    def lookup(pool: str, ref: str) -> Raw | None:
        raise StoreDown(ref)

    raw = Raw(POOL, "vbd", ref("v"), "v-uuid", {"VM": ref("vm")})
    with pytest.raises(StoreDown):
        translate(raw, lookup)


def test_a_lookup_answer_of_another_class_is_no_link() -> None:
    db = Records()
    db.add("sr", "not-a-host")
    db.add("pbd", "p", host=ref("not-a-host"), SR=ref("not-a-host"))
    data = db.object("p").data
    assert "$host" not in data
    assert data["$sr"] == "not-a-host-uuid"
