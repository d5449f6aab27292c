"""Server-side WebSocket for consoles: an RFB byte stream carried in binary messages.

XO and XO Lite reach a console with `GET /console?...` upgraded to a WebSocket with subprotocol
`binary` (noVNC's convention), and treat the messages as one continuous byte stream. The HTTP
server has already parsed the request with h11 when it sees the upgrade, so this module starts
from there:

- `handshake_response(method, headers)` checks the upgrade request and returns the headers of the
  `101 Switching Protocols` answer (accepting `binary` when offered); it raises
  `WebSocketHandshakeError` (a ValueError: answer 400) otherwise;
- `WebSocketStream(reader, writer)` wraps the raw connection after the 101 was sent, framing with
  `wsproto`, and is a `ByteReader`/`ByteWriter` for `rfb.serve_rfb`: reads return the payload
  bytes of incoming messages, `write` sends binary messages (cut at 64 KiB), pings are
  answered, a close from the peer is acknowledged and reads as end of stream;
- `accept_websocket(...)` does both, writing the 101 itself.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.frame_protocol import CloseReason

from xorca.xapi_sim.consoles.rfb import ByteWriter

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
Headers = Mapping[str, str] | Iterable[tuple[bytes | str, bytes | str]]
"""h11's list of (name, value) pairs, or a mapping of names to (comma-joined) values."""


class WebSocketHandshakeError(ValueError):
    """Not an acceptable WebSocket upgrade request: answer 400."""


class ByteSource(Protocol):
    """The raw side of the connection; `asyncio.StreamReader` is one."""

    async def read(self, n: int = -1, /) -> bytes: ...


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _tokens(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [t.strip() for k, v in headers if k == name for t in v.split(",") if t.strip()]


def accept_token(key: str) -> str:
    """`Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455, 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()  # noqa: S324


def handshake_response(
    method: bytes | str, headers: Headers, *, subprotocols: Sequence[str] = ("binary",)
) -> list[tuple[str, str]]:
    """The headers of the 101 answer to an upgrade request, or WebSocketHandshakeError."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    lowered = [(_text(k).lower(), _text(v)) for k, v in pairs]
    if _text(method).upper() != "GET":
        raise WebSocketHandshakeError("a WebSocket upgrade must be a GET")
    if "websocket" not in (t.lower() for t in _tokens(lowered, "upgrade")):
        raise WebSocketHandshakeError("missing 'Upgrade: websocket'")
    if "upgrade" not in (t.lower() for t in _tokens(lowered, "connection")):
        raise WebSocketHandshakeError("missing 'Connection: Upgrade'")
    if _tokens(lowered, "sec-websocket-version") != ["13"]:
        raise WebSocketHandshakeError("only WebSocket version 13 is supported")
    keys = _tokens(lowered, "sec-websocket-key")
    try:
        valid = len(keys) == 1 and len(base64.b64decode(keys[0], validate=True)) == 16
    except binascii.Error:
        valid = False
    if not valid:
        raise WebSocketHandshakeError("missing or malformed Sec-WebSocket-Key")
    response = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_token(keys[0])),
    ]
    offered = _tokens(lowered, "sec-websocket-protocol")
    chosen = next((p for p in offered if p in subprotocols), None)
    if chosen is not None:
        response.append(("Sec-WebSocket-Protocol", chosen))
    return response


def encode_response(headers: Sequence[tuple[str, str]]) -> bytes:
    """The raw `HTTP/1.1 101` answer, for a caller that does not send it through h11."""
    lines = ["HTTP/1.1 101 Switching Protocols", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


class WebSocketStream:
    """A byte stream over the WebSocket messages of an accepted connection."""

    def __init__(
        self,
        reader: ByteSource,
        writer: ByteWriter,
        *,
        initial_data: bytes = b"",
        max_message: int = 65536,
    ) -> None:
        self.max_message = max_message
        self._reader = reader
        self._writer = writer
        self._conn = Connection(ConnectionType.SERVER)
        self._buffer = bytearray()
        self._eof = False
        if initial_data:  # bytes h11 read past the request
            self._receive(initial_data)

    @property
    def is_open(self) -> bool:
        return self._conn.state is ConnectionState.OPEN

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            if self._eof:
                partial = bytes(self._buffer)
                self._buffer.clear()
                raise asyncio.IncompleteReadError(partial, n)
            data = await self._reader.read(65536)
            if not data:
                self._eof = True
            else:
                self._receive(data)
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _receive(self, data: bytes) -> None:
        self._conn.receive_data(data)
        for event in self._conn.events():
            if isinstance(event, BytesMessage):
                self._buffer += event.data
            elif isinstance(event, TextMessage):
                self._buffer += event.data.encode()
            elif isinstance(event, Ping):
                self._writer.write(self._conn.send(event.response()))
            elif isinstance(event, CloseConnection):
                if self._conn.state is ConnectionState.REMOTE_CLOSING:
                    self._writer.write(self._conn.send(event.response()))
                elif self._conn.state is ConnectionState.OPEN:
                    # wsproto's report of a frame it could not parse: close with its code.
                    reply = CloseConnection(code=event.code, reason=event.reason)
                    self._writer.write(self._conn.send(reply))
                self._eof = True

    def write(self, data: bytes) -> None:
        """Send `data` as binary messages of at most `max_message` bytes: a full 800x600
        frame is 1.9 MB, over the 1 MiB default limit of common clients (websockets)."""
        if self._conn.state is not ConnectionState.OPEN:
            raise ConnectionResetError("the WebSocket is closed")
        view = memoryview(data)
        frames = [
            self._conn.send(BytesMessage(data=bytes(view[i : i + self.max_message])))
            for i in range(0, len(view), self.max_message)
        ]
        self._writer.write(b"".join(frames))

    async def drain(self) -> None:
        await self._writer.drain()

    def close(self) -> None:
        if self._conn.state is ConnectionState.OPEN:
            with contextlib.suppress(Exception):
                self._writer.write(
                    self._conn.send(CloseConnection(code=CloseReason.NORMAL_CLOSURE))
                )
        self._writer.close()

    async def wait_closed(self) -> None:
        wait_closed = getattr(self._writer, "wait_closed", None)
        if wait_closed is not None:
            await wait_closed()


async def accept_websocket(
    reader: ByteSource,
    writer: ByteWriter,
    method: bytes | str,
    headers: Headers,
    *,
    initial_data: bytes = b"",
    subprotocols: Sequence[str] = ("binary",),
) -> WebSocketStream:
    """Answer the upgrade with a 101 and return the stream; WebSocketHandshakeError if invalid
    (nothing is written then, so the caller can still answer 400)."""
    response = handshake_response(method, headers, subprotocols=subprotocols)
    writer.write(encode_response(response))
    await writer.drain()
    return WebSocketStream(reader, writer, initial_data=initial_data)
