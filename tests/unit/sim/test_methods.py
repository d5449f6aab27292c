"""The method table (``rpc/methods.py``, ``data/methods.tsv``) against the dispatcher, method by
method: what ``system.listMethods`` lists, which ``Async.`` calls are accepted, which messages are
removed or pool-internal, and that handlers can take what the dispatcher hands them."""

from __future__ import annotations

import asyncio
import csv
import inspect
import io
from importlib import resources

import pytest

from tests.support.small_pool import OneHostLab, lab_pool, lone_host
from xorca.xapi.datamodel import (
    Enum,
    MapOf,
    OptionOf,
    Prim,
    RecordOf,
    Ref,
    SetOf,
    Type,
    datamodel,
    enum_values,
)
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers.session import open_session
from xorca.xapi_sim.rpc import dispatch, methods
from xorca.xapi_sim.rpc.registry import HANDLERS, load_all
from xorca.xapi_sim.state.db import Database


def tsv_rows() -> list[dict[str, str]]:
    """The shipped ``data/methods.tsv``, read here on its own (not through rpc/methods.py)."""
    text = resources.files("xorca.xapi_sim").joinpath("data", "methods.tsv").read_text()
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


ROWS = tsv_rows()
TABLE = methods.table(datamodel())


@pytest.fixture
async def lab() -> OneHostLab:
    db = Database()
    host = lone_host(db)
    return await OneHostLab(lab_pool(db, operation_seconds=0.0), host=host).log_in()


def pool_session(lab: OneHostLab) -> str:
    """A host-to-host session (``session.pool = true``): it passes the pool-internal check."""
    return open_session(lab.pool, lab.host, "root", "", is_pool=True)


def dummy(t: Type) -> Value:
    """A well-typed value that names nothing, so a handler fails fast on it."""
    match t:
        case Prim("string"):
            return ""
        case Prim("int"):
            return 0
        case Prim("float"):
            return 0.0
        case Prim("bool"):
            return False
        case Prim("datetime"):
            return "19700101T00:00:00Z"
        case Ref():
            return "OpaqueRef:NULL"
        case Enum(name):
            return enum_values(name)[0]
        case SetOf() | OptionOf():
            return []
        case MapOf() | RecordOf():
            return {}
    raise AssertionError(t)


def arguments(method: methods.Method) -> list[Value]:
    return [dummy(p.type) for p in method.params or ()]


async def outcome(lab: OneHostLab, name: str, params: list[Value]) -> Value | XapiError:
    try:
        return await dispatch.call(lab.pool, lab.host, name, params)
    except XapiError as e:
        return e


async def settle(lab: OneHostLab) -> None:
    """Let the tasks that the accepted ``Async.`` calls started finish (instant operations)."""
    running = list(lab.pool.running.values())
    if running:
        await asyncio.wait_for(asyncio.gather(*running, return_exceptions=True), 30)


# ---- the table -------------------------------------------------------------------------------


def test_the_table_is_the_whole_tsv_and_covers_the_datamodel() -> None:
    assert len(ROWS) == 2258
    assert TABLE.names == tuple(row["method"] for row in ROWS)
    dm = datamodel()
    declared = {f"{c.name}.{m}" for c in dm.classes.values() for m in c.messages}
    assert declared <= set(TABLE.names)
    for row in ROWS:
        method = TABLE.by_name[row["method"]]
        # hidden means: not in xenapi.json, yet served
        assert method.hidden == (row["method"] not in declared) == (method.message is None)
        if method.message is not None:
            assert method.session == method.message.takes_session, method.wire


def test_class_underscore_aliases_resolve_to_the_same_method() -> None:
    for row in ROWS:
        cls, _, name = row["method"].partition(".")
        assert TABLE.by_name[f"{cls}_{name}"] is TABLE.by_name[row["method"]]


def test_every_handler_serves_a_real_method_and_takes_what_dispatch_gives() -> None:
    load_all()
    for wire, handler in HANDLERS.items():
        method = TABLE.by_name.get(wire)
        assert method is not None and method.wire == wire, f"{wire} is no XAPI method"
        if method.params is None:
            continue
        params = list(inspect.signature(handler).parameters.values())[1:]  # after ctx
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            continue
        assert len(params) >= len(method.params), wire
        for declared, accepted in zip(method.params, params, strict=False):
            # a defaulted parameter may be left out by the caller: the handler needs a default
            if not declared.required:
                assert accepted.default is not inspect.Parameter.empty, (wire, declared.name)
        needed = [p for p in params if p.default is inspect.Parameter.empty]
        assert len(needed) <= method.required, wire


# ---- system.listMethods ----------------------------------------------------------------------


async def test_list_methods_is_exactly_the_synchronous_names_of_the_tsv(lab: OneHostLab) -> None:
    listed = await dispatch.call(lab.pool, lab.host, "system.listMethods", [])
    assert isinstance(listed, list)
    expected = [row["method"] for row in ROWS]
    assert set(listed) - set(expected) == set()
    assert set(expected) - set(listed) == set()
    assert len(listed) == len(set(listed)) == len(expected)
    assert not [name for name in listed if str(name).startswith("Async.")]
    # gen_server.ml lists the objects' messages only
    assert "system.listMethods" not in listed and "system.isAlive" not in listed
    # the prefix is removed before the match, so this is the same answer
    assert await dispatch.call(lab.pool, lab.host, "Async.system.listMethods", []) == listed


# ---- Async. ----------------------------------------------------------------------------------


async def test_async_is_accepted_exactly_where_has_async_is_true(lab: OneHostLab) -> None:
    session = pool_session(lab)
    wrong: list[str] = []
    for row in ROWS:
        method = TABLE.by_name[row["method"]]
        params = [session, *arguments(method)] if method.session else arguments(method)
        got = await outcome(lab, f"Async.{method.wire}", params)
        fault = ["Fault", f"No async mode for this operation (rpc: {method.wire})"]
        if method.removed:
            ok = isinstance(got, XapiError) and got.description == ["MESSAGE_REMOVED"]
        elif row["has_async"] == "true":
            accepted = isinstance(got, str) and lab.db.exists("task", got)
            ok = accepted or (isinstance(got, XapiError) and got.code != "Fault")
        else:
            ok = isinstance(got, XapiError) and got.description == fault
        if not ok:
            wrong.append(f"{method.wire}: {got!r}")
        await settle(lab)
    assert wrong == []
    # the handlers that ran may fail on the dummy arguments, but none may crash
    crashed = [
        str(lab.db.field("task", t, "name_label"))
        for t in lab.db.refs("task")
        if lab.db.field("task", t, "error_info")[:1] == ["INTERNAL_ERROR"]  # type: ignore[index]
    ]
    assert crashed == []


async def test_an_accepted_async_call_is_a_task_named_as_called(lab: OneHostLab) -> None:
    vm = lab.db.create("VM", name_label="doomed")
    task = await lab.call("Async.VM_destroy", vm)  # the alias works after the prefix
    assert isinstance(task, str)
    assert lab.db.field("task", task, "name_label") == "Async.VM_destroy"
    await settle(lab)
    assert lab.db.field("task", task, "status") == "success"
    assert not lab.db.exists("VM", vm)


async def test_async_prefix_spellings(lab: OneHostLab) -> None:
    # the Fault names the call as it was made, alias and all
    assert await lab.fails("Async.VM_get_all") == [
        "Fault",
        "No async mode for this operation (rpc: VM_get_all)",
    ]
    # server_helpers.ml strips "Async." only: Async_VM_get_all is an unknown name
    assert await lab.fails("Async_VM_get_all") == ["MESSAGE_METHOD_UNKNOWN", "Async_VM_get_all"]
    # an unknown Async.foo takes the unknown path, prefix removed
    assert await lab.fails("Async.VM.fly") == ["MESSAGE_METHOD_UNKNOWN", "VM.fly"]
    # InternalAsync. is the other prefix xapi removes
    vm = lab.db.create("VM", name_label="doomed")
    task = await lab.call("InternalAsync.VM.destroy", vm)
    assert isinstance(task, str) and lab.db.exists("task", task)
    await settle(lab)


async def test_the_async_decision_comes_after_count_unmarshalling_and_session(
    lab: OneHostLab,
) -> None:
    assert await lab.fails("Async.VM.get_record") == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "VM.get_record",
        "1",
        "0",
    ]
    assert (await lab.fails("Async.VM.set_VCPUs_max", "OpaqueRef:NULL", "many"))[0] == (
        "FIELD_TYPE_ERROR"
    )
    forged = await outcome(lab, "Async.VM.get_all", ["OpaqueRef:forged"])
    assert isinstance(forged, XapiError)
    assert forged.description == ["SESSION_INVALID", "OpaqueRef:forged"]


# ---- removed and pool-internal messages ------------------------------------------------------

REMOVED = [row["method"] for row in ROWS if row["lifecycle"] == "Removed_s"]
POOL_INTERNAL = [row["method"] for row in ROWS if row["pool_internal"] == "true"]


async def test_every_removed_message_answers_message_removed(lab: OneHostLab) -> None:
    assert len(REMOVED) == 96
    for name in REMOVED:
        method = TABLE.by_name[name]
        assert method.session
        args = arguments(method)
        assert await lab.fails(name, *args) == ["MESSAGE_REMOVED"], name
        # after the session check...
        forged = await outcome(lab, name, ["OpaqueRef:forged", *args])
        assert isinstance(forged, XapiError) and forged.code == "SESSION_INVALID", name
        # ...which comes after the parameter count
        if method.params is not None and not method.open_ended:
            too_many = await lab.fails(name, *args, "extra")
            assert too_many[0] == "MESSAGE_PARAMETER_COUNT_MISMATCH", name
    # whether or not the simulator has code for it
    assert await lab.fails("VM.snapshot_with_quiesce", "OpaqueRef:NULL", "x") == ["MESSAGE_REMOVED"]


async def test_pool_internal_messages_refuse_an_ordinary_session(lab: OneHostLab) -> None:
    assert len(POOL_INTERNAL) == 49
    internal = pool_session(lab)
    for name in POOL_INTERNAL:
        method = TABLE.by_name[name]
        args = arguments(method)
        assert await lab.fails(name, *args) == [
            "INTERNAL_ERROR",
            f'Internal API "{name}" call attempted with non-pool (external) session',
        ]
        # the alias names the canonical wire name (session_check's action)
        cls, _, message = name.partition(".")
        assert (await lab.fails(f"{cls}_{message}", *args))[0] == "INTERNAL_ERROR"
        with_pool = await outcome(lab, name, [internal, *args])
        assert not (isinstance(with_pool, XapiError) and with_pool.code == "INTERNAL_ERROR"), name


async def test_the_internal_error_comes_before_host_is_slave(lab: OneHostLab) -> None:
    member = lab.db.create("host", name_label="host2", address="127.0.0.9")
    session = lab.session
    refused = await outcome(lab, "host.tickle_heartbeat", [session])
    assert isinstance(refused, XapiError) and refused.code == "INTERNAL_ERROR"
    on_member = await dispatch.call(lab.pool, member, "pool.is_slave", [pool_session(lab), member])
    assert on_member is True
    with pytest.raises(XapiError) as info:
        await dispatch.call(lab.pool, member, "host.tickle_heartbeat", [session, {}])
    assert info.value.code == "INTERNAL_ERROR"
