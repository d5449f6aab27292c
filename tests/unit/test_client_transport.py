"""The HTTP seam alone: encoding, decoding, and every kind of bad answer as a typed error."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from xorca.xapi import codec
from xorca.xapi.client.tls import TlsPolicy
from xorca.xapi.client.transport import JsonRpcUnsupported, Protocol, Transport, translate
from xorca.xapi.errors import (
    CallTimeout,
    ConnectionFailed,
    HandleInvalid,
    ProtocolError,
    SessionInvalid,
    TlsError,
)

URL = "http://10.0.0.1"
Handler = Callable[[httpx.Request], httpx.Response]


def transport(handler: Handler) -> Transport:
    return Transport(tls=TlsPolicy.verified(), http=httpx.MockTransport(handler))


def answer(body: bytes, content_type: str = "application/json", status: int = 200) -> Handler:
    return lambda request: httpx.Response(
        status, content=body, headers={"content-type": content_type}
    )


async def rpc(handler: Handler, protocol: Protocol = "jsonrpc", method: str = "VM.get_all") -> Any:
    t = transport(handler)
    try:
        return await t.rpc(URL, method, ["OpaqueRef:s"], protocol=protocol, timeout=5)
    finally:
        await t.aclose()


def jsonrpc_echo(result: Any) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        req = codec.decode_jsonrpc_request(request.content)
        assert request.url.path == "/jsonrpc"
        assert request.headers["content-type"] == "application/json"
        return httpx.Response(200, content=codec.encode_jsonrpc_result(req.id, req.version, result))

    return handle


async def test_jsonrpc_round_trip_keeps_native_types() -> None:
    value = {"memory": 4294967296, "ok": True, "load": 0.5, "tags": ["a"]}
    assert await rpc(jsonrpc_echo(value)) == value


async def test_xmlrpc_round_trip_gives_ints_as_text_and_unwraps_the_envelope() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        method, params = codec.decode_xmlrpc_request(request.content)
        assert (request.url.path, method, params) == ("/", "VM.get_all", ["OpaqueRef:s"])
        body = codec.encode_xmlrpc_response(codec.success({"memory": 4294967296}))
        return httpx.Response(200, content=body, headers={"content-type": "text/xml"})

    assert await rpc(handle, "xmlrpc") == {"memory": "4294967296"}


async def test_api_failures_become_their_class_over_both_protocols() -> None:
    def jsonrpc(request: httpx.Request) -> httpx.Response:
        req = codec.decode_jsonrpc_request(request.content)
        body = codec.encode_jsonrpc_error(req.id, "2.0", "HANDLE_INVALID", ["VM", "OpaqueRef:x"])
        return httpx.Response(200, content=body)

    with pytest.raises(HandleInvalid) as info:
        await rpc(jsonrpc)
    assert info.value.method == "VM.get_all" and info.value.params == ["VM", "OpaqueRef:x"]

    failure = codec.encode_xmlrpc_response(codec.failure("SESSION_INVALID", ["OpaqueRef:s"]))
    with pytest.raises(SessionInvalid):
        await rpc(answer(failure, "text/xml"), "xmlrpc")


async def test_system_list_methods_has_no_envelope() -> None:
    body = codec.encode_xmlrpc_response(["VM.start", "VM.get_all"])
    assert await rpc(answer(body, "text/xml"), "xmlrpc", "system.listMethods") == [
        "VM.start",
        "VM.get_all",
    ]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"jsonrpc":"2.0","result":', "malformed JSON-RPC"),  # truncated
        (b"\xff\xfe{not json", "malformed JSON-RPC"),  # non-UTF-8
        (b'{"jsonrpc":"2.0","id":1}', "malformed JSON-RPC"),  # neither result nor error
        (b'{"jsonrpc":"2.0","result":[],"id":99}', "id 99"),  # someone else's answer
        (b'{"jsonrpc":"2.0","error":{"code":1},"id":1}', "malformed JSON-RPC"),
        (b"[1,2,3]", "malformed JSON-RPC"),
    ],
)
async def test_bad_jsonrpc_answers_are_protocol_errors_naming_the_call(
    body: bytes, fragment: str
) -> None:
    with pytest.raises(ProtocolError) as info:
        await rpc(answer(body))
    assert info.value.method == "VM.get_all" and fragment in str(info.value)
    assert not isinstance(info.value, JsonRpcUnsupported)


@pytest.mark.parametrize(
    "body",
    [
        b"<methodResponse><params><param><value><struct>",  # truncated
        b"<?xml version='1.0' encoding='utf-8'?><methodResponse>\xff</methodResponse>",
        b"<methodResponse><params><param><value>bare</value></param></params></methodResponse>",
        b"<methodResponse><params><param><value><struct><member><name>Status</name>"
        b"<value>Maybe</value></member></struct></value></param></params></methodResponse>",
        codec.encode_xmlrpc_fault(1, "no"),
        b"<!DOCTYPE x [<!ENTITY a 'b'>]><methodResponse/>",
    ],
)
async def test_bad_xmlrpc_answers_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        await rpc(answer(body, "text/xml"), "xmlrpc")
    assert info.value.method == "VM.get_all"


async def test_http_errors_carry_their_status() -> None:
    page = b"<html><body><h1>HTTP 500 Internal Server Error</h1></body></html>"
    with pytest.raises(ProtocolError) as info:
        await rpc(answer(page, "text/html", 500), "xmlrpc")
    assert info.value.status == 500 and "HTTP 500" in str(info.value)
    with pytest.raises(ProtocolError) as info:
        await rpc(answer(b'{"oops": 1}', "application/json", 502))
    assert info.value.status == 502


async def test_a_host_without_jsonrpc_is_recognised() -> None:
    page = b"<html><body><h1>HTTP 500 Internal Server Error</h1></body></html>"
    for handler in (answer(page, "text/html", 500), answer(b"", "text/plain", 404)):
        with pytest.raises(JsonRpcUnsupported):
            await rpc(handler)


def test_httpx_failures_translate_with_sent_flags() -> None:
    request = httpx.Request("POST", URL)
    refused = translate("m", URL, httpx.ConnectError("refused", request=request))
    assert isinstance(refused, ConnectionFailed) and not refused.sent
    slow_connect = translate("m", URL, httpx.ConnectTimeout("slow", request=request))
    assert isinstance(slow_connect, CallTimeout) and not slow_connect.sent
    slow_answer = translate("m", URL, httpx.ReadTimeout("slow", request=request))
    assert isinstance(slow_answer, CallTimeout) and slow_answer.sent
    cut = translate("m", URL, httpx.RemoteProtocolError("closed", request=request))
    assert isinstance(cut, ConnectionFailed) and cut.sent
    tls_failure = httpx.ConnectError("tls", request=request)
    tls_failure.__cause__ = ssl.SSLCertVerificationError("certificate verify failed")
    assert isinstance(translate("m", URL, tls_failure), TlsError)
    leaky = URL + "/rrd_updates?session_id=OpaqueRef:secret"
    secret = translate("m", leaky, httpx.ConnectError("refused", request=request))
    assert "secret" not in str(secret) and secret.url == URL + "/rrd_updates"


async def test_unencodable_parameters_are_the_callers_bug() -> None:
    t = transport(jsonrpc_echo(""))
    with pytest.raises(TypeError, match=r"VM\.start"):
        await t.rpc(URL, "VM.start", [object()], protocol="jsonrpc", timeout=1)  # type: ignore[list-item]
    await t.aclose()
