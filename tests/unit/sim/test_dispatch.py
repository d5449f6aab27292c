"""The dispatcher: resolution, UTF-8, parameter counts, session and master checks, coercion,
Async tasks, the fall-through names (listMethods, isAlive, unknown), and the hidden messages."""

from __future__ import annotations

import asyncio

import pytest

from xorca.xapi.datamodel import Enum, MapOf, Prim, Ref, SetOf
from xorca.xapi.errors import XapiError
from xorca.xapi.values import DateTime, Value
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


@pytest.fixture
def session(pool: SimPool) -> str:
    return open_session(pool, pool.master_ref, "root", "", is_pool=False)


def member_of(pool: SimPool) -> str:
    return next(ref for ref in pool.db.refs("host") if ref != pool.master_ref)


async def call(pool: SimPool, method: str, *params: object, host: str | None = None) -> object:
    return await dispatch.call(pool, host or pool.master_ref, method, list(params))  # type: ignore[arg-type]


async def fails(pool: SimPool, method: str, *params: object, host: str | None = None) -> list[str]:
    with pytest.raises(XapiError) as info:
        await call(pool, method, *params, host=host)
    return info.value.description


async def test_login_and_calls(pool: SimPool) -> None:
    session = await call(pool, "session.login_with_password", "root", "xorca")
    assert isinstance(session, str) and session.startswith("OpaqueRef:")
    assert await call(pool, "pool.get_all", session) == [pool.pool_ref]
    assert await call(pool, "pool_get_all", session) == [pool.pool_ref]  # Class_message alias
    assert await fails(pool, "session.login_with_password", "root", "bad") == [
        "SESSION_AUTHENTICATION_FAILED",
        "root",
        "Authentication failure",
    ]


async def test_members_refuse_logins_and_plain_sessions(pool: SimPool) -> None:
    member = member_of(pool)
    assert await fails(pool, "session.login_with_password", "root", "xorca", host=member) == [
        "HOST_IS_SLAVE",
        "127.0.0.1",
    ]
    session = open_session(pool, pool.master_ref, "root", "", is_pool=False)
    assert await fails(pool, "VM.get_all", session, host=member) == ["HOST_IS_SLAVE", "127.0.0.1"]
    internal = open_session(pool, pool.master_ref, "root", "", is_pool=True)
    assert await call(pool, "VM.get_all", internal, host=member) == []


# ---- parameter counts (gen_server.ml operation) ---------------------------------------------


async def test_parameter_counts_leave_the_session_out_and_travel_as_strings(
    pool: SimPool, session: str
) -> None:
    vm = pool.db.create("VM", name_label="x")
    # too few, and too many on a message without defaults: exactly the count matches
    assert await fails(pool, "VM.get_record", session) == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "VM.get_record",
        "1",
        "0",
    ]
    assert await fails(pool, "VM.get_record", session, vm, "extra") == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "VM.get_record",
        "1",
        "2",
    ]
    assert await fails(pool, "VM.start", session, vm) == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "VM.start",
        "3",
        "1",
    ]
    # the error names the method as called
    assert (await fails(pool, "VM_get_record", session))[1] == "VM_get_record"
    # a message without a session counts every parameter
    assert await fails(pool, "session.login_with_password", "root") == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "session.login_with_password",
        "2",
        "1",
    ]
    # received is the count minus the session, even when there is none
    assert await fails(pool, "VM.get_all") == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "VM.get_all",
        "0",
        "-1",
    ]
    # the count comes before the session check
    assert (await fails(pool, "VM.get_record", "OpaqueRef:forged"))[0] == (
        "MESSAGE_PARAMETER_COUNT_MISMATCH"
    )


async def test_defaulted_parameters_may_be_left_out_or_followed_by_more(pool: SimPool) -> None:
    # login_with_password(uname, pwd, version = "1.1", originator = "")
    for extra in ([], ["1.1"], ["1.1", "xorca"], ["1.1", "xorca", "ignored", 42]):
        session = await call(pool, "session.login_with_password", "root", "xorca", *extra)
        assert isinstance(session, str) and pool.db.exists("session", session)
    assert pool.db.field("session", str(session), "originator") == "xorca"


async def test_constructors_take_exactly_the_session_and_one_struct(
    pool: SimPool, session: str
) -> None:
    assert await fails(pool, "network.create", session) == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "network.create",
        "1",
        "0",
    ]
    assert await fails(pool, "network.create", session, {"name_label": "n"}, {}) == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "network.create",
        "1",
        "2",
    ]
    ref = await call(pool, "network.create", session, {"name_label": "n", "unknown": 1})
    assert pool.db.field("network", str(ref), "name_label") == "n"


# ---- names that are no method (gen_server.ml's last branch) ---------------------------------


async def test_an_unknown_name_checks_its_first_parameter_as_a_session(
    pool: SimPool, session: str
) -> None:
    assert await fails(pool, "VM.fly") == ["MESSAGE_METHOD_UNKNOWN", "VM.fly"]
    assert await fails(pool, "VM.fly", "OpaqueRef:forged") == [
        "SESSION_INVALID",
        "OpaqueRef:forged",
    ]
    assert await fails(pool, "VM.fly", 42) == ["SESSION_INVALID", "42"]
    assert await fails(pool, "VM.fly", session, "more") == ["MESSAGE_METHOD_UNKNOWN", "VM.fly"]
    # a member refuses the ordinary session before it says the name is unknown
    member = member_of(pool)
    assert (await fails(pool, "VM.fly", session, host=member))[0] == "HOST_IS_SLAVE"
    internal = open_session(pool, pool.master_ref, "root", "", is_pool=True)
    assert await fails(pool, "VM.fly", internal, host=member) == [
        "MESSAGE_METHOD_UNKNOWN",
        "VM.fly",
    ]
    # message has no field getters (it is no database table)
    assert await fails(pool, "message.get_name", session, "x") == [
        "MESSAGE_METHOD_UNKNOWN",
        "message.get_name",
    ]


async def test_system_is_alive_echoes_its_first_parameter(pool: SimPool, session: str) -> None:
    # Scanf "system.isAlive:%s": the prefix with anything, or nothing, after it; no session
    assert await call(pool, "system.isAlive:7d6c2cf1", "7d6c2cf1") == "7d6c2cf1"
    assert await call(pool, "system.isAlive:", ["a"], "b") == ["a"]
    assert await call(pool, "Async.system.isAlive:x", "y") == "y"
    assert await fails(pool, "system.isAlive:x") == ["INTERNAL_ERROR", 'Failure("hd")']
    # without the colon it is an unknown name like any other
    assert await fails(pool, "system.isAlive", session) == [
        "MESSAGE_METHOD_UNKNOWN",
        "system.isAlive",
    ]
    assert await fails(pool, "system.isAlive", "u") == ["SESSION_INVALID", "u"]


async def test_list_methods_has_no_async_names(pool: SimPool) -> None:
    methods = dispatch.list_methods(pool)
    assert "VM.clone" in methods and "VM.get_all_records_where" in methods
    assert not [m for m in methods if str(m).startswith("Async.")]
    assert "system.listMethods" not in methods


# ---- removed messages, UUIDs, UTF-8 ----------------------------------------------------------


async def test_removed_messages_check_count_and_session_then_answer_message_removed(
    pool: SimPool, session: str
) -> None:
    vm = pool.db.create("VM", name_label="x")
    assert await fails(pool, "VM.snapshot_with_quiesce", session, vm, "snap") == ["MESSAGE_REMOVED"]
    assert await fails(pool, "Async.VM.snapshot_with_quiesce", session, vm, "snap") == [
        "MESSAGE_REMOVED"
    ]
    assert await fails(pool, "VM.snapshot_with_quiesce", session, vm) == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "VM.snapshot_with_quiesce",
        "2",
        "1",
    ]
    assert await fails(pool, "VMPP.get_all", "OpaqueRef:forged") == [
        "SESSION_INVALID",
        "OpaqueRef:forged",
    ]
    assert await fails(pool, "VMPP.get_all", session) == ["MESSAGE_REMOVED"]


async def test_get_by_uuid_names_the_table_as_the_datamodel_spells_it(
    pool: SimPool, session: str
) -> None:
    for cls in ("VM", "VM_metrics", "host", "SR"):
        assert await fails(pool, f"{cls}.get_by_uuid", session, "nope") == [
            "UUID_INVALID",
            cls,
            "nope",
        ]


async def test_invalid_utf8_is_refused_before_anything_else(pool: SimPool, session: str) -> None:
    # a lone surrogate is what invalid UTF-8 becomes in a decoded Python string
    reason = "Invalid UTF-8 string in parameter"
    assert await fails(pool, "VM.get_record", "\ud800") == ["INVALID_VALUE", reason, "S(\ud800)"]
    assert await fails(pool, "VM.fly", session, ["a", "b\udc80"]) == [
        "INVALID_VALUE",
        reason,
        "[S(a);S(b\udc80)]",
    ]
    assert await fails(pool, "nothing", {"k\udfff": 1}) == [
        "INVALID_VALUE",
        reason,
        "{k\udfff:I(1)}",
    ]
    assert await call(pool, "VM.get_all_where", session, 'field "name__label" = "é"') == []


def test_rpc_text_prints_as_ocaml_rpc_does() -> None:
    value: Value = [1, True, 2.5, "a", DateTime("19700101T00:00:00Z"), {"k": [], "j": {}}]
    assert (
        dispatch.rpc_text(value) == "[I(1);B(true);F(2.5);S(a);D(19700101T00:00:00Z);{k:[];j:{}}]"
    )
    assert dispatch.rpc_text([]) == "[]"
    assert dispatch.rpc_text(1e20) == "F(1e+20)"


# ---- get_all_where and get_all_records_where -------------------------------------------------

WHERE_CASES: list[tuple[str, set[str]]] = [
    ("true", {"web", "db", "tpl"}),
    ("false", set()),
    ('field "power_state" = "Running"', {"web", "db"}),
    ('field "power_state" = "running"', set()),  # the enum's spelling, not a lenient match
    ('field "is_a_template" = "true"', {"tpl"}),
    ('field "power_state" = "Running" and not (field "is_a_template" = "true")', {"web", "db"}),
    ('field "name__label" = "web" or field "name__label" = "db"', {"web", "db"}),
    ('not field "name__label" = "web" or field "name__label" = "db"', {"tpl"}),
    ('field "VCPUs__max" = "4"', {"db"}),
    ('field "memory__static_max" = "1073741824"', {"web", "tpl"}),
    ('field "HVM__shadow_multiplier" = "1.5"', {"db"}),
    ('field "HVM__shadow_multiplier" = "1"', {"web", "tpl"}),
    ("field \"tags\" = \"('a' 'b')\"", {"web"}),
    ('field "tags" = "()"', {"db", "tpl"}),
    ("field \"other_config\" = \"(('owner' 'it\\'s me'))\"", {"db"}),
    ('field "resident_on" = "OpaqueRef:NULL"', {"tpl"}),
    ('field "snapshot_time" = "19700101T00:00:00Z"', {"web", "db", "tpl"}),
    ('"a" = "a"', {"web", "db", "tpl"}),
    ('field "name__label" = field "name__description"', {"tpl"}),
]


@pytest.fixture
def vms(pool: SimPool) -> dict[str, str]:
    db = pool.db
    host = pool.master_ref
    return {
        "web": db.create(
            "VM",
            name_label="web",
            power_state="Running",
            resident_on=host,
            VCPUs_max=2,
            memory_static_max=1 << 30,
            tags=["a", "b"],
        ),
        "db": db.create(
            "VM",
            name_label="db",
            power_state="Running",
            resident_on=host,
            VCPUs_max=4,
            HVM_shadow_multiplier=1.5,
            other_config={"owner": "it's me"},
        ),
        "tpl": db.create(
            "VM",
            name_label="tpl",
            name_description="tpl",
            is_a_template=True,
            memory_static_max=1 << 30,
        ),
    }


@pytest.mark.parametrize(("expr", "names"), WHERE_CASES)
async def test_get_all_records_where_filters_on_database_strings(
    pool: SimPool, session: str, vms: dict[str, str], expr: str, names: set[str]
) -> None:
    records = await call(pool, "VM.get_all_records_where", session, expr)
    assert isinstance(records, dict)
    assert {str(r["name_label"]) for r in records.values()} == names  # type: ignore[index]
    for ref, record in records.items():
        assert record == pool.db.get("VM", ref)
    refs = await call(pool, "VM.get_all_where", session, expr)
    assert refs == list(records)
    assert await call(pool, "VM_get_all_where", session, expr) == refs


async def test_filter_errors_on_the_wire(pool: SimPool, session: str, vms: dict[str, str]) -> None:
    assert await fails(pool, "VM.get_all_records_where", session, 'field "a" <> "b"') == [
        "INVALID_VALUE",
        'field "a" <> "b"',
        'Failure("lexing: empty token")',
    ]
    assert await fails(pool, "VM.get_all_where", session, "") == [
        "INVALID_VALUE",
        "",
        "Xapi_database__Db_filter_parse.MenhirBasics.Error",
    ]
    # the API's name of a nested field is no column
    assert await fails(pool, "VM.get_all_where", session, 'field "name_label" = "web"') == [
        "INTERNAL_ERROR",
        "missing field",
        "name_label",
        "",
    ]
    # a missing column is only found when a row is evaluated
    assert await call(pool, "SR.get_all_where", session, 'field "nope" = ""') == []
    assert await call(pool, "VM.get_all_where", session, 'false and field "nope" = ""') == []
    assert await call(pool, "VM.get_all_where", session, f'field "_ref" = "{vms["db"]}"') == [
        vms["db"]
    ]
    assert await fails(pool, "VM.get_all_where", session) == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "VM.get_all_where",
        "1",
        "0",
    ]


# ---- hidden messages -------------------------------------------------------------------------


async def test_hidden_messages_with_evident_behaviour(pool: SimPool, session: str) -> None:
    assert await call(pool, "pool.is_slave", session, pool.master_ref) is False
    internal = open_session(pool, pool.master_ref, "root", "", is_pool=True)
    assert await call(pool, "pool.is_slave", internal, "x", host=member_of(pool)) is True
    assert await call(pool, "host.is_in_emergency_mode", session) is False
    assert (await fails(pool, "host.is_in_emergency_mode", session, "x"))[0] == (
        "MESSAGE_PARAMETER_COUNT_MISMATCH"
    )
    sr = pool.db.create("SR", name_label="sr")
    await call(pool, "SR.set_virtual_allocation", session, sr, "1024")
    assert pool.db.field("SR", sr, "virtual_allocation") == 1024
    vdi = pool.db.create("VDI", name_label="d", SR=sr)
    await call(pool, "VDI.set_missing", session, vdi, True)
    await call(pool, "VDI.set_snapshot_time", session, vdi, "20250319T04:16:24Z")
    assert pool.db.field("VDI", vdi, "missing") is True
    assert pool.db.field("VDI", vdi, "snapshot_time") == "20250319T04:16:24Z"
    await call(pool, "VDI.set_cbt_enabled", session, vdi, True)
    assert pool.db.field("VDI", vdi, "cbt_enabled") is True
    await call(pool, "VDI.set_metadata_of_pool", session, vdi, pool.pool_ref)
    assert pool.db.field("VDI", vdi, "metadata_of_pool") == pool.pool_ref
    cbt = pool.db.create("VDI", name_label="cbt", SR=sr, type="cbt_metadata")
    assert await fails(pool, "VDI.set_metadata_of_pool", session, cbt, pool.pool_ref) == [
        "VDI_INCOMPATIBLE_TYPE",
        cbt,
        "cbt_metadata",
    ]
    # a hidden message the simulator does not do
    assert await fails(pool, "host.get_thread_diagnostics", session, "x") == [
        "NOT_IMPLEMENTED",
        "host.get_thread_diagnostics",
    ]


async def test_local_sessions_serve_only_the_host_that_made_them(pool: SimPool) -> None:
    member = member_of(pool)
    login = "session.slave_local_login_with_password"
    local = await call(pool, login, "root", "xorca", host=member)
    assert isinstance(local, str)
    assert await call(pool, "pool.is_slave", local, member, host=member) is True
    assert await call(pool, "VM.get_all", local, host=member) == []
    assert await fails(pool, "VM.get_all", local) == ["SESSION_INVALID", local]
    assert not pool.db.exists("session", local)  # kept outside the database
    await call(pool, "session.local_logout", local, host=member)
    assert await fails(pool, "VM.get_all", local, host=member) == ["SESSION_INVALID", local]
    assert await fails(pool, login, "root", "bad", host=member) == [
        "SESSION_AUTHENTICATION_FAILED",
        "root",
        "Authentication failure",
    ]
    # local_logout forgets local sessions only
    session = open_session(pool, pool.master_ref, "root", "", is_pool=False)
    await call(pool, "session.local_logout", session)
    assert await call(pool, "pool.get_all", session) == [pool.pool_ref]


# ---- coercion, tasks, faults, expiry ---------------------------------------------------------


async def test_arguments_are_unmarshalled_before_the_session_is_checked(pool: SimPool) -> None:
    assert await fails(pool, "VM.set_VCPUs_max", "OpaqueRef:forged", "OpaqueRef:NULL", "x") == [
        "FIELD_TYPE_ERROR",
        "value",
    ]


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


async def test_async_calls_run_as_tasks(pool: SimPool, session: str) -> None:
    vm = pool.db.create("VM", name_label="x")
    task = await call(pool, "Async.VM.destroy", session, vm)
    assert isinstance(task, str)
    record = pool.db.get("task", task)
    assert record["name_label"] == "Async.VM.destroy"
    await asyncio.wait_for(pool.running.get(task) or asyncio.sleep(0), 5)
    record = pool.db.get("task", task)
    assert record["status"] == "success"
    assert record["result"] == "<value></value>"
    assert await fails(pool, "Async.VM.get_all", session) == [
        "Fault",
        "No async mode for this operation (rpc: VM.get_all)",
    ]


async def test_injected_failures(pool: SimPool, session: str) -> None:
    pool.faults.fail_calls["VM.get_all"] = ["INTERNAL_ERROR", "boom"]
    assert await fails(pool, "VM.get_all", session) == ["INTERNAL_ERROR", "boom"]
    assert await fails(pool, "Async.VM.get_all", session) == ["INTERNAL_ERROR", "boom"]
    pool.faults.fail_calls["*"] = ["HOST_OFFLINE", "x"]
    assert await fails(pool, "VM.fly") == ["HOST_OFFLINE", "x"]
    assert await call(pool, "system.listMethods")  # never injected


async def test_idle_sessions_expire(pool: SimPool, session: str) -> None:
    pool.sessions[session].last_active -= pool.config.session_idle_timeout + 1
    assert await fails(pool, "pool.get_all", session) == ["SESSION_INVALID", session]
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
