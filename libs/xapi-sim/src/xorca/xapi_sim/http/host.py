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
from xorca.xapi_sim.http.server import (
    HttpServer,
    Request,
    Response,
    Takeover,
    internal_error,
    method_not_implemented,
    not_found,
    unauthorised,
)
from xorca.xapi_sim.metrics.pool import PoolMetrics
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.pool import SimPool

log = logging.getLogger(__name__)

#: what xapi adds to every API answer (``api_server.ml``)
API_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Headers", "X-Requested-With"),
]
#: the metrics handlers and their labels, which are the realms of their 401 (``rrdd_proxy.ml``)
METRICS_REALMS = {
    "/rrd_updates": "Get RRD updates.",
    "/host_rrd": "Get Host RRD.",
    "/vm_rrd": "Get VM RRD.",
    "/sr_rrd": "Get SR RRD.",
}
#: xapi's POST handlers (``datamodel.ml`` ``http_actions``), picked by the longest prefix of the
#: path (``http_svr.ml``, a radix tree): so ``/xmlrpc`` reaches ``/`` and ``/jsonrpc/x`` JSON-RPC.
#: ``/json`` is the legacy handler, which reads and answers XML-RPC. The others are not RPC and
#: not simulated.
POST_HANDLERS = {
    "/": "xmlrpc",
    "/RPC2": "xmlrpc",
    "/json": "xmlrpc",
    "/jsonrpc": "jsonrpc",
    "/cli": None,
    "/services": None,
    "/remote_db_access": None,
    "/remote_db_access_v2": None,
}
#: the methods xapi's server has handlers for; any other is a 501 (``http_svr.ml``)
KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "CONNECT", "OPTIONS"})
WELCOME = b"<html><head><title>XenServer</title></head><body>xapi (xorca simulator)</body></html>"


def post_handler(path: str) -> str | None:
    """The POST handler xapi picks for ``path``: the longest registered prefix."""
    best = max((p for p in POST_HANDLERS if path.startswith(p)), key=len)
    return POST_HANDLERS[best]


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
        except Exception as e:
            log.exception("%s %s failed", request.method, request.target)
            return internal_error(repr(e))

    async def _route(self, request: Request) -> Response | Takeover:
        method, path = request.method, request.path
        if method not in KNOWN_METHODS:
            return method_not_implemented(method)
        if method == "OPTIONS":
            return options(request)
        if method == "POST":
            handler = post_handler(path)
            if handler == "jsonrpc":
                return await self.jsonrpc(request.body)
            if handler == "xmlrpc":
                return await self.xmlrpc(request.body)
            return not_found()
        if path == "/console":
            return await console_takeover(self.pool, self.host_ref, request)
        if method == "GET" and path in METRICS_REALMS:
            if not self.authorised(request):
                return unauthorised(METRICS_REALMS[path])
            status, content_type, body = await self.metrics.respond(
                self.host_ref, path, request.query, request.headers.get("accept")
            )
            return Response(status, body, content_type)
        if method == "GET" and path == "/":
            return Response(200, WELCOME, "text/html")
        return not_found()

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
            return internal_error(str(e))
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
            return internal_error(str(e))
        try:
            result = await self.call(req.method, req.params)
        except XapiError as e:
            out = codec.encode_jsonrpc_error(req.id, req.version, e.code, e.params)
        else:
            out = await _encode(
                lambda r: codec.encode_jsonrpc_result(req.id, req.version, r), result, _big(result)
            )
        return Response(200, out, "application/json", headers=list(API_HEADERS))

    def _xml(self, body: bytes) -> Response:
        return Response(200, body, "text/xml", headers=list(API_HEADERS))


def options(request: Request) -> Response:
    """A CORS preflight, answered as ``Http_svr.respond_to_options`` does."""
    asked = request.headers.get("access-control-request-headers")
    return Response(
        200,
        headers=[
            ("Access-Control-Allow-Origin", "*"),
            (
                "Access-Control-Allow-Headers",
                f"{asked}, X-Requested-With" if asked else "X-Requested-With",
            ),
            ("Access-Control-Allow-Methods", "PUT"),
        ],
    )


def _big(value: Value) -> bool:
    return isinstance(value, dict | list) and len(value) > 200


async def _encode(encoder: Callable[[Value], bytes], value: Value, big: bool) -> bytes:
    """Encode large answers in a thread, so one ``get_all_records`` does not stall the others.

    Safe because stored records are never mutated (the database is copy-on-write).
    """
    if big:
        return await asyncio.to_thread(encoder, value)
    return encoder(value)
