"""The HTTP edges every route shares: problem details, authentication, request ids and access
logs, the body size limit.

Errors are RFC 9457 problem details (``application/problem+json``): ``type``, ``title``,
``status``, ``detail``, and ``code`` / ``params`` when XAPI (or xorca, ``XORCA_*``) gave them.
Every one is an `ApiProblem` (`xorca.api.core.errors`) by the time it is answered, and
`problem_response` is the one place an answer is written: the handlers here turn the
framework's own errors (validation, unknown paths and methods, anything unexpected) into
problems first.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xorca.api.core.acl import Principal
from xorca.api.core.errors import ApiProblem, BodyTooLarge
from xorca.api.core.problems import PROBLEM_JSON, FieldError

__all__ = [
    "BodyLimit",
    "RequestLog",
    "authenticate",
    "problem_handlers",
    "problem_response",
]

log = logging.getLogger("xorca.api.access")


def problem_response(error: ApiProblem, instance: str | None = None) -> Response:
    """The answer to ``error`` on the request for path ``instance``."""
    body = error.problem(instance).to_json()
    return Response(body, error.status, error.headers, media_type=PROBLEM_JSON)


Handler = Callable[[Request, Any], Coroutine[Any, Any, Response]]


def problem_handlers() -> dict[int | type[Exception], Handler]:
    async def api_problem(request: Request, error: ApiProblem) -> Response:
        return problem_response(error, request.url.path)

    async def invalid(request: Request, error: RequestValidationError) -> Response:
        errors = [
            FieldError(
                field=".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                message=e["msg"],
            )
            for e in error.errors()
        ]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid request"
        return problem_response(ApiProblem(400, detail, errors=errors), request.url.path)

    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        refused = ApiProblem(error.status_code, detail, headers=error.headers)
        return problem_response(refused, request.url.path)

    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        failed = ApiProblem(500, "the gateway failed; see its logs")
        return problem_response(failed, request.url.path)

    return {
        ApiProblem: api_problem,
        RequestValidationError: invalid,
        StarletteHTTPException: http_error,
        Exception: unexpected,
    }


# -- authentication -----------------------------------------------------------------------

Verify = Callable[[str], Principal | None]


def authenticate(request: Request, verify: Verify) -> Principal:
    """The caller: ``Authorization: Bearer <token>``, or ``?access_token=`` (browsers cannot set
    headers on an EventSource or a WebSocket). 401 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not (scheme.lower() == "bearer" and token.strip()):
        token = request.query_params.get("access_token", "")
    principal = verify(token.strip()) if token.strip() else None
    if principal is None:
        detail = "a valid API token is required" if token else "no API token given"
        raise ApiProblem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="xorca"'})
    request.state.principal = principal
    return principal


# -- middleware -----------------------------------------------------------------------------


class BodyLimit:
    """Requests whose body exceeds ``limit`` bytes get 413 (by Content-Length, or counted)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(BodyTooLarge(self.limit), scope, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge as error:
            await self._refuse(error, scope, send)

    async def _refuse(self, error: BodyTooLarge, scope: Scope, send: Send) -> None:
        response = problem_response(error, scope.get("path"))
        await response({"type": "http"}, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


class RequestLog:
    """A request id (``X-Request-ID``, taken from the request or made) on every answer, one
    access log line per request, and the request metrics."""

    def __init__(self, app: ASGIApp, observe: Callable[[str, str, int, float], None]) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode(errors="replace")[:64]
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]  # fmt: skip
                elapsed = time.perf_counter() - started
                route = _route_of(scope)
                self.observe(scope["method"], route, status, elapsed)
                principal = scope.get("state", {}).get("principal")
                log.info(
                    "%s %s %d %.1f ms",
                    scope["method"],
                    scope["path"],
                    status,
                    elapsed * 1000,
                    extra={"fields": {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                        "principal": getattr(principal, "id", None),
                    }},
                )  # fmt: skip
            await send(message)

        await self.app(scope, receive, sending)


def _route_of(scope: Scope) -> str:
    """The route's pattern (bounded label values for metrics), ``unmatched`` for none."""
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str):
        return "unmatched"
    # a route of a router included under /api/v1 keeps its own path: put the prefix back
    if scope.get("path", "").startswith("/api/v1/") and not path.startswith("/api/v1"):
        return "/api/v1" + path
    return path
