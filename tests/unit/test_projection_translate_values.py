"""The small pieces translations are made of: tolerant field reads, datetimes, the no-null helper,
guest network keys, alarm bodies, secret filtering, and the state.db reader of the dump tests."""

from __future__ import annotations

import math

import pytest

from tests.support.statedb import parse_sexp, unprotect
from xorca.projection.core.translate.fields import (
    get_bool,
    get_float,
    get_int,
    get_map,
    get_ref,
    get_refs,
    get_str,
    get_str_map,
    get_strs,
)
from xorca.projection.core.translate.guest import addresses, device_ips, main_address, os_info
from xorca.projection.core.translate.message import alarm_fields
from xorca.projection.core.translate.storage import public_device_config
from xorca.projection.core.translate.values import compact, iso_datetime, iso_from_timestamp


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), ("42", 42), ("-1", -1), (" 7 ", 7), (True, None), (1.5, None), ("1.5", None),
     ("x", None), (None, None), ([1], None), (2**64, None), (-(2**63) - 1, None),
     (2**64 - 1, 2**64 - 1)],
)  # fmt: skip
def test_get_int(value: object, expected: int | None) -> None:
    assert get_int({"f": value}, "f") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.5, 0.5), (2, 2.0), ("2000.000", 2000.0), ("1794990746.", 1794990746.0),
     (math.nan, None), (math.inf, None), ("NaN", None), ("Infinity", None), (False, None),
     ("x", None), ({}, None)],
)  # fmt: skip
def test_get_float(value: object, expected: float | None) -> None:
    assert get_float({"f": value}, "f") == expected


def test_the_other_accessors_refuse_wrong_types() -> None:
    record: dict[str, object] = {
        "s": "text",
        "b": True,
        "bs": "false",
        "m": {"a": "1", "b": 2, 3: "x"},
        "l": ["a", 1, None, "b"],
        "r": "OpaqueRef:1",
        "null": "OpaqueRef:NULL",
        "refs": ["OpaqueRef:1", "OpaqueRef:NULL", "", 4, "OpaqueRef:1", "OpaqueRef:2"],
    }
    assert get_str(record, "s") == "text"
    assert get_str(record, "b") is None
    assert (get_bool(record, "b"), get_bool(record, "bs"), get_bool(record, "s")) == (
        True, False, None)  # fmt: skip
    assert get_map(record, "m") == {"a": "1", "b": 2}
    assert get_str_map(record, "m") == {"a": "1"}
    assert get_map(record, "l") is None
    assert get_strs(record, "l") == ["a", "b"]
    assert get_strs(record, "m") is None
    assert (get_ref(record, "r"), get_ref(record, "null"), get_ref(record, "missing")) == (
        "OpaqueRef:1", None, None)  # fmt: skip
    assert get_refs(record, "refs") == ["OpaqueRef:1", "OpaqueRef:2"]
    assert get_refs(record, "s") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20261126T09:00:00Z", "2026-11-26T09:00:00Z"),
        ("2026-11-26T09:00:00Z", "2026-11-26T09:00:00Z"),
        ("20261126T090000Z", "2026-11-26T09:00:00Z"),
        ("20261126T09:00:00", "2026-11-26T09:00:00Z"),  # no zone: XAPI means UTC
        ("2026-11-26T10:30:00+01:30", "2026-11-26T09:00:00Z"),
        ("2026-11-26T09:00:00.250Z", "2026-11-26T09:00:00.25Z"),
        ("19700101T00:00:00Z", None),  # the epoch: "never"
        ("1970-01-01T00:00:00Z", None),
        ("20261326T09:00:00Z", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_xapi_datetimes_become_iso_8601(text: str, expected: str | None) -> None:
    assert iso_datetime(text) == expected


def test_timestamps() -> None:
    assert iso_from_timestamp(1794990746.0) == "2026-11-18T08:32:26Z"
    assert iso_from_timestamp(0.0) is None
    assert iso_from_timestamp(1e300) is None
    assert iso_from_timestamp(None) is None


def test_compact_drops_none_at_every_depth() -> None:
    assert compact(
        {"a": None, "b": 1, "c": {"d": None, "e": [None, {"f": None, "g": "x"}]}, "h": math.nan}
    ) == {"b": 1, "c": {"e": [{"g": "x"}]}}


def test_compact_refuses_what_json_cannot_carry() -> None:
    with pytest.raises(TypeError):
        compact({"a": {1, 2}})
    with pytest.raises(TypeError):
        compact({"a": {1: "x"}})


def test_guest_networks() -> None:
    guest = {
        "networks": {
            "1/ipv4/0": "192.168.0.2",
            "0/ipv6/1": "2001:db8::5",
            "0/ipv6/0": "fe80::1",
            "0/ip": "10.0.0.5",
            "0/ipv4/0": "10.0.0.5",
            "0/ipv4/1": "10.0.0.6",
            "10/ipv4/0": "172.16.0.1",
            "2/ipv4/0": "  ",
            "junk": "1.2.3.4",
        }
    }
    assert device_ips(guest) == {
        "0": ["10.0.0.5", "10.0.0.6", "fe80::1", "2001:db8::5"],
        "1": ["192.168.0.2"],
        "10": ["172.16.0.1"],
    }
    found = addresses(guest)
    assert found[0] == {"device": "0", "ip": "10.0.0.5"}
    assert main_address(found) == "10.0.0.5"
    assert main_address([{"device": "0", "ip": "fe80::1"}]) == "fe80::1"
    assert main_address([]) is None


def test_windows_os_names_lose_their_paths() -> None:
    windows = {"os_version": {"name": "Microsoft Windows XP|C:\\WINDOWS|\\Device\\Hd0",
                              "distro": "windows"}}  # fmt: skip
    assert compact(os_info(windows) or {}) == {"name": "Microsoft Windows XP", "distro": "windows"}
    assert os_info({"os_version": {}}) is None
    assert os_info({"os_version": {"other": "x"}}) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            'value: 0.95\nconfig:\n<variable><name value="disk_usage"/>'
            '<alarm_trigger_level value="0.9"/><alarm_trigger_sense value="high"/></variable>',
            {"alarm_value": 0.95, "alarm_source": "disk_usage", "alarm_trigger_level": 0.9,
             "alarm_trigger_sense": "high"},
        ),
        (
            '<value>104857600</value><variable><name value="memory_internal_free"/>'
            '<alarm_trigger_period value="x"/></variable>',
            {"alarm_value": 104857600.0, "alarm_source": "memory_internal_free"},
        ),
        ("value: NaN", {}),
        ("no alarm here", {}),
        ('<!DOCTYPE a [<!ENTITY x "y">]><variable><name value="&x;"/></variable>', {}),
        ("value: 1\n<variable><name value='a'></variable>", {"alarm_value": 1.0}),
    ],
)  # fmt: skip
def test_alarm_bodies(body: str, expected: dict[str, object]) -> None:
    assert compact(alarm_fields(body)) == expected


def test_device_config_secrets_are_dropped() -> None:
    config = {
        "server": "10.0.0.9",
        "password": "a",
        "chappassword": "b",
        "chappassword_secret": "c",
        "incoming_chappassword": "d",
        "CIFSPassword": "e",
        "password_secret": "f",
        "secret": "g",
        "target": "iqn",
    }
    assert public_device_config(config) == {"server": "10.0.0.9", "target": "iqn"}


def test_state_db_values() -> None:
    assert parse_sexp("()") == []
    assert parse_sexp('((\'a\' \'b\') ("c" "d\\"e"))') == [["a", "b"], ["c", 'd"e']]
    assert parse_sexp("('x' ('y' bare))") == ["x", ["y", "bare"]]
    assert unprotect("CPU%_%_ X3450%_@ 2.67GHz%n100%%") == "CPU     X3450  @ 2.67GHz\n100%"
    with pytest.raises(ValueError, match="unclosed"):
        parse_sexp("('a'")
