"""The method table over real sockets: ``system.listMethods``, an ``Async.`` mismatch,
``get_all_records_where`` and the dispatch-level errors, through JSON-RPC (httpx) and XML-RPC
(the official ``xenapi`` SDK)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import httpx
import orjson
import pytest
import XenAPI

from tests.support.sdk import raw_proxy, sdk_session
from tests.support.simthread import SimThread

#: what it selects does not change while other tests run (control domains are always running)
EXPR = 'field "is_control_domain" = "true" and not (field "power_state" = "Halted")'


def tsv_names() -> list[str]:
    text = resources.files("xorca.xapi_sim").joinpath("data", "methods.tsv").read_text()
    return [row["method"] for row in csv.DictReader(io.StringIO(text), delimiter="\t")]


def rpc(url: str, method: str, params: list[Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}
    answer = httpx.post(f"{url}/jsonrpc", content=orjson.dumps(body), timeout=60)
    assert answer.status_code == 200
    return orjson.loads(answer.content)  # type: ignore[no-any-return]


@pytest.fixture
def url(sim: SimThread) -> str:
    return str(sim.pool(1).describe()["url"])


@pytest.fixture
def session(url: str) -> str:
    return str(rpc(url, "session.login_with_password", ["root", "xorca"])["result"])


@pytest.fixture
def xapi(url: str) -> Iterator[XenAPI.Session]:
    with sdk_session(url) as s:
        yield s


def test_list_methods_over_both_protocols_is_the_tsv(url: str) -> None:
    expected = set(tsv_names())
    over_json = rpc(url, "system.listMethods", [])["result"]
    with raw_proxy(url) as raw:
        over_xml = raw.system.listMethods()  # a bare array, no Status struct
    for listed in (over_json, over_xml):
        assert isinstance(listed, list)
        assert set(listed) - expected == set()
        assert expected - set(listed) == set()
        assert not [name for name in listed if name.startswith("Async.")]
    # what XO does with it: every class with get_all_records, taken before the first dot
    classes = {name.split(".")[0] for name in over_xml if name.endswith(".get_all_records")}
    assert "VM" in classes and "Async" not in classes


def test_async_mismatch_is_the_fault_over_both_protocols(
    url: str, session: str, xapi: XenAPI.Session
) -> None:
    fault = ["Fault", "No async mode for this operation (rpc: VM.get_all)"]
    answer = rpc(url, "Async.VM.get_all", [session])
    assert answer["error"] == {"code": 1, "message": "Fault", "data": fault[1:]}
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.Async.VM.get_all()
    assert info.value.details == fault
    # the alias spelling after the prefix is the same method
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.Async.VM_get_all()
    assert info.value.details == ["Fault", "No async mode for this operation (rpc: VM_get_all)"]
    # an accepted one answers a task named as called
    sr = xapi.xenapi.SR.get_all()[0]
    task = xapi.xenapi.Async.SR.scan(sr)
    assert task.startswith("OpaqueRef:")
    assert xapi.xenapi.task.get_name_label(task) == "Async.SR.scan"


def test_get_all_records_where_over_both_protocols(
    url: str, session: str, xapi: XenAPI.Session, sim: SimThread
) -> None:
    db = sim.pool(1).pool.db
    expected = {
        ref
        for ref, record in db.records("VM")
        if record["is_control_domain"] and record["power_state"] != "Halted"
    }
    assert len(expected) == len(sim.pool(1).pool.db.refs("host"))
    over_json = rpc(url, "VM.get_all_records_where", [session, EXPR])["result"]
    assert set(over_json) == expected
    assert all(r["is_control_domain"] is True for r in over_json.values())
    over_xml = xapi.xenapi.VM.get_all_records_where(EXPR)
    assert set(over_xml) == expected
    assert set(xapi.xenapi.VM.get_all_where(EXPR)) == expected
    # the filter compares the database's strings: a nested field is name__label
    one = next(iter(over_xml.values()))
    label = f'field "name__label" = "{one["name_label"]}"'
    assert one["uuid"] in {r["uuid"] for r in xapi.xenapi.VM.get_all_records_where(label).values()}


def test_dispatch_errors_over_xml_rpc(xapi: XenAPI.Session, url: str) -> None:
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.get_all_records_where('field "a" <> "b"')
    assert info.value.details == [
        "INVALID_VALUE",
        'field "a" <> "b"',
        'Failure("lexing: empty token")',
    ]
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.get_by_uuid("nope")
    assert info.value.details == ["UUID_INVALID", "VM", "nope"]
    with pytest.raises(XenAPI.Failure) as info:
        xapi.xenapi.VM.snapshot_with_quiesce("OpaqueRef:NULL", "x")
    assert info.value.details == ["MESSAGE_REMOVED"]
    with raw_proxy(url) as raw:
        assert raw.VM.fly("OpaqueRef:forged")["ErrorDescription"] == [
            "SESSION_INVALID",
            "OpaqueRef:forged",
        ]
        alive = getattr(raw, "system.isAlive:0b8e7c39")("0b8e7c39")
        assert alive == {"Status": "Success", "Value": "0b8e7c39"}


def test_invalid_utf8_over_json_rpc(url: str, session: str) -> None:
    # JSON can carry a lone surrogate as an escape: xapi decodes it to invalid UTF-8 bytes
    body = b'{"jsonrpc":"2.0","method":"VM.get_by_uuid","params":["%s","\\ud800"],"id":1}'
    answer = httpx.post(f"{url}/jsonrpc", content=body.replace(b"%s", session.encode()))
    error = json.loads(answer.content)["error"]  # orjson refuses the surrogate escape
    assert error["message"] == "INVALID_VALUE"
    assert error["data"] == ["Invalid UTF-8 string in parameter", "S(\ud800)"]
