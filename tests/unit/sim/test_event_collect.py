"""``event.from``'s pure core: tokens, subscriptions, coalescing (XAPI.md §2)."""

from __future__ import annotations

import pytest

from xorca.xapi.errors import XapiError
from xorca.xapi_sim.handlers.event import collect, format_token, parse_subscriptions, parse_token
from xorca.xapi_sim.state.db import Database


def test_tokens() -> None:
    assert parse_token("") == (0, 0)
    assert format_token(12, 3) == "00000000000000000012,00000000000000000003"
    assert parse_token(format_token(12, 3)) == (12, 3)
    for bad in ("12,3", "x", "00000000000000000012"):
        with pytest.raises(XapiError) as info:
            parse_token(bad)
        assert info.value.description == ["EVENT_FROM_TOKEN_PARSE_FAILURE", bad]


def test_subscriptions() -> None:
    db = Database()
    subs = parse_subscriptions(db, ["*", "VM", "vm/OpaqueRef:x"])
    assert subs[0].matches("vm", "r") and not subs[0].matches("session", "r")
    assert subs[1].matches("vm", "any") and not subs[1].matches("host", "any")
    assert subs[2].matches("vm", "OpaqueRef:x") and not subs[2].matches("vm", "OpaqueRef:y")
    for bad in ("nope", "vm/"):
        with pytest.raises(XapiError) as info:
            parse_subscriptions(db, [bad])
        assert info.value.description == ["EVENT_SUBSCRIPTION_PARSE_FAILURE", bad]


def test_collect_coalesces_and_orders_oldest_first() -> None:
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
    events = collect(db, parse_subscriptions(db, ["vm"]), token, 0)
    assert [(e["ref"], e["operation"]) for e in events] == [
        (old, "mod"),
        (new, "add"),
        (gone, "del"),
    ]
    assert events[0]["snapshot"]["name_label"] == "renamed twice"  # type: ignore[index]
    assert events[1]["id"] == str(db.row("VM", new).ctime)
    assert "snapshot" not in events[2]
    ids = [int(str(e["id"])) for e in events]
    assert ids == sorted(ids)


def test_messages_come_after_rows_with_id_zero() -> None:
    db = Database()
    ref = db.add_message({"name": "ALARM"})
    events = collect(db, parse_subscriptions(db, ["*"]), db.generation, 0)
    assert events == [
        {
            "id": "0",
            "timestamp": "0.0",
            "class": "message",
            "operation": "add",
            "ref": ref,
            "snapshot": {"name": "ALARM"},
        }
    ]
    db.destroy_message(ref)
    events = collect(db, parse_subscriptions(db, ["message"]), db.generation, 1)
    assert [(e["ref"], e["operation"]) for e in events] == [(ref, "del")]


def test_a_first_call_returns_every_message_even_past_the_log() -> None:
    from collections import deque

    db = Database()
    db.message_log = deque(maxlen=2)  # only the newest changes are kept for incremental calls
    refs = [db.add_message({"name": f"ALARM {i}"}) for i in range(5)]
    events = collect(db, parse_subscriptions(db, ["message"]), 0, 0)
    assert sorted(str(e["ref"]) for e in events) == sorted(refs)
