"""The watcher's pure core with plain values: net changes against the mirror, diffs of a full
load, applying batches, and the valid_ref_counts comparison."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from xorca.xapi.watcher import (
    Batch,
    Change,
    Event,
    Mirror,
    Record,
    Tables,
    apply_changes,
    count_offsets,
    load_tables,
)


def vm(name: str, **extra: Any) -> Record:
    return {"uuid": f"uuid-{name}", "name_label": name, **extra}


def mirror_with(**tables: dict[str, Record]) -> Mirror:
    mirror = Mirror(["VM", "host", "message"])
    for cls, table in tables.items():
        mirror.tables[cls].update(table)
    return mirror


def test_changes_are_computed_against_the_mirror() -> None:
    a, b = vm("a"), vm("b")
    mirror = mirror_with(VM={"r:a": a, "r:b": b})
    changes = mirror.changes_from(
        [
            Event("mod", "VM", "r:a", vm("a", power_state="Running")),  # a real change
            Event("mod", "VM", "r:b", dict(b)),  # touched, unchanged (event.inject)
            Event("mod", "VM", "r:c", vm("c")),  # a mod of an object we never saw: an add
            Event("del", "host", "r:h", None),  # a deletion of an object we never saw
        ]
    )
    assert changes == (
        Change("mod", "VM", "r:a", vm("a", power_state="Running")),
        Change("add", "VM", "r:c", vm("c")),
    )
    assert mirror.get("VM", "r:a") is a  # nothing applied yet


def test_a_deletion_carries_the_last_record_and_add_then_delete_cancels() -> None:
    a = vm("a")
    mirror = mirror_with(VM={"r:a": a})
    changes = mirror.changes_from(
        [
            Event("del", "VM", "r:a", None),
            Event("add", "message", "m:1", {"name": "ALARM"}),
            Event("del", "message", "m:1", None),  # a message created and removed meanwhile
        ]
    )
    assert changes == (Change("del", "VM", "r:a", a),)


def test_each_object_appears_once_in_the_order_of_its_last_event() -> None:
    mirror = mirror_with()
    changes = mirror.changes_from(
        [
            Event("add", "VM", "r:a", vm("a")),
            Event("add", "VM", "r:b", vm("b")),
            Event("mod", "VM", "r:a", vm("a", name_label="renamed")),
        ]
    )
    assert [(c.op, c.ref, c.record["name_label"]) for c in changes] == [
        ("add", "r:b", "b"),
        ("add", "r:a", "renamed"),
    ]


def test_a_diff_holds_only_the_differences() -> None:
    kept, changed = vm("kept"), vm("changed")
    mirror = mirror_with(VM={"r:kept": kept, "r:changed": changed, "r:gone": vm("gone")})
    fresh: Tables = {
        "VM": {
            "r:kept": dict(kept),  # equal, another object: no change
            "r:changed": vm("changed", power_state="Running"),
            "r:new": vm("new"),
        },
        "host": {"r:h": {"uuid": "h"}},
        # "message" missing: an empty class
    }
    changes = mirror.diff(fresh)
    assert [(c.op, c.cls, c.ref) for c in changes] == [
        ("del", "VM", "r:gone"),
        ("mod", "VM", "r:changed"),
        ("add", "VM", "r:new"),
        ("add", "host", "r:h"),
    ]
    mirror.apply(changes)
    assert mirror.tables == {**fresh, "message": {}}
    assert mirror.get("VM", "r:kept") is kept  # unchanged records keep their identity
    assert mirror.diff(fresh) == ()


def test_a_partial_diff_leaves_the_other_classes_alone() -> None:
    mirror = mirror_with(VM={"r:a": vm("a")}, host={"r:h": {"uuid": "h"}})
    changes = mirror.diff({"VM": {"r:b": vm("b")}}, ["VM"])
    assert [(c.op, c.ref) for c in changes] == [("del", "r:a"), ("add", "r:b")]


def test_loading_applies_events_in_order() -> None:
    tables = load_tables(
        ["VM", "message"],
        [
            Event("add", "VM", "r:a", vm("a")),
            Event("add", "message", "m:1", {"name": "A"}),
            Event("add", "message", "m:2", {"name": "B"}),
            Event("del", "message", "m:1", None),
        ],
    )
    assert tables == {"VM": {"r:a": vm("a")}, "message": {"m:2": {"name": "B"}}}


def test_count_offsets_skip_messages_and_unreported_classes() -> None:
    tables: Tables = {
        "VM": {"r:a": vm("a"), "r:b": vm("b")},
        "host": {"r:h": {}},
        "message": {"m:1": {}},
        "SR": {},
    }
    assert count_offsets(tables, {"vm": 2, "host": 1, "message": 0, "sr": 0}) == {}
    assert count_offsets(tables, {"vm": 3, "host": 0}) == {"VM": -1, "host": 1}


def test_batch_helpers() -> None:
    batch = Batch(
        (Change("add", "VM", "r:a", vm("a")), Change("del", "VM", "r:b", vm("b"))), "t", True
    )
    assert len(batch) == 2 and batch.count("add") == 1 and batch.count("mod") == 0


# ---- properties: whatever the events or the load, applying the result gives the right state


REFS = st.sampled_from([f"OpaqueRef:{i}" for i in range(6)])
RECORDS = st.builds(lambda n, p: {"name_label": n, "power_state": p},
                    st.sampled_from("abc"), st.sampled_from(["Halted", "Running"]))  # fmt: skip
CLASSES = st.sampled_from(["VM", "host"])
TABLES = st.fixed_dictionaries(
    {"VM": st.dictionaries(REFS, RECORDS), "host": st.dictionaries(REFS, RECORDS)}
)
EVENTS = st.lists(
    st.one_of(
        st.builds(lambda c, r, rec: Event("mod", c, r, rec), CLASSES, REFS, RECORDS),
        st.builds(lambda c, r: Event("del", c, r, None), CLASSES, REFS),
    ),
    max_size=12,
)


def copy(tables: Tables) -> Tables:
    return {cls: dict(table) for cls, table in tables.items()}


@given(TABLES, EVENTS)
def test_net_changes_replayed_give_the_events_result(start: Tables, events: list[Event]) -> None:
    mirror = mirror_with(**copy(start))
    changes = mirror.changes_from(events)
    expected = copy(start)
    for event in events:  # what the events mean, applied naively
        if event.record is None:
            expected[event.cls].pop(event.ref, None)
        else:
            expected[event.cls][event.ref] = event.record
    replayed = copy(start)
    apply_changes(replayed, changes)
    assert replayed == expected
    assert len({(c.cls, c.ref) for c in changes}) == len(changes)
    for change in changes:
        before = start[change.cls].get(change.ref)
        assert (change.op == "add") == (before is None and change.record is not None)
        if change.op == "mod":
            assert before != change.record
        if change.op == "del":
            assert change.record == before


@given(TABLES, TABLES)
def test_a_diff_replayed_gives_the_load(start: Tables, fresh: Tables) -> None:
    mirror = mirror_with(**copy(start))
    changes = mirror.diff(fresh)
    replayed = {**copy(start), "message": {}}
    apply_changes(replayed, changes)
    assert replayed == {**fresh, "message": {}}
    mirror.apply(changes)
    assert mirror.diff(fresh) == ()
