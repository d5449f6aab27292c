"""The HTTP face of a simulated host: XML-RPC and JSON-RPC, metrics, consoles (XAPI.md §1, §5, §6).

Every host of a pool gets one `HostEndpoint` bound to its own loopback address; the pool master
serves the API, members answer ``HOST_IS_SLAVE`` as xapi does.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import Callable

from xorca.xapi import codec
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.consoles.endpoint import console_takeover
from xorca.xapi_sim.http.server import HttpServer, Request, Response, Takeover, html_error
from xorca.xapi_sim.metrics.pool import PoolMetrics
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.pool import SimPool

log = logging.getLogger(__name__)

CORS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, GET, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Requested-With"),
]
METRICS_PATHS = frozenset({"/rrd_updates", "/host_rrd", "/vm_rrd", "/sr_rrd"})
WELCOME = b"<html><head><title>XenServer</title></head><body>xapi (xorca simulator)</body></html>"


class HostEndpoint:
    def __init__(
        self, pool: SimPool, host_ref: str, metrics: PoolMetrics, tls: ssl.SSLContext | None = None
    ):
        self.pool = pool
        self.host_ref = host_ref
        self.metrics = metrics
        self.http = HttpServer(self.handle, max_body=pool.config.max_body_bytes, tls=tls)

    async def handle(self, request: Request) -> Response | Takeover:
        if self.pool.faults.stopped:
            return Response(503, close=True)
        try:
            return await self._route(request)
        except Exception:
            log.exception("%s %s failed", request.method, request.target)
            return html_error(500, "Internal Server Error")

    async def _route(self, request: Request) -> Response | Takeover:
        method, path = request.method, request.path
        if method == "OPTIONS":
            return Response(200, b"", headers=list(CORS))
        if method == "POST":
            if path == "/jsonrpc":
                return await self.jsonrpc(request.body)
            return await self.xmlrpc(request.body)
        if path == "/console":
            return await console_takeover(self.pool, self.host_ref, request)
        if method == "GET" and path in METRICS_PATHS:
            if not self.authorised(request):
                return html_error(401, "Unauthorised")
            status, content_type, body = await self.metrics.respond(
                self.host_ref, path, request.query, request.headers.get("accept")
            )
            return Response(status, body, content_type)
        if method == "GET" and path == "/":
            return Response(200, WELCOME, "text/html")
        return html_error(404, "Not Found")

    def authorised(self, request: Request) -> bool:
        """``session_id`` in the query or a cookie, or HTTP Basic with the pool's credentials."""
        session = request.param("session_id") or request.cookie("session_id")
        if session is not None:
            try:
                self.pool.check_session(session)
            except XapiError:
                return False
            return True
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, pwd = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return False
            return user == self.pool.config.username and pwd == self.pool.config.password
        return False

    async def call(self, method: str, params: list[Value]) -> Value:
        return await dispatch.call(self.pool, self.host_ref, method, params)

    async def xmlrpc(self, body: bytes) -> Response:
        try:
            method, params = codec.decode_xmlrpc_request(body)
        except codec.CodecError as e:
            return html_error(500, "Internal Server Error", f"<p>{_escape(str(e))}</p>")
        try:
            result = await self.call(method, params)
        except XapiError as e:
            return self._xml(codec.encode_xmlrpc_response(codec.failure(e.code, e.params)))
        if method == "system.listMethods":  # the one answer without a Status struct
            return self._xml(codec.encode_xmlrpc_response(result))
        envelope = codec.success(result)
        return self._xml(await _encode(codec.encode_xmlrpc_response, envelope, _big(result)))

    async def jsonrpc(self, body: bytes) -> Response:
        try:
            req = codec.decode_jsonrpc_request(body)
        except codec.CodecError as e:
            return html_error(500, "Internal Server Error", f"<p>{_escape(str(e))}</p>")
        try:
            result = await self.call(req.method, req.params)
        except XapiError as e:
            out = codec.encode_jsonrpc_error(req.id, req.version, e.code, e.params)
        else:
            out = await _encode(
                lambda r: codec.encode_jsonrpc_result(req.id, req.version, r), result, _big(result)
            )
        return Response(200, out, "application/json", headers=list(CORS))

    def _xml(self, body: bytes) -> Response:
        return Response(200, body, "text/xml", headers=list(CORS))


def _big(value: Value) -> bool:
    return isinstance(value, dict | list) and len(value) > 200


async def _encode(encoder: Callable[[Value], bytes], value: Value, big: bool) -> bytes:
    """Encode large answers in a thread, so one ``get_all_records`` does not stall the others.

    Safe because stored records are never mutated (the database is copy-on-write).
    """
    if big:
        return await asyncio.to_thread(encoder, value)
    return encoder(value)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
