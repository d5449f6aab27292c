"""Object changes, statuses and audit records: the msg-id chain, encode/decode, every refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from xorca.contracts.audit import CommandAudited, decode_audit, encode_audit
from xorca.contracts.base import ErrorBody
from xorca.contracts.errors import MalformedMessage
from xorca.contracts.log_entries import decode_log_entry
from xorca.contracts.msgid import GENESIS, MSG_ID_LENGTH, next_msg_id
from xorca.contracts.objects import ObjectChanged, decode_object, encode_object, msg_id_of
from xorca.contracts.status import PoolStatusChanged, decode_status, encode_status

POOL = "3a1c5e0e-9c8f-4f8e-b1a4-2b7d6f0c9e11"
VM = "0f3b8d2a-6c1e-4e57-9d0a-5b2c7e8f1a34"
AT = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def change(op: str = "mod", **record: object) -> ObjectChanged:
    return ObjectChanged(
        pool=POOL,
        xapi_class="VM",
        uuid=VM,
        ref="OpaqueRef:1",
        op=op,  # type: ignore[arg-type]
        record={"uuid": VM, **record},
    )


# ---- msg ids ----------------------------------------------------------------------------------


def test_same_change_after_same_previous_is_the_same_id() -> None:
    first = next_msg_id("s", "p", "mod", b"{}")
    assert first == next_msg_id("s", "p", "mod", b"{}")
    assert len(first) == MSG_ID_LENGTH
    assert all(c in "0123456789abcdef" for c in first)


def test_a_b_a_gets_three_different_ids() -> None:
    a1 = next_msg_id("s", GENESIS, "add", b'{"x":1}')
    b = next_msg_id("s", a1, "mod", b'{"x":2}')
    a2 = next_msg_id("s", b, "mod", b'{"x":1}')
    assert len({a1, b, a2}) == 3


@pytest.mark.parametrize(
    ("subject", "previous", "op", "body"),
    [("t", "p", "mod", b"{}"), ("s", "q", "mod", b"{}"), ("s", "p", "del", b"{}")],
)
def test_every_input_changes_the_id(subject: str, previous: str, op: str, body: bytes) -> None:
    assert next_msg_id(subject, previous, op, body) != next_msg_id("s", "p", "mod", b"{}")


def test_parts_cannot_slide_into_each_other() -> None:
    # without separators "ab"+"c" and "a"+"bc" would hash alike
    assert next_msg_id("s", "ab", "c", b"") != next_msg_id("s", "a", "bc", b"")


# ---- object changes ---------------------------------------------------------------------------


def test_encode_then_decode_gives_the_change_back() -> None:
    original = change(name_label="web-01", tags=["prod"])
    message = encode_object(original, "prev")
    assert message.subject == f"xorca.v1.obj.{POOL}.vm.{VM}"
    assert orjson.loads(message.body) == original.record
    assert message.headers == {
        "Xorca-Op": "mod",
        "Xorca-Ref": "OpaqueRef:1",
        "Xorca-Pool": POOL,
        "Xorca-Class": "vm",
        "Nats-Msg-Id": next_msg_id(message.subject, "prev", "mod", message.body),
    }
    assert decode_object(message.subject, message.headers, message.body) == original
    assert msg_id_of(message.headers) == message.headers["Nats-Msg-Id"]


def test_del_rolls_the_subject_up_and_expires() -> None:
    message = encode_object(change("del"), "prev", tombstone_ttl=3600.7)
    assert message.headers["Nats-Rollup"] == "sub"
    assert message.headers["Nats-TTL"] == "3600"
    without_ttl = encode_object(change("del"), "prev", tombstone_ttl=None)
    assert "Nats-TTL" not in without_ttl.headers
    assert "Nats-Rollup" not in encode_object(change("mod"), "prev", tombstone_ttl=60).headers


def test_del_with_no_known_record_has_an_empty_body() -> None:
    gone = ObjectChanged(pool=POOL, xapi_class="vm", uuid=VM, ref="OpaqueRef:1", op="del")
    message = encode_object(gone, "prev")
    assert message.body == b"{}"
    assert decode_object(message.subject, message.headers, message.body).record == {}


@pytest.mark.parametrize(
    ("headers", "body", "why"),
    [
        ({"Xorca-Op": "upsert", "Xorca-Ref": "r"}, b"{}", "Xorca-Op"),
        ({"Xorca-Ref": "r"}, b"{}", "Xorca-Op"),
        ({"Xorca-Op": "mod", "Xorca-Ref": "r"}, b"{not json", "not JSON"),
        ({"Xorca-Op": "mod", "Xorca-Ref": "r"}, b"[1, 2]", "not a JSON object"),
        ({"Xorca-Op": "mod", "Xorca-Ref": "r", "Xorca-Pool": "other"}, b"{}", "disagrees"),
        ({"Xorca-Op": "mod", "Xorca-Ref": "r", "Xorca-Class": "sr"}, b"{}", "disagrees"),
        ({"Xorca-Op": "mod"}, b"{}", "at least 1 character"),
    ],
)
def test_decode_refuses_malformed_messages(headers: dict[str, str], body: bytes, why: str) -> None:
    with pytest.raises(MalformedMessage, match=why):
        decode_object(f"xorca.v1.obj.{POOL}.vm.{VM}", headers, body)


def test_decode_refuses_a_subject_outside_the_objects() -> None:
    with pytest.raises(MalformedMessage):
        decode_object(f"xorca.v1.cmd.{POOL}", {"Xorca-Op": "mod"}, b"{}")
    with pytest.raises(MalformedMessage):
        decode_log_entry("xorca.v1.audit.x", {}, b"{}")


def test_object_model_refuses_bad_tokens() -> None:
    with pytest.raises(ValueError, match="contains"):
        ObjectChanged(pool="a.b", xapi_class="vm", uuid=VM, ref="OpaqueRef:1", op="add")


# ---- statuses ---------------------------------------------------------------------------------


def status(**fields: object) -> PoolStatusChanged:
    values: dict[str, object] = {
        "registry_id": "entry-1",
        "pool_uuid": POOL,
        "state": "disconnected",
        "since": AT,
        "master": "192.0.2.10",
        "error": ErrorBody(code="XORCA_CONNECTION_FAILED", params=["event.from"]),
        "collector": "c0",
        "at": AT,
        **fields,
    }
    return PoolStatusChanged.model_validate(values)


def test_status_round_trip_through_the_log_decoder() -> None:
    original = status()
    message = encode_status(original)
    assert message.subject == "xorca.v1.status.entry-1"
    assert message.headers == {}
    decoded = decode_log_entry(message.subject, None, message.body)
    assert decoded == original
    assert not original.is_current
    assert status(state="synced", error=None).is_current


def test_a_field_from_a_later_v1_is_ignored() -> None:
    body = orjson.loads(encode_status(status()).body)
    body["uptime"] = 12
    assert decode_status("xorca.v1.status.entry-1", orjson.dumps(body)) == status()


def test_status_leaves_out_what_is_unknown() -> None:
    body = orjson.loads(encode_status(status(pool_uuid=None, master=None, error=None)).body)
    assert "pool_uuid" not in body
    assert "master" not in body


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("xorca.v1.status.other", None),  # subject and body disagree
        ("xorca.v1.status.entry-1", b'{"state": "synced"}'),  # fields missing
        ("xorca.v1.status.a.b", None),  # bad subject
    ],
)
def test_status_decode_refusals(subject: str, body: bytes | None) -> None:
    with pytest.raises(MalformedMessage):
        decode_status(subject, body or encode_status(status()).body)


def test_status_refuses_unknown_state_and_naive_times() -> None:
    with pytest.raises(ValueError, match="state"):
        status(state="sleeping")
    with pytest.raises(ValueError, match="timezone"):
        status(since=datetime(2026, 1, 1))  # naive: the point of the test


# ---- audit ------------------------------------------------------------------------------------


def test_audit_round_trip_and_its_msg_id() -> None:
    record = CommandAudited(
        request_id="req-1",
        actor="user:alice",
        method="VM.start",
        args=["OpaqueRef:1", False, False],
        pool=POOL,
        outcome="accepted",
        task="OpaqueRef:t",
        at=AT,
    )
    message = encode_audit(record)
    assert message.subject == f"xorca.v1.audit.{POOL}"
    assert message.headers == {"Nats-Msg-Id": f"audit.{POOL}.req-1"}
    assert decode_audit(message.subject, message.body) == record
    with pytest.raises(MalformedMessage, match="about pool"):
        decode_audit("xorca.v1.audit.other", message.body)
    with pytest.raises(MalformedMessage):
        decode_audit(message.subject, b'{"outcome": "maybe"}')
