"""``event.from``'s pure core: tokens, subscriptions, coalescing, order (XAPI.md §2)."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from xorca.xapi.errors import XapiError
from xorca.xapi_sim.handlers.event import (
    collect,
    format_token,
    parse_subscriptions,
    parse_token,
    select,
)
from xorca.xapi_sim.state.db import Database


def _collect(
    db: Database, classes: list[str], since: int, msg_since: int = 0
) -> list[dict[str, Any]]:
    return collect(db, select(db.dm, parse_subscriptions(classes)), since, msg_since).events


def test_tokens_round_trip() -> None:
    assert parse_token("") == (0, 0)
    assert format_token(12, 3) == "00000000000000000012,00000000000000000003"
    assert parse_token(format_token(12, 3)) == (12, 3)
    assert parse_token("12,3") == (12, 3)  # xapi reads numbers, not the padded form
    for bad in ("x", "00000000000000000012", "1,2,3", ",", "1,"):
        with pytest.raises(XapiError) as info:
            parse_token(bad)
        assert info.value.description == ["EVENT_FROM_TOKEN_PARSE_FAILURE", bad]


def test_subscriptions_match_case_insensitively_and_never_fail() -> None:
    star, vm, one, unknown, empty = parse_subscriptions(
        ["*", "VM", "vm/OpaqueRef:x", "nope", "vm/"]
    )
    assert star.matches("vm", "r") and not star.matches("session", "r")
    assert vm.matches("vm", "any") and not vm.matches("host", "any")
    assert one.matches("vm", "OpaqueRef:x") and not one.matches("vm", "OpaqueRef:y")
    assert not unknown.matches("vm", "r") and not empty.matches("vm", "OpaqueRef:x")
    assert empty.matches("vm", "")  # an object with an empty ref: no row has one


def test_collect_coalesces_and_orders_as_xapi() -> None:
    db = Database()
    old = db.create("VM", name_label="old")
    gone = db.create("VM", name_label="gone")
    token = db.generation
    db.update("VM", old, name_label="renamed")
    db.update("VM", old, name_label="renamed twice")
    new = db.create("VM", name_label="new")
    db.update("VM", new, name_label="new, modified")
    db.destroy("VM", gone)
    flash = db.create("VM")
    db.destroy("VM", flash)
    events = _collect(db, ["vm"], token)
    # additions, then modifications, then deletions (xapi_event.ml from_inner)
    assert [(e["ref"], e["operation"]) for e in events] == [
        (new, "add"),
        (old, "mod"),
        (gone, "del"),
    ]
    assert events[1]["snapshot"]["name_label"] == "renamed twice"
    assert events[0]["id"] == str(db.row("VM", new).ctime)
    assert events[1]["id"] == str(db.row("VM", old).mtime)
    assert "snapshot" not in events[2]


def test_within_a_kind_tables_go_in_datamodel_order_then_refs_in_order() -> None:
    db = Database()
    refs = [f"OpaqueRef:{c}" for c in "dbca"]
    for ref in refs:
        db.create("VM", ref)
    db.create("host", "OpaqueRef:0")  # host comes after VM in the datamodel
    task = db.create("task", "OpaqueRef:z")  # task before VM
    events = _collect(db, ["*"], 0)
    order = [e["ref"] for e in events]
    assert order == [task, *sorted(refs), "OpaqueRef:0"]


def test_deletions_go_newest_first() -> None:
    db = Database()
    a, b = db.create("VM"), db.create("VM")
    token = db.generation
    db.destroy("VM", a)
    db.destroy("VM", b)
    assert [e["ref"] for e in _collect(db, ["vm"], token)] == [b, a]


def test_the_token_is_the_newest_generation_looked_at() -> None:
    db = Database()
    vm = db.create("VM")
    db.create("host")
    sel = select(db.dm, parse_subscriptions(["vm"]))
    assert collect(db, sel, 0, 0).generation == db.row("VM", vm).mtime  # not the host's
    later = db.generation
    assert collect(db, sel, later, 0).generation == later  # nothing: the same token
    db.create("session")  # eventless: moves nothing
    assert collect(db, select(db.dm, parse_subscriptions(["*"])), later, 0).generation == later


def test_messages_come_first_with_id_zero() -> None:
    db = Database()
    vm = db.create("VM")
    ref = db.add_message({"name": "ALARM"})
    events = _collect(db, ["*"], 0)
    assert [(e["class"], e["ref"]) for e in events] == [("message", ref), ("vm", vm)]
    assert events[0] == {
        "id": "0",
        "timestamp": "0.0",
        "class": "message",
        "operation": "add",
        "ref": ref,
        "snapshot": {"name": "ALARM"},
    }
    db.destroy_message(ref)
    events = _collect(db, ["message"], db.generation, 1)
    assert [(e["ref"], e["operation"]) for e in events] == [(ref, "del")]


def test_a_message_made_and_destroyed_since_the_token_is_only_a_del() -> None:
    db = Database()
    kept = db.add_message({"name": "A"})
    token = db.message_generation
    flash = db.add_message({"name": "B"})
    db.destroy_message(flash)
    late = db.add_message({"name": "C"})
    batch = collect(db, select(db.dm, parse_subscriptions(["message"])), 0, token)
    assert [(e["ref"], e["operation"]) for e in batch.events] == [(flash, "del"), (late, "add")]
    assert kept not in {e["ref"] for e in batch.events}
    assert batch.message_generation == db.message_generation
    assert batch.generation == 0


def test_a_first_call_returns_every_message_and_the_deletions_remembered() -> None:
    db = Database()
    db.message_log = deque(maxlen=4)  # only the newest changes are kept
    refs = [db.add_message({"name": f"ALARM {i}"}) for i in range(5)]
    db.destroy_message(refs[0])
    events = _collect(db, ["message"], 0)
    assert [(e["ref"], e["operation"]) for e in events] == [
        (refs[0], "del"),
        *[(r, "add") for r in refs[1:]],
    ]


def test_messages_only_when_the_message_table_may_be_selected() -> None:
    db = Database()
    db.add_message({"name": "ALARM"})
    for classes in (["message/OpaqueRef:other"], ["MESSAGE"], ["*"]):
        assert len(_collect(db, classes, 0)) == 1, classes
    batch = collect(db, select(db.dm, parse_subscriptions(["vm"])), 0, 0)
    assert batch.events == [] and batch.message_generation == 0
