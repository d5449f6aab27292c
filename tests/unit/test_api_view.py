"""What one SSE client sees of a change (filters, fields, types, rights), the SSE framing, and the
hub's reading of the projection's delta chain: plain values, no sockets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from xorca.api.adapters.hub import Change, _Chain
from xorca.api.core.acl import Principal, can
from xorca.api.core.fields import parse_fields
from xorca.api.core.query import parse_query
from xorca.api.core.sse import frame, json_frame
from xorca.api.core.view import View, parse_types

ADMIN = Principal("token:a", "ci", "admin")
WEB = {"id": "v1", "type": "vm", "name_label": "web-1", "power_state": "Running",
       "memory": {"actual": 1, "max": 8}}  # fmt: skip


def change(op: str, old: dict[str, Any] | None, new: dict[str, Any] | None, **kw: Any) -> Change:
    return Change(
        "vm", "v1", "p", kw.pop("rev", 7), op, kw.pop("commit", 7), kw.pop("complete", None),
        None if old is None else orjson.dumps(old),
        None if new is None else orjson.dumps(new),
        kw.pop("patch", None),
    )  # fmt: skip


def test_everything_passes_whole_for_a_client_without_filter():
    view = View(ADMIN)
    assert view.trivial
    patched = view.event_for(change("patch", WEB, WEB, patch={"memory": {"actual": 2}}))
    assert patched is not None and patched.event == "patch"
    assert patched.body == {"type": "vm", "id": "v1", "rev": 7, "patch": {"memory": {"actual": 2}}}
    put = view.event_for(change("put", None, WEB))
    assert put is not None and put.body["data"] == {**WEB, "rev": 7}
    gone = view.event_for(change("del", WEB, None))
    assert gone is not None and gone.event == "del"


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("Running", "Running", "patch"),  # still matches: the patch
        ("Halted", "Running", "put"),  # starts to match: the whole object
        ("Running", "Halted", "del"),  # stops matching: as if gone
        ("Halted", "Paused", None),  # never matched: nothing
    ],
)
def test_a_filter_turns_patches_into_puts_and_dels(
    before: str, after: str, expected: str | None
) -> None:
    view = View(ADMIN, query=parse_query("power_state:Running"))
    old, new = {**WEB, "power_state": before}, {**WEB, "power_state": after}
    event = view.event_for(change("patch", old, new, patch={"power_state": after}))
    assert (event.event if event else None) == expected
    if event is not None and event.event == "put":
        assert event.body["data"]["power_state"] == "Running"


def test_fields_trim_puts_and_patches_and_drop_what_is_not_asked_for():
    view = View(ADMIN, fields=parse_fields("name_label"))
    renamed = view.event_for(change("patch", WEB, {**WEB, "name_label": "x"},
                                    patch={"name_label": "x"}))  # fmt: skip
    assert renamed is not None and renamed.body["patch"] == {"name_label": "x"}
    metric = change("patch", WEB, {**WEB, "memory": {"actual": 3, "max": 8}},
                    patch={"memory": {"actual": 3}})  # fmt: skip
    assert view.event_for(metric) is None
    put = view.event_for(change("put", None, WEB))
    assert put is not None and put.body["data"] == {"id": "v1", "type": "vm",
                                                    "name_label": "web-1", "rev": 7}  # fmt: skip


def test_types_select_and_collections_name_them_too():
    assert parse_types("vm, hosts") == frozenset({"vm", "host"})
    assert parse_types("") is None
    with pytest.raises(ValueError, match="spaceship"):
        parse_types("vm,spaceship")
    view = View(ADMIN, types=frozenset({"host"}))
    assert view.event_for(change("put", None, WEB)) is None


def test_rights_are_asked_of_the_one_seam():
    viewer = Principal("token:v", "viewer", "viewer")
    assert can(viewer, "read", WEB) and not can(viewer, "operate", WEB)
    assert can(ADMIN, "administer", WEB)
    assert not View(viewer).trivial  # a viewer's events go through the rights check


def test_sse_framing():
    assert frame("put", b'{"a":1}', 12) == b'event: put\nid: 12\ndata: {"a":1}\n\n'
    assert frame("patch", b"{}") == b"event: patch\ndata: {}\n\n"
    assert b"\n" not in json_frame("ping", {"text": "a\nb"}).split(b"data: ")[1][:-2]


def test_the_chain_of_deltas_tells_a_gap():
    chain = _Chain()
    assert chain.follows("ab:5")  # the first one sets the baseline
    assert chain.follows("ab:6")
    assert not chain.follows("ab:8")  # 7 was lost
    assert chain.follows("ab:9")
    assert not chain.follows("cd:1")  # the projection restarted
    assert not chain.follows("garbage")
