"""Commands are refused before XAPI for every kind of bad input, with XAPI-shaped errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from xorca.contracts.commands import (
    ALLOWED,
    ALLOWED_METHODS,
    Command,
    CommandAccepted,
    CommandFailed,
    allowed_method,
    allowed_methods,
    ensure_managed,
    failed,
    parse_command,
    parse_reply,
    request_id_of,
    validate,
)
from xorca.contracts.errors import CommandRejected, MalformedMessage

VM = "OpaqueRef:5e2a7c1d-0b9f-4d3e-8a6c-7f1e2d3c4b5a"
HOST = "OpaqueRef:9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
VDI = "OpaqueRef:1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


def cmd(method: str, *args: Any) -> Command:
    return Command(method=method, args=list(args), actor="user:alice", request_id="req-1")


def rejected(method: str, *args: Any) -> tuple[str, list[str]]:
    with pytest.raises(CommandRejected) as caught:
        validate(cmd(method, *args))
    return caught.value.code, caught.value.params


# ---- the allow-list -------------------------------------------------------------------------


def test_every_allowed_method_exists_in_the_datamodel() -> None:
    methods = allowed_methods()
    assert sorted(methods) == list(ALLOWED_METHODS)
    assert len(methods) == sum(len(names) for names in ALLOWED.values())
    for name, method in methods.items():
        assert method.wire == name
        assert all(p.name != "session_id" for p in method.params)


@pytest.mark.parametrize(
    ("method", "asynchronous"),
    [
        ("VM.start", True),
        ("VM.destroy", True),  # implicit, but XAPI has Async.VM.destroy
        ("VDI.create", True),
        ("VM.set_name_label", False),  # generated setters have no Async form
        ("host.add_tags", False),
        ("task.cancel", False),  # task's messages are never async
    ],
)
def test_which_methods_run_as_tasks(method: str, asynchronous: bool) -> None:
    assert allowed_method(method).asynchronous is asynchronous


def test_signature_for_documentation() -> None:
    assert allowed_method("VM.start").signature() == (
        "VM.start(vm: VM ref, start_paused: bool, force: bool)"
    )
    assert "= default" in allowed_method("VDI.snapshot").signature()


# ---- good commands --------------------------------------------------------------------------


def test_valid_arguments_come_back_coerced() -> None:
    assert validate(cmd("VM.start", VM, False, True)) == (VM, False, True)
    assert validate(cmd("VM.start_on", VM, HOST, False, False)) == (VM, HOST, False, False)
    assert validate(cmd("VDI.resize", VDI, 1 << 40)) == (VDI, 1 << 40)
    # 64-bit ints may come as text, since JavaScript cannot carry them all
    assert validate(cmd("VDI.resize", VDI, "17179869184")) == (VDI, 17179869184)
    assert validate(cmd("VM.pool_migrate", VM, HOST, {"live": "true"})) == (
        VM,
        HOST,
        {"live": "true"},
    )
    assert validate(cmd("VM.set_name_label", VM, "web-01")) == (VM, "web-01")
    assert validate(cmd("task.cancel", "OpaqueRef:NULL")) == ("OpaqueRef:NULL",)


def test_an_optional_trailing_parameter_may_be_left_out() -> None:
    assert validate(cmd("VDI.snapshot", VDI)) == (VDI,)
    assert validate(cmd("VDI.snapshot", VDI, {"k": "v"})) == (VDI, {"k": "v"})


def test_a_constructor_record_is_checked_field_by_field() -> None:
    record = {
        "VM": VM,
        "VDI": VDI,
        "mode": "rw",
        "type": "Disk",
        "bootable": True,
        "userdevice": "0",
    }
    (checked,) = validate(cmd("VBD.create", record))
    assert checked["mode"] == "RW"  # enums are read case-insensitively, sent in XAPI's spelling
    assert checked["bootable"] is True


# ---- every refusal --------------------------------------------------------------------------


def test_unknown_method() -> None:
    assert rejected("VM.get_all_records") == ("MESSAGE_METHOD_UNKNOWN", ["VM.get_all_records"])
    assert rejected("session.logout") == ("MESSAGE_METHOD_UNKNOWN", ["session.logout"])
    assert rejected("vm.start", VM, False, False)[0] == "MESSAGE_METHOD_UNKNOWN"  # exact spelling
    assert rejected("Async.VM.start", VM, False, False)[0] == "MESSAGE_METHOD_UNKNOWN"


def test_wrong_argument_count() -> None:
    assert rejected("VM.start", VM) == ("MESSAGE_PARAMETER_COUNT_MISMATCH", ["VM.start", "3", "1"])
    assert rejected("VM.start", VM, False, False, True)[1] == ["VM.start", "3", "4"]
    assert rejected("VDI.snapshot")[1] == ["VDI.snapshot", "2", "0"]


@pytest.mark.parametrize(
    ("method", "args", "param"),
    [
        ("VM.start", [VM, "yes", False], "start_paused"),  # bool as text
        ("VM.start", [VM, 1, False], "start_paused"),  # bool as int
        ("VM.start", ["vm-name", False, False], "vm"),  # not a ref
        ("VM.start", ["", False, False], "vm"),
        ("VM.start", ["OpaqueRef:a b", False, False], "vm"),
        ("VM.start", [None, False, False], "vm"),
        ("VDI.resize", [VDI, 1.5], "size"),  # int as float
        ("VDI.resize", [VDI, True], "size"),  # int as bool
        ("VDI.resize", [VDI, "12GB"], "size"),
        ("VDI.resize", [VDI, 2**63], "size"),  # beyond int64
        ("VM.set_name_label", [VM, 42], "value"),
        ("VM.pool_migrate", [VM, HOST, {"live": True}], "options"),  # map of strings
        ("VM.pool_migrate", [VM, HOST, ["live"]], "options"),
        ("VBD.create", ["not a record"], "args"),
        ("VBD.create", [{"bootable": "yes"}], "args.bootable"),
    ],
)
def test_wrong_types(method: str, args: list[Any], param: str) -> None:
    assert rejected(method, *args) == ("FIELD_TYPE_ERROR", [param])


def test_value_outside_an_enum() -> None:
    assert rejected("VBD.create", {"mode": "RX"}) == ("INVALID_VALUE", ["args.mode", "RX"])


def test_unknown_field_in_a_constructor_record() -> None:
    assert rejected("VDI.create", {"virtual_sise": 1}) == (
        "XORCA_UNKNOWN_FIELD",
        ["args", "virtual_sise"],
    )


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (b'{"method": "VM.start", "args": [], "request_id": "r"}', "actor"),
        (b'{"method": "VM.start", "args": {}, "actor": "a", "request_id": "r"}', "args"),
        (b'{"method": "VM.start", "actor": "a", "request_id": "r r"}', "request_id"),
        (b'{"method": "", "actor": "a", "request_id": "r"}', "method"),
        (b'{"method": "VM.start", "actor": "a", "request_id": "r", "session": "s"}', "session"),
    ],
)
def test_malformed_bodies(body: bytes, where: str) -> None:
    with pytest.raises(CommandRejected) as caught:
        parse_command(body)
    assert caught.value.code == "XORCA_MALFORMED_COMMAND"
    assert caught.value.params[0].startswith(where)


def test_foreign_pool() -> None:
    ensure_managed("p1", {"p1", "p2"})
    with pytest.raises(CommandRejected) as caught:
        ensure_managed("p9", {"p1", "p2"})
    assert (caught.value.code, caught.value.params) == ("XORCA_POOL_NOT_MANAGED", ["p9"])


# ---- replies --------------------------------------------------------------------------------


def test_refusal_reply_echoes_the_request_id_even_from_a_bad_body() -> None:
    body = b'{"method": 7, "request_id": "req-9"}'
    with pytest.raises(CommandRejected) as caught:
        parse_command(body)
    reply = failed(request_id_of(body), caught.value)
    decoded = parse_reply(reply.to_json())
    assert isinstance(decoded, CommandFailed)
    assert decoded.request_id == "req-9"
    assert decoded.error.code == "XORCA_MALFORMED_COMMAND"
    assert request_id_of(b"nope") is None
    assert request_id_of(b'{"request_id": "a b"}') is None


def test_replies_parse_to_their_kind() -> None:
    accepted = parse_reply(b'{"request_id": "r", "task": "OpaqueRef:t"}')
    assert accepted == CommandAccepted(request_id="r", task="OpaqueRef:t")
    assert isinstance(accepted, CommandAccepted) and accepted.task_uuid is None  # older replies
    with_uuid = parse_reply(b'{"request_id": "r", "task": "OpaqueRef:t", "task_uuid": "u-1"}')
    assert isinstance(with_uuid, CommandAccepted) and with_uuid.task_uuid == "u-1"
    sync = parse_reply(b'{"request_id": "r", "result": ""}')
    assert isinstance(sync, CommandAccepted)
    assert sync.result == ""
    assert isinstance(parse_reply(b'{"error": {"code": "X", "params": []}}'), CommandFailed)
    # a field from a later v1 is ignored, and "error" decides the kind
    later = parse_reply(b'{"task": "t", "error": {"code": "X"}, "took_ms": 3}')
    assert isinstance(later, CommandFailed)
    assert later.error.code == "X"
    for bad in (b"[]", b"{", b'{"error": "boom"}', b'{"task": 7}'):
        with pytest.raises(MalformedMessage):
            parse_reply(bad)


def test_command_body_is_compact_json() -> None:
    body = cmd("VM.start", VM, False, False).to_json()
    assert orjson.loads(body) == {
        "method": "VM.start",
        "args": [VM, False, False],
        "actor": "user:alice",
        "request_id": "req-1",
    }
