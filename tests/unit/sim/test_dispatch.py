"""The dispatcher: resolution, arity, session and master checks, coercion, Async tasks."""

from __future__ import annotations

import asyncio

import pytest

from xorca.xapi.datamodel import Enum, MapOf, Prim, Ref, SetOf
from xorca.xapi.errors import XapiError
from xorca.xapi_sim.handlers.session import open_session
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.pool import SimConfig, SimPool


@pytest.fixture
def pool() -> SimPool:
    p = SimPool("test", SimConfig(failed_login_delay=0.01, operation_seconds=0.05))
    master = p.db.create("host", address="127.0.0.1", name_label="master")
    p.db.create("host", address="127.0.0.2", name_label="member")
    p.db.create("pool", master=master, name_label="test")
    return p


async def call(pool: SimPool, method: str, *params: object, host: str | None = None) -> object:
    return await dispatch.call(pool, host or pool.master_ref, method, list(params))  # type: ignore[arg-type]


async def test_login_and_calls(pool: SimPool) -> None:
    session = await call(pool, "session.login_with_password", "root", "xorca")
    assert isinstance(session, str) and session.startswith("OpaqueRef:")
    assert await call(pool, "pool.get_all", session) == [pool.pool_ref]
    assert await call(pool, "pool_get_all", session) == [pool.pool_ref]  # Class_message alias
    with pytest.raises(XapiError) as info:
        await call(pool, "session.login_with_password", "root", "bad")
    assert info.value.description == [
        "SESSION_AUTHENTICATION_FAILED",
        "root",
        "Authentication failure",
    ]


async def test_members_refuse_logins_and_plain_sessions(pool: SimPool) -> None:
    member = next(ref for ref in pool.db.refs("host") if ref != pool.master_ref)
    with pytest.raises(XapiError) as info:
        await call(pool, "session.login_with_password", "root", "xorca", host=member)
    assert info.value.description == ["HOST_IS_SLAVE", "127.0.0.1"]
    session = open_session(pool, pool.master_ref, "root", "", is_pool=False)
    with pytest.raises(XapiError):
        await call(pool, "VM.get_all", session, host=member)
    internal = open_session(pool, pool.master_ref, "root", "", is_pool=True)
    assert await call(pool, "VM.get_all", internal, host=member) == []


async def test_unknown_methods_arity_and_sessions(pool: SimPool) -> None:
    session = open_session(pool, pool.master_ref, "root", "", is_pool=False)
    with pytest.raises(XapiError) as info:
        await call(pool, "VM.fly", session)
    assert info.value.description == ["MESSAGE_METHOD_UNKNOWN", "VM.fly"]
    with pytest.raises(XapiError) as info:
        await call(pool, "VM.get_record", session)
    assert info.value.description == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "2", "1"]
    with pytest.raises(XapiError) as info:
        await call(pool, "VM.get_all", "OpaqueRef:forged")
    assert info.value.description == ["SESSION_INVALID", "OpaqueRef:forged"]
    # trailing optional parameters may be omitted
    assert await call(pool, "session.login_with_password", "root", "xorca", "1.1")


def test_coercion_is_lenient_where_xapi_is() -> None:
    pool = SimPool("c")
    assert dispatch.coerce(pool, Prim("int"), "42", "x") == 42
    assert dispatch.coerce(pool, Prim("float"), 3, "x") == 3.0
    assert dispatch.coerce(pool, Prim("float"), "2.5", "x") == 2.5
    assert dispatch.coerce(pool, Enum("vm_power_state"), "running", "x") == "Running"
    assert dispatch.coerce(pool, SetOf(Prim("int")), ["1", 2], "x") == [1, 2]
    assert dispatch.coerce(pool, MapOf(Prim("string"), Prim("string")), {"a": "b"}, "x") == {
        "a": "b"
    }
    assert dispatch.coerce(pool, Ref("VM"), "OpaqueRef:x", "x") == "OpaqueRef:x"
    for t, value in (
        (Prim("bool"), "true"),
        (Prim("int"), "x"),
        (Prim("string"), 5),
        (SetOf(Prim("int")), 1),
    ):
        with pytest.raises(XapiError) as info:
            dispatch.coerce(pool, t, value, "param")  # type: ignore[arg-type]
        assert info.value.description == ["FIELD_TYPE_ERROR", "param"]
    with pytest.raises(XapiError) as info:
        dispatch.coerce(pool, Enum("vm_power_state"), "Exploded", "power_state")
    assert info.value.description == ["INVALID_VALUE", "power_state", "Exploded"]
    with pytest.raises(XapiError) as info:
        dispatch.coerce(pool, Prim("string"), "\ud800", "name")
    assert info.value.code == "INVALID_VALUE"


async def test_async_calls_run_as_tasks(pool: SimPool) -> None:
    session = open_session(pool, pool.master_ref, "root", "", is_pool=False)
    vm = pool.db.create("VM", name_label="x")
    task = await call(pool, "Async.VM.destroy", session, vm)
    assert isinstance(task, str)
    record = pool.db.get("task", task)
    assert record["name_label"] == "Async.VM.destroy"
    await asyncio.wait_for(pool.running.get(task) or asyncio.sleep(0), 5)
    record = pool.db.get("task", task)
    assert record["status"] == "success"
    assert record["result"] == "<value></value>"
    with pytest.raises(XapiError) as info:
        await call(pool, "Async.VM.get_all", session)
    assert info.value.code == "Fault"


async def test_injected_failures_and_listing(pool: SimPool) -> None:
    session = open_session(pool, pool.master_ref, "root", "", is_pool=False)
    pool.faults.fail_calls["VM.get_all"] = ["INTERNAL_ERROR", "boom"]
    with pytest.raises(XapiError) as info:
        await call(pool, "VM.get_all", session)
    assert info.value.description == ["INTERNAL_ERROR", "boom"]
    methods = dispatch.list_methods(pool)
    assert "system.listMethods" in methods and "Async.VM.clone" in methods


async def test_idle_sessions_expire(pool: SimPool) -> None:
    session = open_session(pool, pool.master_ref, "root", "", is_pool=False)
    pool.sessions[session].last_active -= pool.config.session_idle_timeout + 1
    with pytest.raises(XapiError) as info:
        await call(pool, "pool.get_all", session)
    assert info.value.description == ["SESSION_INVALID", session]
    assert not pool.db.exists("session", session)


async def test_finished_tasks_beyond_the_cap_are_collected(pool: SimPool) -> None:
    from xorca.xapi_sim.state import tasks

    pool.config.max_tasks = 3
    running = tasks.create_task(pool, "still running", pool.master_ref)
    finished = []
    for i in range(5):
        ref = tasks.create_task(pool, f"done {i}", pool.master_ref)
        tasks.succeed(pool, ref, "")
        finished.append(ref)
    left = set(pool.db.refs("task"))
    assert running in left
    assert len(left & set(finished)) == 3
