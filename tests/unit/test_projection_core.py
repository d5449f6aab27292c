"""The projection's pure core: who reads what, revisions, type changes, and what to publish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from xorca.contracts import merge_patch
from xorca.projection.core.changes import decide
from xorca.projection.core.projector import Flushed, Projected, Projector, Stamp
from xorca.projection.core.records import ClientObject, Lookup, ObjectKey, Raw
from xorca.projection.core.translate import TranslationError, translate
from xorca.store import ObjectRow

POOL = "pool-uuid"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def stamp(seq: int) -> Stamp:
    return Stamp(seq, T0 + timedelta(seconds=seq))


def vm(uuid: str = "vm-1", **fields: Any) -> dict[str, Any]:
    record = {"uuid": uuid, "name_label": "web", "power_state": "Halted",
              "is_a_template": False, "is_a_snapshot": False, "is_control_domain": False,
              "metrics": "OpaqueRef:m1", "VBDs": [], "VIFs": [], "tags": []}  # fmt: skip
    return record | fields


def metrics(actual: int) -> dict[str, Any]:
    return {"uuid": "m-1", "memory_actual": actual, "VCPUs_number": 2}


def change(p: Projector, seq: int, cls: str, ref: str, op: str, record: dict[str, Any]) -> None:
    p.apply(POOL, cls, ref, str(record.get("uuid", ref)), op, record, stamp(seq))


def by_key(flushed: Flushed) -> dict[tuple[str, str], Projected]:
    return {(p.key.type, p.key.id): p for p in flushed.objects}


def test_a_metrics_change_retranslates_its_vm_with_the_metrics_revision():
    p = Projector()
    change(p, 1, "vm", "OpaqueRef:v1", "add", vm())
    change(p, 2, "vm_metrics", "OpaqueRef:m1", "add", metrics(1 << 30))
    first = by_key(p.flush())
    assert first[("vm", "vm-1")].stamp.seq == 2
    assert first[("vm", "vm-1")].data is not None
    assert first[("vm", "vm-1")].data["memory"]["actual"] == 1 << 30
    change(p, 3, "vm_metrics", "OpaqueRef:m1", "mod", metrics(2 << 30))
    second = by_key(p.flush())
    assert list(second) == [("vm", "vm-1")]
    vm_now = second[("vm", "vm-1")]
    assert vm_now.stamp.seq == 3 and vm_now.data is not None
    assert vm_now.data["memory"]["actual"] == 2 << 30


def test_a_record_that_arrives_after_its_reader_still_reaches_it():
    p = Projector()
    change(p, 1, "vm", "OpaqueRef:v1", "add", vm())
    assert "memory" not in (by_key(p.flush())[("vm", "vm-1")].data or {})
    change(p, 5, "vm_metrics", "OpaqueRef:m1", "add", metrics(1 << 30))
    assert by_key(p.flush())[("vm", "vm-1")].stamp.seq == 5


def test_a_vm_made_a_template_leaves_a_tombstone_under_its_old_type():
    p = Projector()
    change(p, 1, "vm", "OpaqueRef:v1", "add", vm())
    p.flush()
    change(p, 2, "vm", "OpaqueRef:v1", "mod", vm(is_a_template=True))
    out = by_key(p.flush())
    assert out[("vm", "vm-1")].deleted and out[("vm", "vm-1")].stamp.seq == 2
    assert out[("vm-template", "vm-1")].data is not None


def test_deletions_give_tombstones_even_for_objects_never_seen():
    p = Projector()
    change(p, 1, "vm", "OpaqueRef:v1", "add", vm())
    p.flush()
    change(p, 4, "vm", "OpaqueRef:v1", "del", vm())
    # a rebuild sees only the del of an object whose earlier messages were rolled up
    change(p, 5, "vm", "OpaqueRef:v9", "del", vm("vm-9", is_a_snapshot=True))
    # an object that vanished while the collector was away: no record, its class tells a type
    p.apply(POOL, "vm", "OpaqueRef:v8", "vm-8", "del", {}, stamp(6))
    flushed = p.flush()
    out = by_key(flushed)
    assert set(out) == {("vm", "vm-1"), ("vm-snapshot", "vm-9"), ("vm", "vm-8")}
    assert all(o.deleted for o in out.values())
    assert out[("vm", "vm-1")].stamp.seq == 4
    assert sorted(flushed.raw_del) == [(POOL, "OpaqueRef:v1"), (POOL, "OpaqueRef:v8"),
                                       (POOL, "OpaqueRef:v9")]  # fmt: skip


def test_a_deleted_record_its_reader_still_names_moves_the_readers_revision():
    p = Projector()
    change(p, 1, "vm", "OpaqueRef:v1", "add", vm())
    change(p, 2, "vm_metrics", "OpaqueRef:m1", "add", metrics(1 << 30))
    p.flush()
    change(p, 7, "vm_metrics", "OpaqueRef:m1", "del", metrics(1 << 30))
    out = by_key(p.flush())
    assert out[("vm", "vm-1")].stamp.seq == 7  # never back to 1: clients at 2 must hear of it
    assert "memory" not in (out[("vm", "vm-1")].data or {})


def test_revisions_do_not_depend_on_how_the_log_is_cut_into_batches():
    log = [
        (1, "vm", "OpaqueRef:v1", "add", vm()),
        (2, "vm_metrics", "OpaqueRef:m1", "add", metrics(1)),
        (3, "vm", "OpaqueRef:v2", "add", vm("vm-2", metrics="OpaqueRef:m2")),
        (4, "vm_metrics", "OpaqueRef:m1", "mod", metrics(2)),
        (5, "vm", "OpaqueRef:v2", "del", vm("vm-2")),
        (6, "vm", "OpaqueRef:v1", "mod", vm(name_label="db")),
    ]
    results = []
    for cut in (1, 2, 3, 6):
        p = Projector()
        final: dict[tuple[str, str], Projected] = {}
        for start in range(0, len(log), cut):
            for seq, cls, ref, op, record in log[start : start + cut]:
                change(p, seq, cls, ref, op, record)
            final.update(by_key(p.flush()))
        results.append({k: (v.stamp.seq, v.data) for k, v in final.items()})
    assert all(result == results[0] for result in results)
    assert results[0][("vm", "vm-1")][0] == 6 and results[0][("vm", "vm-2")] == (5, None)


def host(**fields: Any) -> dict[str, Any]:
    return {"uuid": "host-1", "name_label": "h1", "resident_VMs": [], "enabled": True} | fields


def test_a_vm_names_its_host_without_following_its_changes():
    p = Projector()
    change(p, 1, "host", "OpaqueRef:h1", "add", host())
    change(p, 2, "vm", "OpaqueRef:v1", "add", vm(power_state="Running",
                                                 resident_on="OpaqueRef:h1"))  # fmt: skip
    first = by_key(p.flush())
    assert first[("vm", "vm-1")].data["$host"] == "host-1"  # type: ignore[index]
    # the host's record changes (its VMs, its name…): the VM is not translated again
    change(p, 3, "host", "OpaqueRef:h1", "mod", host(name_label="renamed",
                                                     resident_VMs=["OpaqueRef:v1"]))  # fmt: skip
    assert list(by_key(p.flush())) == [("host", "host-1")]


def test_a_named_record_that_appears_late_fills_the_link_with_a_later_revision():
    p = Projector()
    change(p, 1, "vm", "OpaqueRef:v1", "add", vm(power_state="Running",
                                                 resident_on="OpaqueRef:h1"))  # fmt: skip
    assert "$host" not in (by_key(p.flush())[("vm", "vm-1")].data or {})
    change(p, 4, "host", "OpaqueRef:h1", "add", host())
    out = by_key(p.flush())
    assert out[("vm", "vm-1")].data["$host"] == "host-1"  # type: ignore[index]
    assert out[("vm", "vm-1")].stamp.seq == 4  # clients at 1 must hear of the link
    # in one batch (a rebuild), the VM was never without it: its own revision
    p = Projector()
    change(p, 1, "vm", "OpaqueRef:v1", "add", vm(power_state="Running",
                                                 resident_on="OpaqueRef:h1"))  # fmt: skip
    change(p, 4, "host", "OpaqueRef:h1", "add", host())
    assert by_key(p.flush())[("vm", "vm-1")].stamp.seq == 1


def test_loading_stored_records_restores_who_reads_what():
    p = Projector()
    failures = p.load([
        (p_raw("vm", "OpaqueRef:v1", vm()), stamp(1)),
        (p_raw("vm_metrics", "OpaqueRef:m1", metrics(1)), stamp(2)),
    ])  # fmt: skip
    assert failures == []
    change(p, 3, "vm_metrics", "OpaqueRef:m1", "mod", metrics(9))
    out = by_key(p.flush())
    assert list(out) == [("vm", "vm-1")] and out[("vm", "vm-1")].stamp.seq == 3


def p_raw(cls: str, ref: str, record: dict[str, Any]) -> Raw:
    return Raw(POOL, cls, ref, str(record["uuid"]), record)


def test_an_untranslatable_record_is_reported_and_keeps_its_previous_version():
    broken = {"OpaqueRef:v1"}

    def translator(raw: Raw, lookup: Lookup, link: Lookup) -> ClientObject | None:
        if raw.ref in broken:
            raise TranslationError(raw.cls, raw.ref, "unusable")
        return translate(raw, lookup, link)

    p = Projector(translator=translator)
    change(p, 1, "vm", "OpaqueRef:v1", "add", vm())
    change(p, 2, "vm", "OpaqueRef:v2", "add", vm("vm-2"))
    flushed = p.flush()
    assert [o.key.id for o in flushed.objects] == ["vm-2"]
    assert [(f.raw.ref, f.stamp.seq) for f in flushed.failures] == [("OpaqueRef:v1", 1)]
    broken.clear()
    change(p, 3, "vm", "OpaqueRef:v1", "mod", vm(name_label="fixed"))
    assert [o.key.id for o in p.flush().objects] == ["vm-1"]


# -- decide --------------------------------------------------------------------------------


def row(rev: int, data: dict[str, Any] | None) -> ObjectRow:
    return ObjectRow("vm", "u", POOL, rev, data is None, T0, data)


def projected(seq: int, data: dict[str, Any] | None) -> Projected:
    return Projected(ObjectKey("vm", "u"), POOL, data, stamp(seq))


BIG = {"id": "u", "memory": {"actual": 1, "max": 8}, "name_label": "x" * 200}


@pytest.mark.parametrize(
    ("stored", "new", "op"),
    [
        (None, projected(2, BIG), "put"),
        (row(1, None), projected(2, BIG), "put"),
        (row(1, BIG), projected(2, BIG | {"memory": {"actual": 2, "max": 8}}), "patch"),
        (row(1, BIG), projected(2, {"other": "thing"}), "put"),  # the patch would be larger
        (row(1, BIG), projected(2, BIG), "patch"),  # only the revision moved: an empty patch
        (row(1, BIG), projected(2, None), "del"),
        (None, projected(2, None), None),  # a tombstone nobody had: written, not published
        (row(1, None), projected(2, None), None),
    ],
)
def test_what_is_written_and_published(stored: ObjectRow | None, new: Projected, op: str | None):
    decisions = decide([new], {("vm", "u"): stored} if stored else {})
    assert len(decisions) == 1
    delta = decisions[0].delta
    assert (delta.op if delta else None) == op
    if delta is not None:
        assert delta.rev == new.stamp.seq
    if delta is not None and delta.op == "patch":
        assert stored is not None
        assert merge_patch.apply(stored.data, delta.patch) == new.data


def test_nothing_is_written_when_nothing_changed():
    assert decide([projected(1, BIG)], {("vm", "u"): row(1, BIG)}) == []
    assert decide([projected(1, None)], {("vm", "u"): row(1, None)}) == []
