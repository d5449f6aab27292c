"""The API's filter language (``?filter=``): parsing, evaluation over client objects, errors, and
the text a query writes back."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xorca.api.core import query_eval, query_values
from xorca.api.core.query import MATCH_ALL, MAX_DEPTH, MAX_LENGTH, Query, QueryError, parse_query
from xorca.api.core.query_eval import AllOf, AnyOf, Bare, Equals, FieldTerm, Not
from xorca.api.core.query_values import glob_regex, parse_date, parse_number, render_number

GiB = 1024**3

WEB = {
    "id": "0b9c8a7e-1111-4000-8000-000000000001",
    "type": "vm",
    "$pool": "pool-1",
    "$host": "host-a",
    "name_label": "web-01",
    "name_description": 'Front end, "blue" cluster\nsecond line',
    "tags": ["prod", "web"],
    "power_state": "Running",
    "is_a_template": False,
    "pv_drivers_up_to_date": True,
    "domid": 7,
    "memory": {"actual": 4 * GiB, "static_max": 8 * GiB},
    "cpus": {"max": 4, "number": 2, "utilisation": [0.95, 0.1], "usage": 0.525},
    "start_time": "2026-11-01T09:30:00Z",
    "os": {"name": "Debian GNU/Linux 12", "distro": "debian"},
    "addresses": [{"device": "0", "ip": "10.0.0.5"}, {"device": "0", "ip": "fe80::1"}],
    "main_address": "10.0.0.5",
    "disks": [
        {"$vbd": "vbd-1", "$vdi": "vdi-1", "device": "xvda", "size": 20 * GiB, "bootable": True},
        {"$vbd": "vbd-2", "device": "xvdd", "type": "CD", "empty": True, "bootable": False},
    ],
    "allowed_operations": ["clean_shutdown", "snapshot"],
    "current_operations": {"task-9": "snapshot"},
    "blocked_operations": {},
}
DB = {
    "id": "0b9c8a7e-2222-4000-8000-000000000002",
    "type": "vm",
    "$pool": "pool-1",
    "name_label": "DB 02",
    "name_description": "",
    "tags": [],
    "power_state": "Halted",
    "is_a_template": False,
    "domid": -1,
    "memory": {"actual": 0, "static_max": 16 * GiB},
    "cpus": {"max": 8},
    "addresses": [],
    "disks": [],
    "allowed_operations": ["start"],
    "current_operations": {},
}
HOST = {
    "id": "host-a",
    "type": "host",
    "$pool": "pool-1",
    "name_label": "xcp-host-a",
    "name_description": "rack 4",
    "tags": ["prod"],
    "enabled": True,
    "power_state": "Running",
}
OBJECTS = [WEB, DB, HOST]


def names(text: str) -> list[str]:
    """The objects a filter keeps, by name."""
    query = parse_query(text)
    return [str(obj["name_label"]) for obj in OBJECTS if query.matches(obj)]


def error(text: str) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    return caught.value


# ---------------------------------------------------------------------------------------------
# Terms and values


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_an_empty_filter_matches_everything(text: str):
    query = parse_query(text)
    assert query is MATCH_ALL
    assert all(query.matches(obj) for obj in [*OBJECTS, {}])
    assert query.fields() == frozenset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("power_state:Running", ["web-01", "xcp-host-a"]),
        ("power_state:running", ["web-01", "xcp-host-a"]),  # case-insensitive
        ("POWER_STATE:Running", []),  # field names are not
        ("power_state:Run", []),  # equality, not containment
        ("name_label:web*", ["web-01"]),
        ("name_label:*0?", ["web-01", "DB 02"]),
        ("name_label:*host*", ["xcp-host-a"]),
        ("name_label:web-0?", ["web-01"]),
        ("name_label:web?0?", ["web-01"]),
        ("name_label:web??0", []),
        ('name_label:"db 02"', ["DB 02"]),
        ('name_label:"DB *"', ["DB 02"]),  # wildcards work in quotes too
        ("name_label:DB\\ 02", ["DB 02"]),  # an escaped space
        ("os.distro:debian", ["web-01"]),
        ("os.name:debian*", ["web-01"]),
        ("$host:host-a", ["web-01"]),
        ("type:host", ["xcp-host-a"]),
        ('name_description:""', ["DB 02"]),  # the empty string
        ("name_description:*blue*", ["web-01"]),
        ("name_description:front*line", ["web-01"]),  # `*` crosses line ends
    ],
)
def test_field_values(text: str, expected: list[str]):
    assert names(text) == expected


def test_escapes_make_wildcards_quotes_and_backslashes_literal():
    obj = {"a": "x*y", "b": 'say "hi"', "c": "back\\slash", "d": "x?y", "e": "xzy"}
    assert parse_query("a:x\\*y").matches(obj)
    assert parse_query('a:"x\\*y"').matches(obj)
    assert not parse_query("a:x\\*y").matches({"a": "xzzy"})
    assert parse_query("a:x*y").matches({"a": "xzzy"})
    assert parse_query('b:"say \\"hi\\""').matches(obj)
    assert parse_query('b:say\\ \\"hi\\"').matches(obj)
    assert parse_query('c:"back\\\\slash"').matches(obj)
    assert parse_query("d:x\\?y").matches(obj)
    assert not parse_query("e:x\\?y").matches(obj)
    assert parse_query("e:x?y").matches(obj)


def test_quotes_may_join_plain_text_and_hide_operators():
    assert parse_query('name_label:"web"-01').matches(WEB)
    assert parse_query('name_label:web"-0"1').matches(WEB)
    for text in ['x:">5"', 'x:"*"', 'x:"1..2"', "x:\\>5", "x:\\*"]:
        assert isinstance(parse_query(text), FieldTerm)
        assert isinstance(parse_query(text).test, Equals)  # type: ignore[attr-defined]
    assert parse_query('x:">5"').matches({"x": ">5"})
    assert not parse_query("x:\\*").matches({"x": "abc"})
    assert parse_query("x:\\*").matches({"x": "*"})


def test_a_value_may_hold_colons():
    assert names("addresses.ip:fe80::1") == ["web-01"]
    assert parse_query("start_time:2026-11-01T09:30:00Z").matches(WEB)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tags:prod", ["web-01", "xcp-host-a"]),
        ("tags:PROD", ["web-01", "xcp-host-a"]),
        ("tags:we*", ["web-01"]),
        ("-tags:prod", ["DB 02"]),  # no element matches
        ("tags:*", ["web-01", "xcp-host-a"]),  # non-empty
        ("-tags:*", ["DB 02"]),
        ("allowed_operations:start", ["DB 02"]),
        ("addresses.ip:10.0.*", ["web-01"]),
        ("addresses.device:0", ["web-01"]),
        ("addresses:*", ["web-01"]),
        ("addresses.ip:*", ["web-01"]),
        ("disks.$vdi:vdi-1", ["web-01"]),
        ("disks.$vdi:*", ["web-01"]),
        ("disks.type:cd", ["web-01"]),
        ("disks.size:>10G", ["web-01"]),
        ("disks.empty:true", ["web-01"]),
        ("tags.x:*", []),  # a list of strings has no keys
        ("name_label.x:*", []),
    ],
)
def test_lists_match_when_any_element_does(text: str, expected: list[str]):
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("current_operations:snapshot", ["web-01"]),  # any value of the object
        ("current_operations:*", ["web-01"]),  # non-empty
        ("-current_operations:*", ["DB 02", "xcp-host-a"]),
        ("current_operations.task-9:snap*", ["web-01"]),
        ("blocked_operations:*", []),  # present but empty
        ("memory:0", ["DB 02"]),
        ("memory:>10G", ["DB 02"]),
    ],
)
def test_objects_match_when_any_value_does(text: str, expected: list[str]):
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("is_a_template:false", ["web-01", "DB 02"]),
        ("is_a_template:FALSE", ["web-01", "DB 02"]),
        ("is_a_template:no", ["web-01", "DB 02"]),
        ("is_a_template:0", ["web-01", "DB 02"]),
        ("is_a_template:true", []),
        ("enabled:yes", ["xcp-host-a"]),
        ("enabled:1", ["xcp-host-a"]),
        ("enabled:on", []),
        ("enabled:t*", []),
        ("domid:true", []),  # a number is not a boolean
        ("domid:1", []),
        ("pv_drivers_up_to_date:True", ["web-01"]),
    ],
)
def test_booleans(text: str, expected: list[str]):
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("domid:7", ["web-01"]),
        ("domid:-1", ["DB 02"]),
        ("domid:+7", ["web-01"]),
        ("domid:7.0", ["web-01"]),
        ("domid:0.7e1", ["web-01"]),
        ("domid:7*", []),  # wildcards are for text
        ("memory.actual:4G", ["web-01"]),
        ("memory.actual:4g", ["web-01"]),
        ("memory.actual:4GiB", ["web-01"]),
        ("memory.actual:4096M", ["web-01"]),
        ("memory.actual:4194304K", ["web-01"]),
        ("memory.actual:4294967296", ["web-01"]),
        ("memory.actual:0.00390625T", ["web-01"]),
        ("memory.actual:4GB", []),  # powers of 1000
        ("memory.static_max:16G", ["DB 02"]),
        ("cpus.usage:0.525", ["web-01"]),
        ("cpus.usage:52.5%", ["web-01"]),
        ("cpus.utilisation:95%", ["web-01"]),
        ("name_label:4G", []),  # a number does not match text that is not its own
    ],
)
def test_numbers(text: str, expected: list[str]):
    assert names(text) == expected


def test_numbers_match_text_fields_as_text():
    assert parse_query("userdevice:0").matches({"userdevice": "0"})
    assert parse_query("userdevice:0").matches({"userdevice": 0})
    assert parse_query("userdevice:0").matches({"userdevice": False})
    assert not parse_query("name:4G").matches({"name": "4294967296"})
    assert parse_query("name:4G").matches({"name": "4g"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("-1", -1),
        ("+2", 2),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1.", 1),
        ("2e3", 2000),
        ("2E-3", 0.002),
        ("1b", 1),
        ("1K", 1024),
        ("1M", 1024**2),
        ("1G", 1024**3),
        ("1T", 1024**4),
        ("1KiB", 1024),
        ("1mib", 1024**2),
        ("1GiB", 1024**3),
        ("1TiB", 1024**4),
        ("1KB", 1000),
        ("1MB", 1000**2),
        ("1GB", 1000**3),
        ("1tb", 1000**4),
        ("1.5G", 1610612736),
        ("0.5K", 512),
        ("80%", 0.8),
        ("100%", 1),
        ("0.5%", 0.005),
        ("1e99", 10**99),
        ("-1.5K", -1536),
    ],
)
def test_parse_number(text: str, value: float):
    parsed = parse_number(text)
    assert parsed == value
    assert isinstance(parsed, int) == isinstance(value, int)


@pytest.mark.parametrize(
    "text", ["", "-", ".", "1e", "e3", "1x", "1 K", "inf", "nan", "0x10", "1e1000", "1,5", "K"]
)
def test_not_numbers(text: str):
    assert parse_number(text) is None


@given(st.one_of(st.integers(-(10**30), 10**30), st.floats(allow_nan=False, allow_infinity=False)))
def test_numbers_write_back_exactly(value: float):
    assert parse_number(render_number(value)) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("domid:>0", ["web-01"]),
        ("domid:>=7", ["web-01"]),
        ("domid:>7", []),
        ("domid:<0", ["DB 02"]),
        ("domid:<=-1", ["DB 02"]),
        ("memory.actual:>1G", ["web-01"]),
        ("memory.actual:<1K", ["DB 02"]),
        ("memory.static_max:>=8GiB", ["web-01", "DB 02"]),
        ("cpus.usage:>50%", ["web-01"]),
        ("cpus.utilisation:>90%", ["web-01"]),  # any vCPU
        ("cpus.utilisation:<5%", []),
        ("cpus.max:4..8", ["web-01", "DB 02"]),
        ("cpus.max:5..8", ["DB 02"]),
        ("cpus.max:4..4", ["web-01"]),
        ("cpus.max:5..", ["DB 02"]),
        ("cpus.max:..4", ["web-01"]),
        ("memory.actual:1G..8G", ["web-01"]),
        ("memory.actual:8G..1G", []),
        ("name_label:>0", []),  # text is not a number
        ("is_a_template:<1", []),  # neither is a boolean
    ],
)
def test_comparisons_and_ranges_of_numbers(text: str, expected: list[str]):
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("start_time:>2026-11-01", False),  # after that day
        ("start_time:>=2026-11-01", True),
        ("start_time:<=2026-11-01", True),  # up to the end of that day
        ("start_time:<2026-11-01", False),
        ("start_time:>2026-10", True),
        ("start_time:>2026-11", False),
        ("start_time:>2026-10-31T23:59:59Z", True),
        ("start_time:>2026-11-01T09:29", True),
        ("start_time:>2026-11-01T09:30", False),
        ("start_time:>=2026-11-01t09:30z", True),
        ("start_time:<2026-11-01T09:30:00.5Z", True),
        ("start_time:>=2026-11-01T09:30:00.000Z", True),
        ("start_time:<=2026-11-01T09:30:00.0", True),
        ("start_time:2026-11-01..2026-11-30", True),
        ("start_time:2026-11..2026-11", True),
        ("start_time:2026-10-01..2026-10-31", False),
        ("start_time:2026-11-02..", False),
        ("start_time:..2026-11-01T09", True),
        ("start_time:..2026-11-01T08", False),
        ("name_label:>2026-01", False),  # only datetimes compare with dates
    ],
)
def test_comparisons_and_ranges_of_dates(text: str, matches: bool):
    assert parse_query(text).matches(WEB) is matches


def test_dates_in_lists_and_fractions_of_seconds():
    obj = {"times": ["2026-01-01T00:00:00Z", "2026-12-31T23:59:59.999Z"]}
    assert parse_query("times:>=2026-12-31T23:59:59").matches(obj)
    assert parse_query("times:<2026-01-01T00:00:01").matches(obj)
    assert not parse_query("times:2026-02..2026-11").matches(obj)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2026-11", "2026-11"),
        ("2026-11-01", "2026-11-01"),
        ("2026-11-01t09", "2026-11-01T09"),
        ("2026-11-01T09:30Z", "2026-11-01T09:30"),
        ("2026-11-01T09:30:00.25Z", "2026-11-01T09:30:00.25"),
        ("2026-11-01T09:30:00.250Z", "2026-11-01T09:30:00.25"),
        ("2026-11-01T09:30:00.0", "2026-11-01T09:30:00"),
        ("2026", None),
        ("2026-11-01T09:30+02:00", None),
        ("2026-11-01 09:30", None),
        ("20261101T09:30:00Z", None),
    ],
)
def test_parse_date(text: str, value: str | None):
    assert parse_date(text) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("power_state:*", ["web-01", "DB 02", "xcp-host-a"]),
        ("$host:*", ["web-01"]),
        ("-$host:*", ["DB 02", "xcp-host-a"]),
        ("memory.actual:*", ["web-01", "DB 02"]),  # 0 exists
        ("cpus.usage:*", ["web-01"]),
        ("name_description:*", ["web-01", "DB 02", "xcp-host-a"]),  # "" exists
        ("name_description:?*", ["web-01", "xcp-host-a"]),  # non-empty text
        ("enabled:*", ["xcp-host-a"]),
        ("nothing:*", []),
    ],
)
def test_existence(text: str, expected: list[str]):
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("web", ["web-01"]),
        ("WEB", ["web-01"]),
        ("eb-0", ["web-01"]),
        ("rack", ["xcp-host-a"]),  # the description
        ("blue", ["web-01"]),
        ("2222", ["DB 02"]),  # the id
        ("host-a", ["xcp-host-a"]),  # not `$host`: bare words read only names and ids
        ('"db 0"', ["DB 02"]),
        ("db*2", ["DB 02"]),
        ("0?", ["web-01", "DB 02"]),
        ("prod", []),  # tags are not searched
        ('"a:b"', []),
        ('"front end"', ["web-01"]),
    ],
)
def test_bare_words_search_names_descriptions_and_ids(text: str, expected: list[str]):
    assert names(text) == expected


# ---------------------------------------------------------------------------------------------
# Operators


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tags:prod power_state:Running", ["web-01", "xcp-host-a"]),
        ("tags:prod type:vm", ["web-01"]),
        ("tags:prod and type:vm", ["web-01"]),
        ("tags:prod AND type:vm", ["web-01"]),
        ("power_state:Halted or type:host", ["DB 02", "xcp-host-a"]),
        ("power_state:Halted OR type:host", ["DB 02", "xcp-host-a"]),
        ("power_state:Halted Or type:host", ["DB 02", "xcp-host-a"]),
        ("power_state:Halted | type:host", ["DB 02", "xcp-host-a"]),
        ("power_state:Halted|type:host", ["DB 02", "xcp-host-a"]),
        # AND binds tighter than OR
        ("type:vm tags:prod or type:host", ["web-01", "xcp-host-a"]),
        ("type:host or type:vm tags:prod", ["web-01", "xcp-host-a"]),
        ("type:vm (tags:prod or type:host)", ["web-01"]),
        ("(power_state:Running or power_state:Halted) type:vm", ["web-01", "DB 02"]),
        ("((type:vm))", ["web-01", "DB 02"]),
        ("-type:vm", ["xcp-host-a"]),
        ("!type:vm", ["xcp-host-a"]),
        ("not type:vm", ["xcp-host-a"]),
        ("NOT type:vm", ["xcp-host-a"]),
        ("--type:vm", ["web-01", "DB 02"]),
        ("not -type:vm", ["web-01", "DB 02"]),
        ("not (type:host or tags:prod)", ["DB 02"]),
        ("-(type:host or tags:prod)", ["DB 02"]),
        ("not(type:host)", ["web-01", "DB 02"]),
        ("-type:vm or tags:prod", ["web-01", "xcp-host-a"]),  # `-` binds to one term
        ("type:vm -web", ["DB 02"]),
        ("web or db", ["web-01", "DB 02"]),
        ('"or"', []),  # a quoted keyword is a word
        ("notes", []),
        ("ornament or web", ["web-01"]),
        ("a-b or web", ["web-01"]),  # `-` inside a word is text
    ],
)
def test_and_or_not_and_parentheses(text: str, expected: list[str]):
    assert names(text) == expected


def test_the_tree():
    a, b, c = (FieldTerm((key,), Equals("x")) for key in "abc")
    assert parse_query("a:x b:x or c:x") == AnyOf((AllOf((a, b)), c))
    assert parse_query("a:x (b:x or c:x)") == AllOf((a, AnyOf((b, c))))
    assert parse_query("a:x (b:x c:x)") == AllOf((a, b, c))  # flattened
    assert parse_query("(a:x or b:x) or c:x") == AnyOf((a, b, c))
    assert parse_query("-a:x") == Not(a)
    assert parse_query("((a:x))") == a
    assert parse_query("web") == Bare("web")
    assert parse_query("x.y:x") == FieldTerm(("x", "y"), Equals("x"))


def test_fields_are_the_top_level_keys_read():
    assert parse_query("memory.actual:>1G -tags:x or $host:*").fields() == {
        "memory",
        "tags",
        "$host",
    }
    assert parse_query("web type:vm").fields() == {"name_label", "name_description", "id", "type"}


def test_queries_are_frozen_and_hashable():
    query = parse_query("power_state:Running tags:prod*")
    again = parse_query("power_state:Running   tags:prod*")
    assert query == again
    assert hash(query) == hash(again)
    assert len({query, again, parse_query("tags:prod*")}) == 2
    assert isinstance(query, Query)
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.items = ()  # type: ignore[attr-defined]


def test_evaluation_compiles_and_parses_nothing(monkeypatch: pytest.MonkeyPatch):
    queries = [
        parse_query(text)
        for text in [
            "name_label:web* memory.actual:>1G cpus.max:1..8 start_time:>2026-01",
            "web or -tags:test* or disks.size:20G or is_a_template:no or $host:*",
        ]
    ]

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled or parsed during evaluation")

    monkeypatch.setattr(re, "compile", forbidden)
    monkeypatch.setattr(re, "fullmatch", forbidden)
    monkeypatch.setattr(re, "search", forbidden)
    for module in (query_values, query_eval):
        for name in ("parse_number", "parse_bool", "parse_date", "glob_regex"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, forbidden)
    for query in queries:
        for obj in OBJECTS:
            query.matches(obj)


def test_objects_without_the_field_do_not_match_and_their_negation_does():
    assert not parse_query("power_state:Running").matches({})
    assert parse_query("-power_state:Running").matches({})
    assert not parse_query("web").matches({"name_label": 5})


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("(a:b", 0, "unclosed parenthesis"),
        ("a:b (c:d (e:f)", 4, "unclosed parenthesis"),
        ("a:b)", 3, "unmatched `)`"),
        (")", 0, "unmatched `)`"),
        ("()", 0, "empty parentheses"),
        ("a ( ) b", 2, "empty parentheses"),
        ("or a", 0, "`or` needs a term before it"),
        ("a or", 2, "`or` needs a term after it"),
        ("a |", 2, "`or` needs a term after it"),
        ("a or or b", 2, "`or` needs a term after it"),
        ("(a or) b", 3, "`or` needs a term after it"),
        ("a and", 2, "`and` needs a term after it"),
        ("and a", 0, "`and` needs a term before it"),
        ("a and or b", 2, "`and` needs a term after it"),
        ("not", 0, "`not` needs a term after it"),
        ("a not", 2, "`not` needs a term after it"),
        ("not or a", 0, "`not` needs a term after it"),
        ("- a", 0, "`-` must be followed directly"),
        ("a -", 2, "`-` must be followed directly"),
        ("!|a", 0, "`!` must be followed directly"),
        (":x", 0, "empty field name"),
        ("a -:x", 3, "empty field name"),
        ("a:", 1, "no value after `:`"),
        ("a..b:x", 2, "empty segment"),
        (".a:x", 0, "empty segment"),
        ("a.:x", 2, "empty segment"),
        ("memory.actual.:x", 14, "empty segment"),
        ("a@b:x", 1, "`@` cannot be in a field name"),
        ("mem.a*:x", 5, "`*` cannot be in a field name"),
        ('"a":x', 0, "cannot be quoted"),
        ("a\\:b:x", 2, "cannot be quoted or escaped"),
        ("a:>", 2, "`>` needs a number or a date"),
        ("a:>=", 2, "`>=` needs a number or a date"),
        ("a:<", 2, "`<` needs a number or a date"),
        ("a:>abc", 3, "`abc` is neither a number"),
        ("a:>=1X", 4, "`1X` is neither a number"),
        ("a:>1e5000", 3, "is neither a number"),
        ("a:1..x", 5, "`x` is neither a number"),
        ("a:..", 2, "a range needs at least one end"),
        ("a:1..2026-01-01", 2, "two numbers or two dates"),
        ('a:"abc', 2, "unterminated quote"),
        ('"abc', 0, "unterminated quote"),
        ('a:"abc\\"', 2, "unterminated quote"),
        ('a:"abc\\', 2, "unterminated quote"),
        ("abc\\", 3, "nothing to escape"),
    ],
)
def test_errors_say_what_and_where(text: str, position: int, words: str):
    caught = error(text)
    assert words in caught.message
    assert caught.position == position
    assert f"at character {position + 1}" in str(caught)
    assert isinstance(caught, ValueError)


def test_length_is_limited():
    assert parse_query("a" * MAX_LENGTH) == Bare("a" * MAX_LENGTH)
    caught = error("a" * (MAX_LENGTH + 1))
    assert "too long" in caught.message
    assert caught.position == MAX_LENGTH


@pytest.mark.parametrize(
    ("opening", "closing", "depth"), [("(", ")", 1), ("-", "", 1), ("not ", "", 1), ("-(", ")", 2)]
)
def test_nesting_is_limited(opening: str, closing: str, depth: int):
    levels = MAX_DEPTH // depth
    parse_query(opening * levels + "a:b" + closing * levels)
    caught = error(opening * (levels + 1) + "a:b" + closing * (levels + 1))
    assert "nested too deeply" in caught.message


def test_a_long_flat_filter_is_no_deep_one():
    parse_query(" ".join(f"f{i}:v" for i in range(300)))  # 1,989 characters
    parse_query(" or ".join(f"f{i}:v" for i in range(150)))


# ---------------------------------------------------------------------------------------------
# Wildcards


def reference_glob(pattern: str, text: str) -> bool:
    """Wildcard matching by dynamic programming on a canonical pattern, case-insensitive."""
    tokens: list[tuple[str, str]] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            tokens.append(("lit", next(chars)))
        elif char in "*?":
            tokens.append((char, ""))
        else:
            tokens.append(("lit", char))
    text = text.lower()
    reachable = {0}
    for kind, char in tokens:
        after: set[int] = set()
        for index in reachable:
            if kind == "*":
                after.update(range(index, len(text) + 1))
            elif index < len(text) and (kind == "?" or text[index] == char.lower()):
                after.add(index + 1)
        reachable = after
    return len(text) in reachable


@given(
    st.text(alphabet="ab*?\\.", max_size=8).filter(
        lambda p: not re.search(r"(?<!\\)(\\\\)*\\$", p)
    ),
    st.text(alphabet="abAB.*?\\\n", max_size=10),
)
def test_wildcards_match_as_globs(pattern: str, text: str):
    assert (glob_regex(pattern).fullmatch(text) is not None) == reference_glob(pattern, text)


def test_many_wildcards_do_not_backtrack_without_end():
    # a backtracking regex would take longer than the test timeout on this
    name = "a" * 20_000
    assert not parse_query("name_label:" + "*a" * 40 + "*b").matches({"name_label": name})
    assert not parse_query("a" * 40 + "b").matches({"name_label": name})
    assert parse_query("name_label:" + "*a" * 40 + "*").matches({"name_label": name})


# ---------------------------------------------------------------------------------------------
# Writing a query back, and any input at all

FIELDS = ["power_state", "tags", "memory.actual", "$host", "addresses.ip", "start_time", "x"]
VALUES = [
    "Running",
    "web*",
    '"web 01"',
    '"a\\"b"',
    "x\\*y",
    '"back\\\\slash"',
    "*",
    ">4G",
    ">=80%",
    "<-1",
    "<=2026-11-01",
    "1G..4G",
    "..2",
    "2026-11..",
    "true",
    "0",
    "1.5e3",
    "10.0.*",
    '""',
    '"or"',
    '">5"',
    "fe80::1",
]
WORDS = ["web", "db*", '"a b"', '"or"', '"-x"', '"a:b"', "x?", '"<5"', '"*"']


@st.composite
def query_texts(draw: st.DrawFn, depth: int = 0) -> str:
    """Well-formed filter text, of every construct."""
    kind = draw(st.sampled_from(["term", "term", "bare", "not", "and", "or", "group"]))
    if depth > 3 or kind == "term":
        return f"{draw(st.sampled_from(FIELDS))}:{draw(st.sampled_from(VALUES))}"
    if kind == "bare":
        return draw(st.sampled_from(WORDS))
    if kind == "not":
        prefix = draw(st.sampled_from(["-", "!", "not ", "NOT "]))
        return prefix + draw(query_texts(depth + 1))
    if kind == "group":
        return "(" + draw(query_texts(depth + 1)) + ")"
    joiner = " " if kind == "and" else draw(st.sampled_from([" or ", " | ", " OR "]))
    items = draw(st.lists(query_texts(depth + 1), min_size=2, max_size=3))
    if kind == "and":
        items = [f"({item})" if " or " in item.lower() or "|" in item else item for item in items]
    return joiner.join(items)


SAMPLES: list[dict[str, Any]] = [
    *OBJECTS,
    {},
    {"x": [1, "a", True, {"y": 2.5}, []]},
    {"x": {"a": "2026-11-01"}},
]


@settings(max_examples=300)
@given(query_texts())
def test_a_query_writes_back_as_text_that_parses_to_it(text: str):
    query = parse_query(text)
    again = parse_query(str(query))
    assert again == query
    assert str(again) == str(query)
    for obj in SAMPLES:
        assert again.matches(obj) == query.matches(obj)


@settings(max_examples=200)
@given(query_texts(), st.sampled_from(SAMPLES))
def test_negation_and_grouping_mean_what_they_say(text: str, obj: dict[str, Any]):
    query = parse_query(text)
    assert parse_query(f"-({text})").matches(obj) is not query.matches(obj)
    assert parse_query(f"({text}) or web").matches(obj) is (
        query.matches(obj) or Bare("web").matches(obj)
    )
    assert parse_query(f"({text}) web").matches(obj) is (
        query.matches(obj) and Bare("web").matches(obj)
    )


JUNK = st.lists(
    st.sampled_from([*'ab:*?."\\()|-! \t<>=19GK%$_ORnot', " or ", " and ", "2026-11-01"]),
    max_size=30,
).map("".join)


@settings(max_examples=500)
@given(st.one_of(JUNK, st.text(max_size=40)))
def test_any_text_parses_or_raises_query_error(text: str):
    try:
        query = parse_query(text)
    except QueryError as caught:
        failure = caught
    else:
        for obj in SAMPLES:
            assert isinstance(query.matches(obj), bool)
        assert parse_query(str(query)) == query
        return
    assert 0 <= failure.position <= len(text)
    assert failure.message


def test_paths_go_through_lists_at_any_depth():
    deep = {"a": {"b": [{"c": [{"d": "2026-01-01"}]}, {"c": {"d": "x"}}]}}
    assert parse_query("a.b.c.d:2026-01-01").matches(deep)
    assert parse_query("a.b.c.d:x").matches(deep)
    assert parse_query("a.b.c.d:>=2026").matches(deep) is False  # `2026` is a number
    assert parse_query("a.b.c.d:>=2025-12").matches(deep)
