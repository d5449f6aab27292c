"""JSON-RPC 1.0 and 2.0 with httpx, byte-level checks of both protocols, CORS, bad input."""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
import pytest

from tests.support.sdk import raw_proxy
from tests.support.simthread import SimThread


def rpc(
    url: str, method: str, params: list[Any], *, version: str | None = "2.0", id: Any = 1
) -> dict[str, Any]:
    body: dict[str, Any] = {"method": method, "params": params, "id": id}
    if version:
        body["jsonrpc"] = version
    answer = httpx.post(f"{url}/jsonrpc", content=orjson.dumps(body))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    return orjson.loads(answer.content)  # type: ignore[no-any-return]


@pytest.fixture
def url(sim: SimThread) -> str:
    return str(sim.pool(1).describe()["url"])


@pytest.fixture
def session(url: str) -> str:
    answer = rpc(url, "session.login_with_password", ["root", "xorca"])
    return str(answer["result"])


def test_json_rpc_2_success_and_error_shapes(url: str, session: str) -> None:
    answer = rpc(url, "VM.get_all_records", [session])
    assert set(answer) == {"jsonrpc", "result", "id"}
    assert answer["jsonrpc"] == "2.0" and answer["id"] == 1
    vm = next(iter(answer["result"].values()))
    assert isinstance(vm["memory_static_max"], int)  # ints are bare numbers in JSON-RPC
    assert isinstance(vm["snapshot_time"], str) and vm["snapshot_time"].endswith("Z")
    error = rpc(url, "VM.get_record", [session, "OpaqueRef:bad"], id="x")
    assert error == {
        "jsonrpc": "2.0",
        "error": {"code": 1, "message": "HANDLE_INVALID", "data": ["VM", "OpaqueRef:bad"]},
        "id": "x",
    }


def test_json_rpc_1_shapes(url: str, session: str) -> None:
    answer = rpc(url, "pool.get_all", [session], version=None, id=7)
    assert answer["error"] is None and answer["id"] == 7 and len(answer["result"]) == 1
    error = rpc(url, "VM.no_such_message", [session], version=None, id=8)
    assert error == {
        "result": None,
        "error": ["MESSAGE_METHOD_UNKNOWN", "VM.no_such_message"],
        "id": 8,
    }


def test_params_may_be_missing_in_2_0(url: str) -> None:
    body = orjson.dumps({"jsonrpc": "2.0", "method": "system.listMethods", "id": 1})
    answer = orjson.loads(httpx.post(f"{url}/jsonrpc", content=body).content)
    assert "VM.start" in answer["result"]


def test_a_session_from_json_rpc_works_over_xml_rpc(url: str, session: str) -> None:
    with raw_proxy(url) as raw:
        answer = raw.pool.get_all(session)
    assert answer["Status"] == "Success"


def test_notification_and_malformed_bodies_get_http_500_html(url: str) -> None:
    for body in (b'{"jsonrpc":"2.0","method":"pool.get_all","params":[]}', b"{not json", b"[1,2]"):
        answer = httpx.post(f"{url}/jsonrpc", content=body)
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "text/html"
    for body in (b"<methodCall><methodName>x", b"<?xml version='1.0'?><nope/>", b"\xff\xfe"):
        answer = httpx.post(f"{url}/", content=body)
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "text/html"


def test_xml_rpc_answers_are_compact_and_exactly_typed(url: str, session: str) -> None:
    call = (
        "<?xml version='1.0'?><methodCall><methodName>pool.get_all</methodName><params>"
        f"<param><value><string>{session}</string></value></param></params></methodCall>"
    )
    for path in ("/", "/RPC2", "/xmlrpc", "/anything/else"):
        answer = httpx.post(f"{url}{path}", content=call)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/xml"
        assert b"> <" not in answer.content and b">\n<" not in answer.content
        assert b"<member><name>Status</name><value>Success</value></member>" in answer.content


def test_cors_preflight(url: str) -> None:
    for path in ("/", "/jsonrpc"):
        answer = httpx.options(
            f"{url}{path}",
            headers={"Origin": "http://example.test", "Access-Control-Request-Method": "POST"},
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "*"


def test_oversized_bodies_are_refused_as_xapi_refuses_them(url: str, sim: SimThread) -> None:
    # xapi's read_body raises, and its server answers any handler's exception with a 500 page
    limit = sim.pool(1).pool.config.max_body_bytes
    answer = httpx.post(f"{url}/jsonrpc", content=b" " * (limit + 1))
    assert answer.status_code == 500
    assert answer.reason_phrase == "Internal Error"
    assert answer.headers["content-type"] == "text/html"
    assert answer.headers["connection"] == "close"
    assert "Http_svr.Client_requested_size_over_limit" in answer.text


def test_wrong_types_and_invalid_utf8_are_typed_errors(url: str, session: str) -> None:
    vm = rpc(url, "VM.get_all", [session])["result"][0]
    error = rpc(url, "VM.start", [session, vm, "yes", False])
    assert error["error"]["message"] == "FIELD_TYPE_ERROR"
    body = (
        b'{"jsonrpc":"2.0","method":"VM.set_name_label","params":["%s","%s","\\ud800"],"id":1}'
        % (session.encode(), vm.encode())
    )
    # the error echoes the parameter (gen_server.ml: Rpc.to_string of it), lone surrogate and
    # all, which strict parsers such as orjson refuse; the stdlib reads the \ud800 escape
    answer = json.loads(httpx.post(f"{url}/jsonrpc", content=body).content)
    assert answer["error"]["message"] == "INVALID_VALUE"
    assert answer["error"]["data"] == ["Invalid UTF-8 string in parameter", "S(\ud800)"]


def test_ints_arrive_leniently(url: str, session: str) -> None:
    vm = rpc(url, "VM.get_all", [session])["result"][0]
    for value in (4, "4"):
        answer = rpc(url, "VM.set_VCPUs_max", [session, vm, value])
        # VM.set_VCPUs_max may refuse for power-state reasons, but never as a type error
        assert answer.get("error") is None or answer["error"]["message"] != "FIELD_TYPE_ERROR"
