"""A small HTTP/1.1 server on h11 for the simulator's endpoints.

xapi's HTTP layer does things general-purpose servers do not: ``CONNECT /console`` answered 200
and then raw RFB on the same socket, exact content types, HTML error bodies. h11 keeps the
protocol state machine honest; this module adds body limits, keep-alive and hand-over of the
socket for CONNECT and WebSocket upgrades.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import h11

log = logging.getLogger(__name__)

READ_CHUNK = 65536
#: what xapi's 500 page names when a request body is over the limit
TOO_LARGE = "Http_svr.Client_requested_size_over_limit"


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # lowercase names; repeated headers joined with ", "
    body: bytes = b""
    peer: str = ""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def cookie(self, name: str) -> str | None:
        for part in self.headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None


#: the reason phrases of xapi's HTTP server (``http_svr.ml``, in its spelling); other statuses,
#: which only the simulator's own paths send, take the standard phrase
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorised",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    500: "Internal Error",
    501: "Method not implemented",
}


def reason(status: int) -> str:
    """The phrase on the status line: every answer carries one, as xapi's do."""
    return REASONS.get(status) or HTTPStatus(status).phrase


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


class Stream:
    """The raw byte stream of a connection handed over after CONNECT or an upgrade.

    Bytes that h11 had already read past the request come first.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, prefix: bytes):
        self._reader = reader
        self._writer = writer
        self._prefix = bytearray(prefix)

    async def read(self, n: int = READ_CHUNK) -> bytes:
        if self._prefix:
            out = bytes(self._prefix[:n])
            del self._prefix[:n]
            return out
        return await self._reader.read(n)

    async def readexactly(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = await self.read(n - len(out))
            if not chunk:
                raise asyncio.IncompleteReadError(bytes(out), n)
            out += chunk
        return bytes(out)

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    async def drain(self) -> None:
        await self._writer.drain()

    def close(self) -> None:
        self._writer.close()

    @property
    def reader(self) -> asyncio.StreamReader:
        return self._reader

    @property
    def writer(self) -> asyncio.StreamWriter:
        return self._writer


#: a handler answers with a Response, or takes over the socket (returns None after using it)
Takeover = Callable[[Stream], Awaitable[None]]
Handler = Callable[[Request], Awaitable["Response | Takeover"]]


def html_error(status: int, body: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """xapi answers HTTP-level failures with an HTML page and closes the connection
    (``http_svr.ml`` ``response_error_html``), never with an API error."""
    return Response(status, body.encode(), "text/html", headers=headers or [], close=True)


# The pages of xapi's own error answers (``http_svr.ml``), word for word.


def bad_request() -> Response:
    return html_error(
        400,
        "<html><body><h1>HTTP 400 bad request</h1>The HTTP request was malformed. Please "
        "correct and retry.</body></html>",
    )


def unauthorised(realm: str) -> Response:
    """401 with the challenge xapi sends: the realm is the handler's label."""
    return html_error(
        401,
        "<html><body><h1>HTTP 401 unauthorised</h1>Please check your credentials and "
        "retry.</body></html>",
        [("WWW-Authenticate", f'Basic realm="{realm}"')],
    )


def forbidden() -> Response:
    return html_error(
        403,
        "<html><body><h1>HTTP 403 forbidden</h1>Access to the requested resource is "
        "forbidden.</body></html>",
    )


def not_found(detail: str = "") -> Response:
    return html_error(404, f"<html><body><h1>HTTP 404 not found</h1>{detail}</body></html>")


def internal_error(extra: str = "") -> Response:
    """What a handler's exception becomes; ``extra`` is its (escaped) text."""
    more = f"<h1> Additional information </h1>{escape(extra)}" if extra else ""
    return html_error(
        500,
        "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; "
        "please wait a while and try again. If the problem persists, please contact your "
        f"support representative.{more}</body></html>",
    )


def method_not_implemented(method: str) -> Response:
    return html_error(
        501,
        "<html><body><h1>HTTP 501 Method Not Implemented</h1>"
        f"<p>{escape(method)} not supported.<br /></p></body></html>",
    )


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class HttpServer:
    """Serves ``handler`` on one address; `drop_connections` cuts every open connection."""

    def __init__(self, handler: Handler, *, max_body: int, tls: ssl.SSLContext | None = None):
        self.handler = handler
        self.max_body = max_body
        self.tls = tls
        self.server: asyncio.Server | None = None
        self.connections: set[asyncio.StreamWriter] = set()
        self.stopping = False
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        self.stopping = False
        self.server = await asyncio.start_server(
            self._serve,
            host,
            port,
            reuse_address=True,
            ssl=self.tls,
        )
        sock = self.server.sockets[0]
        return int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.stopping = True
            self.server.close()
            # a connection accepted just now has a handler task that has not run yet: it is not
            # in `_handlers`, so it is not cancelled (cancelled before its first step it would
            # never reach its `finally`, nor close its socket); it sees `stopping` and closes
            for _ in range(2):
                await asyncio.sleep(0)
            self.drop_connections()
            # handlers blocked in a long poll would outlive the server otherwise
            for task in list(self._handlers):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
            self.server = None

    def drop_connections(self) -> None:
        for writer in list(self.connections):
            transport = writer.transport
            if transport is not None:
                transport.abort()
        self.connections.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.stopping:  # accepted as the server stopped: nobody will serve it
            transport = writer.transport
            if transport is not None:
                transport.abort()
            return
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        self.connections.add(writer)
        peer = writer.get_extra_info("peername")
        try:
            await self._loop(reader, writer, f"{peer[0]}:{peer[1]}" if peer else "")
        except (ConnectionError, asyncio.IncompleteReadError, h11.ProtocolError, OSError):
            pass
        except asyncio.CancelledError:
            # only `stop` cancels a connection's task. Ending it normally matters: asyncio's
            # stream protocol reads the finished task's exception(), which raises for a
            # cancelled task, and then never closes its transport (a ResourceWarning later)
            pass
        except Exception:
            log.exception("connection failed")
        finally:
            self.connections.discard(writer)
            transport = writer.transport
            if transport is not None and not transport.is_closing():
                transport.abort()

    async def _loop(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        while True:
            event = await _next_event(conn, reader)
            if isinstance(event, h11.ConnectionClosed) or event is None:
                return
            if not isinstance(event, h11.Request):
                return
            request = Request(
                event.method.decode("ascii", "replace"),
                event.target.decode("ascii", "replace"),
                _headers(event.headers),
                peer=peer,
            )
            # xapi refuses a body over its limit with the exception's name in a 500 page
            # (``Http_svr.read_body`` raises, ``handle_one`` answers)
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_body:
                await _send(conn, writer, internal_error(TOO_LARGE))
                return
            too_big = await self._read_body(conn, reader, request)
            if too_big:
                await _send(conn, writer, internal_error(TOO_LARGE))
                return
            answer = await self.handler(request)
            if not isinstance(answer, Response):
                if request.method == "CONNECT":
                    writer.write(
                        conn.send(
                            h11.Response(
                                status_code=200,
                                reason=b"OK",
                                headers=[
                                    ("Connection", "keep-alive"),
                                    ("Cache-Control", "no-cache, no-store"),
                                ],
                            )
                        )
                        or b""
                    )
                    await writer.drain()
                await answer(Stream(reader, writer, conn.trailing_data[0]))
                return
            await _send(conn, writer, answer)
            if answer.close or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _read_body(
        self, conn: h11.Connection, reader: asyncio.StreamReader, request: Request
    ) -> bool:
        if request.method in ("CONNECT",) or request.headers.get("upgrade"):
            return False
        body = bytearray()
        while True:
            event = await _next_event(conn, reader)
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_body:
                    return True
            elif isinstance(event, h11.EndOfMessage) or event is None:
                break
            else:
                break
        request.body = bytes(body)
        return False


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(READ_CHUNK)
            conn.receive_data(data)
            continue
        if event is h11.PAUSED:
            return None
        return event


def _headers(raw: object) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in raw:  # type: ignore[attr-defined]
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


async def _send(conn: h11.Connection, writer: asyncio.StreamWriter, response: Response) -> None:
    # the headers xapi's answers carry (``response_of_request``, ``response_error_html``)
    headers: list[tuple[str, str]] = []
    if response.content_type is not None:
        headers.append(("Content-Type", response.content_type))
    headers.append(("Content-Length", str(len(response.body))))
    headers.extend(response.headers)
    headers.append(("Connection", "close" if response.close else "keep-alive"))
    headers.append(("Cache-Control", "no-cache, no-store"))
    status = h11.Response(
        status_code=response.status, reason=reason(response.status).encode(), headers=headers
    )
    writer.write(conn.send(status) or b"")
    if response.body:
        writer.write(conn.send(h11.Data(data=response.body)) or b"")
    writer.write(conn.send(h11.EndOfMessage()) or b"")
    await writer.drain()
