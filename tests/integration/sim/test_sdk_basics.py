"""The simulator through the official ``xenapi`` SDK (XML-RPC): sessions, records, errors."""

from __future__ import annotations

import time
import xmlrpc.client
from collections.abc import Iterator

import pytest
import XenAPI

from tests.support.sdk import raw_proxy, sdk_session
from tests.support.simthread import SimThread
from xorca.xapi.datamodel import datamodel


@pytest.fixture
def xapi(sim: SimThread) -> Iterator[XenAPI.Session]:
    with sdk_session(sim.pool(1).describe()["url"]) as session:
        yield session


def test_login_returns_a_session_that_reads_the_pool(xapi: XenAPI.Session, sim: SimThread) -> None:
    assert xapi.handle.startswith("OpaqueRef:")
    pools = xapi.xenapi.pool.get_all()
    assert len(pools) == 1
    record = xapi.xenapi.pool.get_record(pools[0])
    assert record["name_label"] == sim.pool(1).pool.name
    assert record["master"] == sim.pool(1).pool.master_ref


def test_wrong_password_fails_after_the_delay(sim: SimThread) -> None:
    started = time.monotonic()
    with (
        pytest.raises(XenAPI.Failure) as info,
        sdk_session(sim.pool(1).describe()["url"], password="wrong"),
    ):
        pass
    assert info.value.details == ["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]
    assert time.monotonic() - started >= sim.pool(1).pool.config.failed_login_delay


def test_member_host_answers_host_is_slave_with_the_master_address(sim: SimThread) -> None:
    described = sim.pool(1).describe()
    master_address = described["url"].split("//")[1].rsplit(":", 1)[0]
    for member in described["members"]:
        with pytest.raises(XenAPI.Failure) as info, sdk_session(member):
            pass
        assert info.value.details == ["HOST_IS_SLAVE", master_address]


def test_a_session_from_the_master_is_refused_by_a_member(
    xapi: XenAPI.Session, sim: SimThread
) -> None:
    with raw_proxy(sim.pool(1).describe()["members"][0]) as member:
        answer = member.VM.get_all(xapi.handle)
    assert answer["Status"] == "Failure"
    assert answer["ErrorDescription"][0] == "HOST_IS_SLAVE"


def test_logout_invalidates_the_session(sim: SimThread) -> None:
    url = sim.pool(1).describe()["url"]
    with sdk_session(url) as session:
        handle = session.handle
        session.xenapi.session.logout()
    with raw_proxy(url) as raw:
        assert raw.VM.get_all(handle) == {
            "Status": "Failure",
            "ErrorDescription": ["SESSION_INVALID", handle],
        }


def test_records_carry_every_field_of_the_datamodel(xapi: XenAPI.Session) -> None:
    dm = datamodel()
    checked = 0
    for cdef in dm.classes.values():
        if "get_all_records" not in cdef.messages or cdef.name in ("session", "message"):
            continue
        if cdef.messages["get_all_records"].lifecycle == "Removed_s":
            continue  # VMPP and the like answer MESSAGE_REMOVED, as on a real pool
        records = getattr(xapi.xenapi, cdef.name).get_all_records()
        for ref, record in records.items():
            assert ref.startswith("OpaqueRef:"), (cdef.name, ref)
            assert set(record) == set(cdef.fields), (cdef.name, set(record) ^ set(cdef.fields))
            checked += 1
    assert checked > 100


def test_message_records_have_the_message_fields(xapi: XenAPI.Session) -> None:
    fields = set(datamodel().cls("message").fields)
    records = xapi.xenapi.message.get_all_records()
    assert records, "the inventory creates some messages"
    for record in records.values():
        assert set(record) == fields


def test_ints_travel_as_strings_and_datetimes_as_datetimes(xapi: XenAPI.Session) -> None:
    vm = next(
        ref
        for ref, r in xapi.xenapi.VM.get_all_records().items()
        if not r["is_a_template"] and not r["is_control_domain"]
    )
    record = xapi.xenapi.VM.get_record(vm)
    assert isinstance(record["memory_static_max"], str) and int(record["memory_static_max"]) > 0
    assert isinstance(record["snapshot_time"], xmlrpc.client.DateTime)
    assert isinstance(record["is_a_template"], bool)
    assert xapi.xenapi.VM.get_memory_static_max(vm) == record["memory_static_max"]


def test_getters_setters_and_map_and_set_messages(xapi: XenAPI.Session) -> None:
    vm = next(r for r, rec in xapi.xenapi.VM.get_all_records().items() if not rec["is_a_template"])
    xapi.xenapi.VM.set_name_description(vm, "set by a test")
    assert xapi.xenapi.VM.get_name_description(vm) == "set by a test"
    xapi.xenapi.VM.add_to_other_config(vm, "xorca-test", "1")
    assert xapi.xenapi.VM.get_other_config(vm)["xorca-test"] == "1"
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.add_to_other_config(vm, "xorca-test", "2")
    assert info.value.details[0] == "MAP_DUPLICATE_KEY"
    xapi.xenapi.VM.remove_from_other_config(vm, "xorca-test")
    assert "xorca-test" not in xapi.xenapi.VM.get_other_config(vm)
    xapi.xenapi.VM.add_tags(vm, "xorca-tag")
    assert "xorca-tag" in xapi.xenapi.VM.get_tags(vm)
    xapi.xenapi.VM.remove_tags(vm, "xorca-tag")
    assert "xorca-tag" not in xapi.xenapi.VM.get_tags(vm)


def test_lookups_by_uuid_and_name(xapi: XenAPI.Session) -> None:
    host = xapi.xenapi.host.get_all()[0]
    record = xapi.xenapi.host.get_record(host)
    assert xapi.xenapi.host.get_by_uuid(record["uuid"]) == host
    assert host in xapi.xenapi.host.get_by_name_label(record["name_label"])
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.host.get_by_uuid("00000000-0000-0000-0000-000000000000")
    assert info.value.details == ["UUID_INVALID", "host", "00000000-0000-0000-0000-000000000000"]


def test_api_errors_have_xapi_codes_and_parameters(xapi: XenAPI.Session) -> None:
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.get_record("OpaqueRef:00000000-0000-0000-0000-000000000000")
    assert info.value.details == [
        "HANDLE_INVALID",
        "VM",
        "OpaqueRef:00000000-0000-0000-0000-000000000000",
    ]
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.no_such_message()
    assert info.value.details == ["MESSAGE_METHOD_UNKNOWN", "VM.no_such_message"]
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.get_record()
    # gen_server.ml counts the parameters without the session
    assert info.value.details == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "1", "0"]
    vm = xapi.xenapi.VM.get_all()[0]
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.set_VCPUs_at_startup(vm, "many")
    assert info.value.details[0] == "FIELD_TYPE_ERROR"


def test_system_list_methods_is_a_bare_array(sim: SimThread) -> None:
    with raw_proxy(sim.pool(1).describe()["url"]) as raw:
        methods = raw.system.listMethods()
    assert isinstance(methods, list)
    assert "VM.get_all_records" in methods and "VM.start" in methods
    # only synchronous names (XAPI.md §1): XO would take "Async" for a class
    assert not [name for name in methods if name.startswith("Async.")]


def test_class_underscore_message_alias(xapi: XenAPI.Session, sim: SimThread) -> None:
    with raw_proxy(sim.pool(1).describe()["url"]) as raw:
        answer = raw.VM_get_all(xapi.handle)
    assert answer["Status"] == "Success"
    assert sorted(answer["Value"]) == sorted(xapi.xenapi.VM.get_all())
