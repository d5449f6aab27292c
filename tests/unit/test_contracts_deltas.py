"""Deltas and JSON merge patches (RFC 7386): the projection's live feed, as plain values."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xorca.contracts import merge_patch
from xorca.contracts.deltas import (
    OBJECT_TYPES,
    ObjectProjected,
    collection_type,
    decode_delta,
    delta_subject,
    encode_delta,
)
from xorca.contracts.errors import InvalidSubject, MalformedMessage

# JSON without null: what client objects are made of
scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=5), st.floats(allow_nan=False)
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.text(max_size=4), documents, max_size=6)


@given(objects, objects)
def test_a_patch_turns_the_old_version_into_the_new(old: dict[str, Any], new: dict[str, Any]):
    patch = merge_patch.diff(old, new)
    assert merge_patch.apply(old, patch) == new
    assert (patch == {}) == (old == new)


@given(objects)
def test_apply_does_not_change_its_arguments(old: dict[str, Any]):
    before = orjson.dumps(old)
    merge_patch.apply(old, {"x": {"y": None}, "z": 1})
    assert orjson.dumps(old) == before


def test_rfc_7386_examples():
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
              "tags": ["example", "sample"], "content": "This will be unchanged"}  # fmt: skip
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890",
             "author": {"familyName": None}, "tags": ["example"]}  # fmt: skip
    assert merge_patch.apply(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890",
    }
    assert merge_patch.apply({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch.apply({"a": "foo"}, None) is None
    assert merge_patch.apply({"e": None}, {"a": 1}) == {"e": None, "a": 1}


def test_a_metric_change_is_a_small_patch():
    old = {"id": "u", "memory": {"actual": 1 << 30, "max": 4 << 30}, "tags": ["a"]}
    new = {"id": "u", "memory": {"actual": 2 << 30, "max": 4 << 30}, "tags": ["a"]}
    assert merge_patch.diff(old, new) == {"memory": {"actual": 2 << 30}}
    assert merge_patch.diff(old, {"id": "u"}) == {"memory": None, "tags": None}


def test_every_type_has_a_collection_and_a_subject():
    for type_, collection in OBJECT_TYPES.items():
        assert collection_type(collection) == type_
        assert delta_subject(type_) == f"xorca.v1.delta.{type_}"
    assert collection_type("nope") is None
    with pytest.raises(InvalidSubject):
        delta_subject("vm.*")


@pytest.mark.parametrize(
    "delta",
    [
        ObjectProjected(op="put", type="vm", id="u1", pool="p", rev=7, data={"a": 1}),
        ObjectProjected(op="patch", type="host", id="u2", pool="p", rev=8, patch={"a": None}),
        ObjectProjected(op="del", type="pool-status", id="demo-1", rev=9),
    ],
)
def test_deltas_round_trip(delta: ObjectProjected):
    message = encode_delta(delta, commit=12, chain="ab12:3")
    assert message.headers == {"Xorca-Op": delta.op, "Xorca-Rev": str(delta.rev),
                               "Xorca-Commit": "12", "Xorca-Chain": "ab12:3"}  # fmt: skip
    assert decode_delta(message.subject, message.body) == delta


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("xorca.v1.delta.vm", b"{not json"),
        ("xorca.v1.delta.vm", b'{"op": "put", "type": "host", "id": "x", "rev": 1}'),
        ("xorca.v1.delta.vm", b'{"op": "upsert", "type": "vm", "id": "x", "rev": 1}'),
        ("xorca.v1.delta.vm", b'{"op": "put", "type": "vm", "id": "x", "rev": 0}'),
        ("xorca.v1.delta.spaceship", b'{"op": "put", "type": "vm", "id": "x", "rev": 1}'),
    ],
)
def test_bad_deltas_are_refused_with_a_reason(subject: str, body: bytes):
    with pytest.raises(MalformedMessage, match=subject.replace(".", r"\.")):
        decode_delta(subject, body)
