"""``event.*`` as xapi's ``xapi_event.ml`` answers it, through ``dispatch.call``: subscriptions
that never fail, eventless classes, tokens read as OCaml's ``Int64.of_string`` reads numbers,
the timeout and batching delays, ``event.inject`` and the legacy API."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from dataclasses import dataclass

import pytest

from tests.support.small_pool import OneHostLab, lab_pool, lone_host
from xorca.xapi.datamodel import EVENTLESS, datamodel
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers.event_parsing import (
    DAY,
    batching_pauses,
    ocaml_int64,
    parse_token,
    timeout_seconds,
)
from xorca.xapi_sim.state.db import Database

BATCHING = 0.02


@dataclass
class Lab(OneHostLab):
    vm: str = ""

    async def event_from(self, classes: list[str], token: str, timeout: float) -> dict[str, Value]:
        answer = await self.call("event.from", classes, token, timeout)
        assert isinstance(answer, dict)
        return answer

    async def timed(
        self, classes: list[str], token: str, timeout: float
    ) -> tuple[float, dict[str, Value]]:
        started = time.monotonic()
        answer = await self.event_from(classes, token, timeout)
        return time.monotonic() - started, answer


def build(batching: float = BATCHING) -> Lab:
    db = Database()
    host = lone_host(db)
    vm = db.create("VM", name_label="web")
    db.create("secret", value="hush")
    db.create("user", fullname="someone")
    return Lab(lab_pool(db, event_batching_delay=batching), host=host, vm=vm)


@pytest.fixture
async def lab() -> Lab:
    return await build().log_in()


def _refs(answer: dict[str, Value]) -> list[tuple[str, str]]:
    events = answer["events"]
    assert isinstance(events, list)
    return [(str(e["class"]), str(e["ref"])) for e in events]  # type: ignore[index]


# ---- subscriptions never fail ----------------------------------------------------------------


@pytest.mark.parametrize(
    "classes", [["no_such_class"], ["vm/"], ["VM/"], ["/OpaqueRef:x"], ["vm/OpaqueRef:nope"], []]
)
async def test_what_selects_nothing_waits_out_its_timeout(lab: Lab, classes: list[str]) -> None:
    elapsed, answer = await lab.timed(classes, "", 0.3)
    assert answer["events"] == []
    assert elapsed >= 0.3
    assert answer["token"] == "00000000000000000000,00000000000000000000"  # nothing looked at


@pytest.mark.parametrize("classes", [["session"], ["SESSION"], ["secret", "user"], ["event"]])
async def test_eventless_classes_never_produce_events(lab: Lab, classes: list[str]) -> None:
    assert lab.db.refs("session") and lab.db.refs("secret") and lab.db.refs("user")
    elapsed, answer = await lab.timed(classes, "", 0.2)
    assert answer["events"] == [] and elapsed >= 0.2


async def test_star_covers_only_the_classes_with_events(lab: Lab) -> None:
    answer = await lab.event_from(["*"], "", 1.0)
    classes = {c for c, _ in _refs(answer)}
    assert {"vm", "host", "pool", "host_metrics"} <= classes
    assert not classes & EVENTLESS
    assert (await lab.event_from(["vm/" + lab.vm, "nope"], "", 1.0))["events"] != []


async def test_valid_ref_counts_cover_every_table(lab: Lab) -> None:
    answer = await lab.event_from(["no_such_class"], "", 0.0)
    counts = answer["valid_ref_counts"]
    assert isinstance(counts, dict)
    assert set(counts) == {c.lower() for c in datamodel().classes}
    assert (counts["session"], counts["secret"], counts["vm"], counts["message"]) == (1, 1, 1, 0)


async def test_an_empty_answer_returns_the_token_it_was_given(lab: Lab) -> None:
    token = str((await lab.event_from(["vm"], "", 1.0))["token"])
    lab.db.update("host", lab.host, name_description="not a VM")
    again = await lab.event_from(["vm"], token, 0.1)
    assert (again["events"], again["token"]) == ([], token)


async def test_a_waiting_call_wakes_for_what_it_subscribed_to_only(lab: Lab) -> None:
    token = str((await lab.event_from(["vm"], "", 1.0))["token"])

    async def later() -> None:
        await asyncio.sleep(0.1)
        lab.db.update("host", lab.host, name_description="ignored")
        await asyncio.sleep(0.1)
        lab.db.update("VM", lab.vm, name_description="seen")

    changer = asyncio.ensure_future(later())
    elapsed, answer = await lab.timed(["vm"], token, 5.0)
    await changer
    assert _refs(answer) == [("vm", lab.vm)]
    assert 0.2 <= elapsed < 2
    assert parse_token(str(answer["token"]))[0] == lab.db.row("VM", lab.vm).mtime


async def test_logout_wakes_a_waiting_call_with_session_invalid(lab: Lab) -> None:
    token = str((await lab.event_from(["vm"], "", 1.0))["token"])
    waiting = asyncio.ensure_future(lab.event_from(["vm"], token, 30.0))
    await asyncio.sleep(0.1)
    lab.pool.drop_session(lab.session)
    with pytest.raises(XapiError) as info:
        await asyncio.wait_for(waiting, 5)
    assert info.value.description == ["SESSION_INVALID", lab.session]


# ---- tokens ----------------------------------------------------------------------------------

VALID_TOKENS = {
    "": (0, 0),
    "00000000000000000012,00000000000000000003": (12, 3),
    "12,3": (12, 3),
    "0x10,0": (16, 0),
    "0X1f,0": (31, 0),
    "0o17,0b101": (15, 5),
    "0u42,0": (42, 0),
    "1_000,0": (1000, 0),
    "1__,0": (1, 0),
    "-1,0": (-1, 0),
    "+5,-0": (5, 0),
    "9223372036854775807,0": (2**63 - 1, 0),
    "-9223372036854775808,0": (-(2**63), 0),
    "0xFFFFFFFFFFFFFFFF,0": (-1, 0),  # prefixed numbers are unsigned: they wrap
    "0x8000000000000000,0": (-(2**63), 0),
    "0u18446744073709551615,0": (-1, 0),
    "-0x1,0": (-1, 0),
    "-0xFFFFFFFFFFFFFFFF,0": (1, 0),
}
INVALID_TOKENS = [
    "5",
    ",",
    "1,",
    ",1",
    "1,2,3",
    "9223372036854775808,0",  # plain decimal must fit a signed 64-bit number
    "-9223372036854775809,0",
    "18446744073709551616,0",
    "0x10000000000000000,0",  # 2^64: past even the unsigned range
    "0u18446744073709551616,0",
    "_1,0",
    "0x_1,0",
    "0x,0",
    "-,0",
    "--1,0",
    "+-1,0",
    " 1,0",
    "1 ,0",
    "1e3,0",
    "0b102,0",
    "0o8,0",
    "1.5,0",
    "0x1g,0",
    "١,0",  # an Arabic-Indic digit is no digit to OCaml
]


@pytest.mark.parametrize(("token", "parsed"), VALID_TOKENS.items())
def test_tokens_xapi_accepts(token: str, parsed: tuple[int, int]) -> None:
    assert parse_token(token) == parsed


@pytest.mark.parametrize("token", INVALID_TOKENS)
def test_tokens_xapi_refuses(token: str) -> None:
    with pytest.raises(XapiError) as info:
        parse_token(token)
    assert info.value.description == ["EVENT_FROM_TOKEN_PARSE_FAILURE", token]


def test_int64_of_string_is_exact_at_the_edges() -> None:
    assert ocaml_int64("0b" + "1" * 64) == -1
    with pytest.raises(ValueError, match=r"Int64\.of_string"):
        ocaml_int64("0b1" + "0" * 64)
    assert ocaml_int64("0o1777777777777777777777") == -1
    with pytest.raises(ValueError, match=r"Int64\.of_string"):
        ocaml_int64("0o2000000000000000000000")


async def test_odd_tokens_work_on_the_wire(lab: Lab) -> None:
    answer = await lab.event_from(["vm"], "0x0,0", 1.0)
    assert _refs(answer) == [("vm", lab.vm)]
    assert await lab.fails("event.from", ["vm"], "1,2,3", 1.0) == [
        "EVENT_FROM_TOKEN_PARSE_FAILURE",
        "1,2,3",
    ]
    answer = await lab.event_from(["vm"], "-1,-1", 1.0)  # before everything: all of it, as adds
    assert _refs(answer) == [("vm", lab.vm)]
    assert answer["events"][0]["operation"] == "add"  # type: ignore[index]


# ---- the timeout and the batching delays -----------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "seconds"),
    [
        (0.0, 0.0),
        (30.0, 30.0),
        (-1e-10, 0.0),  # rounds to -0 ns: a valid zero
        (9_007_199.254_740_991, 9_007_199.254_740_991),
        (9_007_199.254_740_992, DAY),  # 2^53 ns: Mtime refuses it
        (1e7, DAY),  # about 115 days, so longer than a day: 24 h instead
        (-1.0, DAY),
        (math.nan, DAY),
        (math.inf, DAY),
        (-math.inf, DAY),
    ],
)
def test_invalid_timeouts_mean_a_day(timeout: float, seconds: float) -> None:
    assert timeout_seconds(timeout) == pytest.approx(seconds)


async def test_a_negative_timeout_waits_instead_of_returning(lab: Lab) -> None:
    token = str((await lab.event_from(["vm"], "", 1.0))["token"])
    waiting = asyncio.ensure_future(lab.event_from(["vm"], token, -1.0))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    lab.db.update("VM", lab.vm, name_description="now")
    answer = await asyncio.wait_for(waiting, 5)
    assert _refs(answer) == [("vm", lab.vm)]


def test_pauses_between_looks_grow_to_the_delay() -> None:
    pauses = batching_pauses(0.05)
    assert [round(next(pauses), 6) for _ in range(6)] == [
        0.00625,
        0.0125,
        0.025,
        0.05,
        0.05,
        0.05,
    ]


@pytest.mark.parametrize(
    ("classes", "task_only"),
    [
        (["task"], True),
        (["TASK"], True),
        (["task/OpaqueRef:x"], True),
        (["task", "task/OpaqueRef:y"], True),
        ([], True),  # List.for_all of nothing
        (["vm"], False),
        (["task", "vm"], False),
        (["*"], False),
    ],
)
async def test_task_only_subscriptions_skip_the_first_delay(
    classes: list[str], task_only: bool
) -> None:
    lab = await build(batching=0.4).log_in()
    elapsed, _ = await lab.timed(classes, "", 0.0)
    if task_only:
        assert elapsed < 0.2
    else:
        assert elapsed >= 0.4


# ---- event.inject ----------------------------------------------------------------------------


async def test_inject_names_the_table_as_the_database_spells_it(lab: Lab) -> None:
    assert await lab.fails("event.inject", "vm", lab.vm) == ["HANDLE_INVALID", "vm", lab.vm]
    token = await lab.call("event.inject", "VM", lab.vm)
    assert isinstance(token, str)
    answer = await lab.event_from(["vm"], token, 1.0)
    assert [(e["ref"], e["operation"]) for e in answer["events"]] == [(lab.vm, "mod")]  # type: ignore[index, union-attr]


# ---- the legacy API --------------------------------------------------------------------------


async def _next(lab: Lab, timeout: float = 2.0) -> list[tuple[str, str]]:
    events = await asyncio.wait_for(lab.call("event.next"), timeout)
    assert isinstance(events, list)
    return [(str(e["class"]), str(e["ref"])) for e in events]  # type: ignore[index]


async def test_register_takes_any_text_and_next_names_the_session_by_trackid(lab: Lab) -> None:
    trackid = "trackid=" + hashlib.md5(lab.session.encode(), usedforsecurity=False).hexdigest()
    assert await lab.fails("event.next") == ["SESSION_NOT_REGISTERED", trackid]
    assert await lab.call("event.register", ["no_such_class", "vm/", "SESSION"]) == ""
    lab.db.update("VM", lab.vm, name_description="unseen")
    lab.db.create("session")
    with pytest.raises(TimeoutError):
        await _next(lab, 0.4)  # registered, but nothing it names produces events


async def test_unregister_removes_exactly_the_subscriptions_given(lab: Lab) -> None:
    await lab.call("event.register", ["vm", "host"])
    await lab.call("event.unregister", ["*", "pool"])  # neither is registered: nothing goes
    await lab.call("event.unregister", ["VM"])  # the same subscription as "vm"
    lab.db.update("VM", lab.vm, name_description="unseen")
    lab.db.update("host", lab.host, name_description="seen")
    assert await _next(lab) == [("host", lab.host)]
    await lab.call("event.unregister", ["host"])
    lab.db.update("host", lab.host, name_description="unseen too")
    with pytest.raises(TimeoutError):  # an empty subscription: next waits, it does not fail
        await _next(lab, 0.4)


async def test_unregister_alone_makes_a_subscription_record(lab: Lab) -> None:
    await lab.call("event.unregister", ["vm"])
    with pytest.raises(TimeoutError):
        await _next(lab, 0.4)
