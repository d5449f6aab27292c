"""The simulator's HTTP layer as xapi's own (``http_svr.ml``, ``api_server.ml``) shows it on the
wire: status lines with xapi's reason phrases, its headers, the 401 challenge, the POST handler
picked by the longest prefix of the path, CORS preflights, and unknown methods.
"""

from __future__ import annotations

import socket

import httpx
import orjson
import pytest

from tests.support.simthread import SimThread

LIST_METHODS = (
    b"<?xml version='1.0'?><methodCall><methodName>system.listMethods</methodName>"
    b"<params></params></methodCall>"
)


@pytest.fixture
def url(sim: SimThread) -> str:
    return str(sim.pool(1).describe()["url"])


def raw(url: str, request: bytes) -> bytes:
    """The whole head of the answer to ``request``, as bytes off the socket."""
    host, port = url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n\r\n")[0]


def jsonrpc_body(method: str, params: list[object]) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1})


def test_every_status_line_carries_xapi_reason_phrase(url: str) -> None:
    ok = raw(url, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200 OK\r\n")
    missing = raw(url, b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n")
    assert missing.startswith(b"HTTP/1.1 404 Not Found\r\n")
    refused = raw(url, b"GET /rrd_updates?start=0 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 401 Unauthorised\r\n")
    broken = raw(url, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n<xml")
    assert broken.startswith(b"HTTP/1.1 500 Internal Error\r\n")
    unknown = raw(url, b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert unknown.startswith(b"HTTP/1.1 501 Method not implemented\r\n")


def test_a_401_challenges_with_the_handler_label_as_realm(url: str) -> None:
    for path, realm in [
        ("/rrd_updates?start=0", "Get RRD updates."),
        ("/host_rrd", "Get Host RRD."),
        ("/vm_rrd?uuid=x", "Get VM RRD."),
    ]:
        answer = httpx.get(f"{url}{path}")
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == f'Basic realm="{realm}"'
        assert answer.headers["content-type"] == "text/html"
        assert "HTTP 401 unauthorised" in answer.text
    wrong = httpx.get(f"{url}/rrd_updates?start=0", auth=("root", "wrong"))
    assert wrong.status_code == 401
    assert httpx.get(f"{url}/rrd_updates?start=0", auth=("root", "xorca")).status_code == 200


def test_api_answers_carry_xapi_headers(url: str) -> None:
    answer = httpx.post(f"{url}/jsonrpc", content=jsonrpc_body("system.listMethods", []))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-headers"] == "X-Requested-With"
    assert answer.headers["cache-control"] == "no-cache, no-store"
    assert answer.headers["connection"] == "keep-alive"


def test_post_handlers_are_chosen_by_the_longest_prefix(url: str) -> None:
    # /, /RPC2 and the legacy /json read XML-RPC; any unregistered path falls through to /
    for path in ["/", "/RPC2", "/json", "/xmlrpc", "/RPC2/deeper", "/anything"]:
        answer = httpx.post(f"{url}{path}", content=LIST_METHODS)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "text/xml", path
        assert answer.text.startswith("<?xml"), path
    # everything under /jsonrpc is JSON-RPC
    for path in ["/jsonrpc", "/jsonrpc/v2"]:
        answer = httpx.post(f"{url}{path}", content=jsonrpc_body("system.listMethods", []))
        assert answer.status_code == 200, path
        assert isinstance(answer.json()["result"], list), path
    # /jsonX is the legacy handler's prefix: XML-RPC, so a JSON body is a malformed call
    answer = httpx.post(f"{url}/jsonx", content=jsonrpc_body("system.listMethods", []))
    assert answer.status_code == 500
    # handlers that are not RPC never read an XML-RPC call
    for path in ["/cli", "/services/xenops", "/remote_db_access"]:
        answer = httpx.post(f"{url}{path}", content=LIST_METHODS)
        assert answer.status_code == 404, path


def test_cors_preflight_is_answered_as_xapi_does(url: str) -> None:
    answer = httpx.options(
        f"{url}/jsonrpc", headers={"Access-Control-Request-Headers": "content-type"}
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-headers"] == "content-type, X-Requested-With"
    assert answer.headers["access-control-allow-methods"] == "PUT"
    bare = httpx.options(f"{url}/")
    assert bare.headers["access-control-allow-headers"] == "X-Requested-With"
