"""Checking ``event.from`` answers: good ones become events, bad ones a typed error naming the
call, never anything else."""

from __future__ import annotations

from typing import Any

import pytest

from xorca.xapi.datamodel import datamodel
from xorca.xapi.errors import ProtocolError
from xorca.xapi.watcher import EVENTLESS, Event, Schema, default_classes, parse_answer
from xorca.xapi_sim.handlers.event import parse_subscriptions

SCHEMA = Schema.for_classes(["VM", "host", "message"])


def answer(*events: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"events": list(events), "valid_ref_counts": {"vm": 1}, "token": "t1", **extra}


def event(
    cls: str = "vm", op: str = "add", ref: str = "OpaqueRef:a", **extra: Any
) -> dict[str, Any]:
    ev: dict[str, Any] = {"id": "1", "timestamp": "0.0", "class": cls, "operation": op, "ref": ref}
    if op != "del":
        ev["snapshot"] = {"uuid": "u", "name_label": "a"}
    ev.update(extra)
    return ev


def test_a_good_answer() -> None:
    parsed = parse_answer(
        answer(event(), event("host", "mod"), event("message", "del", "OpaqueRef:m")),
        SCHEMA,
    )
    assert parsed.token == "t1" and parsed.counts == {"vm": 1}
    assert parsed.events == [
        Event("add", "VM", "OpaqueRef:a", {"uuid": "u", "name_label": "a"}),
        Event("mod", "host", "OpaqueRef:a", {"uuid": "u", "name_label": "a"}),
        Event("del", "message", "OpaqueRef:m", None),
    ]


def test_classes_in_any_case_and_xmlrpc_counts() -> None:
    parsed = parse_answer(answer(event("VM"), valid_ref_counts={"vm": "3"}), SCHEMA)
    assert parsed.events[0].cls == "VM" and parsed.counts == {"vm": 3}
    assert parse_answer(answer(valid_ref_counts=None), SCHEMA).counts is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ([], "expected a struct, got list"),
        ({"events": [], "token": 7}, "token is int"),
        ({"events": {}, "token": "t"}, "'events' is dict"),
        (answer("not an event"), "an event is str"),  # type: ignore[arg-type]
        (answer(event(cls=None)), "class None"),  # type: ignore[arg-type]
        (answer(event("flux_capacitor")), "unknown class 'flux_capacitor'"),
        (answer(event("SR")), "class SR, which is not subscribed"),
        (answer(event(op="touch")), "operation 'touch'"),
        (answer(event(ref="")), "ref ''"),
        (answer(event(ref=3)), "ref 3"),  # type: ignore[arg-type]
        (answer(event(snapshot=["uuid"])), "list snapshot"),
        (
            answer(event(snapshot={"uuid": "u", "warp_factor": 9})),
            "unknown field(s) ['warp_factor']",
        ),
        (answer(valid_ref_counts=[1]), "valid_ref_counts is list"),
        (answer(valid_ref_counts={"vm": -1}), "valid_ref_counts['vm'] is -1"),
        (answer(valid_ref_counts={"vm": True}), "valid_ref_counts['vm'] is True"),
    ],
)
def test_bad_answers_are_typed_errors_naming_the_call(value: object, says: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_answer(value, SCHEMA)
    assert info.value.method == "event.from"
    assert says in info.value.message


def test_unknown_fields_may_be_kept() -> None:
    lenient = Schema.for_classes(["VM"], strict_fields=False)
    parsed = parse_answer(answer(event(snapshot={"uuid": "u", "warp_factor": 9})), lenient)
    assert parsed.events[0].record == {"uuid": "u", "warp_factor": 9}


def test_missing_fields_are_not_an_error() -> None:
    parsed = parse_answer(answer(event(snapshot={})), SCHEMA)  # an older host's record
    assert parsed.events[0].record == {}


def test_schema_classes() -> None:
    assert Schema.for_classes(["vm", "VM", "Host"]).classes == ("VM", "host")
    with pytest.raises(ValueError, match="no XAPI class 'vms'"):
        Schema.for_classes(["vms"])
    with pytest.raises(ValueError, match="at least one"):
        Schema.for_classes([])


def test_the_default_classes_are_what_star_subscribes_to() -> None:
    """The simulator's ``*`` follows xapi's gen_events; the watcher subscribes to the same
    classes by name (so that a newer host's unknown classes never reach it), but the static
    ``role`` table."""
    classes = default_classes()
    assert "message" in classes and "VM" in classes and "session" not in classes
    star = parse_subscriptions(["*"])[0]
    served = {c for c in datamodel().classes if star.matches(c.lower(), "")}
    assert set(classes) == served - {"role"}
    assert not EVENTLESS & {c.lower() for c in classes}
    assert Schema.for_classes(None).classes == classes
