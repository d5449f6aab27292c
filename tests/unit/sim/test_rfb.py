"""The console pieces without sockets: RFB over in-memory streams, pixels, WebSocket framing."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from tests.support.console_clock import T0, Clock
from tests.support.rfb_client import MiniRfbClient
from xorca.xapi_sim.consoles.rfb import NATIVE_FORMAT, PixelFormat, serve_rfb, translate
from xorca.xapi_sim.consoles.screen import CELL_H, FONT, ConsoleScreen
from xorca.xapi_sim.consoles.websocket import (
    WebSocketHandshakeError,
    WebSocketStream,
    accept_token,
    encode_response,
    handshake_response,
)

RGB565_LE = PixelFormat(16, 16, False, True, 31, 63, 31, 11, 5, 0)
RGB565_BE = PixelFormat(16, 16, True, True, 31, 63, 31, 11, 5, 0)
BGR233 = PixelFormat(8, 8, False, True, 7, 7, 3, 0, 3, 6)
RGBX_LE = PixelFormat(32, 24, False, True, 255, 255, 255, 0, 8, 16)
XRGB_BE = PixelFormat(32, 24, True, True, 255, 255, 255, 16, 8, 0)
COLOUR_MAP = PixelFormat(8, 8, False, False, 0, 0, 0, 0, 0, 0)


class MemoryWriter:
    """Writes into the peer's StreamReader; closing is the peer's end of stream."""

    def __init__(self, peer: asyncio.StreamReader) -> None:
        self.peer = peer
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.closed:
            raise ConnectionResetError("closed")
        self.peer.feed_data(bytes(data))

    async def drain(self) -> None:
        await asyncio.sleep(0)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.peer.feed_eof()

    async def wait_closed(self) -> None:
        return None


@dataclass
class Served:
    client: MiniRfbClient
    screen: ConsoleScreen
    clock: Clock
    task: asyncio.Task[None]
    to_client: asyncio.StreamReader


@pytest.fixture
async def served() -> AsyncIterator[Callable[[], Served]]:
    tasks: list[asyncio.Task[None]] = []

    def start() -> Served:
        to_server, to_client = asyncio.StreamReader(), asyncio.StreamReader()
        clock = Clock()
        screen = ConsoleScreen("web-01", clock=clock, started=T0 - 65)
        task = asyncio.create_task(
            serve_rfb(to_server, MemoryWriter(to_client), name="web-01", screen=screen)
        )
        tasks.append(task)
        client = MiniRfbClient(to_client, MemoryWriter(to_server))
        return Served(client, screen, clock, task, to_client)

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def ended(s: Served) -> bool:
    """The server returned (without raising) and closed its side."""
    await asyncio.wait_for(s.task, 5)
    assert s.task.exception() is None
    return s.to_client.at_eof() or bool(await s.to_client.read()) is False


# -- handshakes ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [b"RFB 003.003\n", b"RFB 003.007\n", b"RFB 003.008\n"])
async def test_every_protocol_version_reaches_server_init(
    served: Callable[[], Served], version: bytes
) -> None:
    s = served()
    await s.client.handshake(version)
    assert s.client.security_types == [1]
    assert (s.client.width, s.client.height) == (800, 600)
    assert s.client.pixel_format == NATIVE_FORMAT
    assert s.client.name == "web-01"
    s.client.writer.close()
    assert await ended(s)


async def test_an_unknown_minor_version_is_treated_as_3_3(served: Callable[[], Served]) -> None:
    s = served()
    await s.to_client.readexactly(12)
    s.client.writer.write(b"RFB 003.005\n")
    assert await s.to_client.readexactly(4) == struct.pack(">I", 1)


async def test_a_client_that_is_not_rfb_is_dropped(served: Callable[[], Served]) -> None:
    s = served()
    await s.to_client.readexactly(12)
    s.client.writer.write(b"GET / HTTP/1.1\r\n")
    assert await ended(s)


async def test_a_3_8_client_choosing_another_security_type_is_told_why(
    served: Callable[[], Served],
) -> None:
    s = served()
    await s.to_client.readexactly(12)
    s.client.writer.write(b"RFB 003.008\n")
    assert await s.to_client.readexactly(2) == b"\x01\x01"
    s.client.writer.write(b"\x02")  # VNC authentication
    failed, length = struct.unpack(">II", await s.to_client.readexactly(8))
    assert failed == 1
    assert b"None" in await s.to_client.readexactly(length)
    assert await ended(s)


async def test_end_of_stream_in_the_handshake_ends_the_session(
    served: Callable[[], Served],
) -> None:
    s = served()
    await s.to_client.readexactly(12)
    s.client.writer.close()
    assert await ended(s)


# -- updates ---------------------------------------------------------------------------------


async def test_a_full_update_is_the_whole_screen(served: Callable[[], Served]) -> None:
    s = served()
    await s.client.handshake()
    s.client.set_encodings(0, -223)
    s.client.request(incremental=False)
    (rect,) = await s.client.read_update()
    assert (rect.x, rect.y, rect.w, rect.h) == (0, 0, 800, 600)
    assert rect.data == s.screen.frame()


async def test_an_incremental_update_waits_for_a_change_and_sends_the_changed_band(
    served: Callable[[], Served],
) -> None:
    s = served()
    await s.client.handshake()
    s.client.request(incremental=False)
    await s.client.read_update()
    s.client.request(incremental=True)
    with pytest.raises(TimeoutError):
        await s.client.read_update(timeout=0.6)  # the clock stands still: nothing to send
    s.clock.now += 1.0
    (rect,) = await s.client.read_update()
    # only the uptime/clock line and the activity bar (lines 8 and 9) changed
    assert rect.y >= 8 * CELL_H
    assert rect.y + rect.h <= 10 * CELL_H
    stride = 800 * 4
    frame = s.screen.frame()
    assert rect.data == frame[rect.y * stride : (rect.y + rect.h) * stride]


async def test_a_subregion_is_clipped_to_the_screen(served: Callable[[], Served]) -> None:
    s = served()
    await s.client.handshake()
    s.client.request(incremental=False, x=700, y=500, w=200, h=200)
    (rect,) = await s.client.read_update()
    assert (rect.x, rect.y, rect.w, rect.h) == (700, 500, 100, 100)
    s.client.request(incremental=False, x=900, y=0, w=10, h=10)
    assert await s.client.read_update() == []


async def test_keys_typed_reach_the_screen_and_show_up(served: Callable[[], Served]) -> None:
    s = served()
    await s.client.handshake()
    s.client.request(incremental=False)
    await s.client.read_update()
    s.client.type_text("root")
    s.client.key(0xFF0D)  # Return
    s.client.pointer(1, 10, 20)
    s.client.cut_text("clipboard")
    s.client.request(incremental=True)
    await s.client.read_update()
    assert s.screen.lines(T0)[6][0] == "Login incorrect"
    assert s.screen.pointer_position == (10, 20)


@pytest.mark.parametrize("pf", [RGB565_LE, RGB565_BE, BGR233, RGBX_LE, XRGB_BE, COLOUR_MAP])
async def test_updates_follow_the_clients_pixel_format(
    served: Callable[[], Served], pf: PixelFormat
) -> None:
    s = served()
    await s.client.handshake()
    s.client.set_pixel_format(pf)
    s.client.request(incremental=False)
    (rect,) = await s.client.read_update()
    assert len(rect.data) == 800 * 600 * pf.bits_per_pixel // 8
    assert rect.data == translate(s.screen.frame(), pf)


@pytest.mark.parametrize(
    "message",
    [b"\x00\0\0\0" + PixelFormat(24, 24, False, True, 255, 255, 255, 16, 8, 0).pack(), b"\x09"],
)
async def test_a_protocol_error_ends_the_session_cleanly(
    served: Callable[[], Served], message: bytes
) -> None:
    s = served()
    await s.client.handshake()
    s.client.writer.write(message)
    assert await ended(s)


# -- pixels and picture ------------------------------------------------------------------------

ORANGE = bytes((0, 128, 255, 0))  # native B, G, R, x for (255, 128, 0)


@pytest.mark.parametrize(
    ("pf", "expected"),
    [
        (NATIVE_FORMAT, ORANGE),
        (RGB565_LE, (31 << 11 | 32 << 5).to_bytes(2, "little")),
        (RGB565_BE, (31 << 11 | 32 << 5).to_bytes(2, "big")),
        (BGR233, bytes((7 | 4 << 3,))),
        (RGBX_LE, bytes((255, 128, 0, 0))),
        (XRGB_BE, bytes((0, 255, 128, 0))),
        (COLOUR_MAP, bytes((7 << 5 | 4 << 2,))),
    ],
)
def test_pixels_are_translated_to_the_clients_format(pf: PixelFormat, expected: bytes) -> None:
    assert translate(ORANGE * 3, pf) == expected * 3


def test_pixel_formats_round_trip() -> None:
    for pf in (NATIVE_FORMAT, RGB565_BE, BGR233, COLOUR_MAP):
        assert PixelFormat.unpack(pf.pack()) == pf


def test_the_font_covers_printable_ascii() -> None:
    assert all(chr(c) in FONT for c in range(0x20, 0x7F))


def test_the_console_changes_with_time_and_typing() -> None:
    clock = Clock()
    screen = ConsoleScreen("vm", 640, 480, clock=clock, started=T0)
    first = screen.frame()
    assert len(first) == 640 * 480 * 4
    assert screen.frame() == first
    clock.now += 1
    assert screen.frame() != first
    assert "0d 00:00:01" in screen.lines(clock.now)[8][0]
    before = screen.frame()
    screen.key(ord("x"), True)
    assert screen.frame() != before
    screen.key(0xFF08, True)  # BackSpace
    assert screen.frame() == before


def test_a_tiny_screen_still_gets_a_whole_frame() -> None:
    screen = ConsoleScreen("vm", 64, 40, clock=Clock())
    assert len(screen.frame()) == 64 * 40 * 4


# -- WebSocket ---------------------------------------------------------------------------------

UPGRADE = [
    (b"Host", b"host"),
    (b"Upgrade", b"websocket"),
    (b"Connection", b"keep-alive, Upgrade"),
    (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"Sec-WebSocket-Version", b"13"),
]


def test_the_accept_token_is_rfc_6455s() -> None:
    assert accept_token("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(None, None), (b"binary", "binary"), (b"base64, binary", "binary"), (b"base64", None)],
)
def test_the_binary_subprotocol_is_accepted_when_offered(
    offered: bytes | None, chosen: str | None
) -> None:
    headers = UPGRADE + ([(b"Sec-WebSocket-Protocol", offered)] if offered else [])
    response = dict(handshake_response(b"GET", headers))
    assert response["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert response.get("Sec-WebSocket-Protocol") == chosen
    raw = encode_response(list(response.items()))
    assert raw.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert raw.endswith(b"\r\n\r\n")


@pytest.mark.parametrize(
    ("method", "drop", "add"),
    [
        ("POST", None, None),
        ("GET", b"Upgrade", None),
        ("GET", b"Connection", (b"Connection", b"keep-alive")),
        ("GET", b"Sec-WebSocket-Version", (b"Sec-WebSocket-Version", b"8")),
        ("GET", b"Sec-WebSocket-Key", (b"Sec-WebSocket-Key", b"not base64!")),
        ("GET", b"Sec-WebSocket-Key", None),
    ],
)
def test_a_bad_upgrade_is_refused(
    method: str, drop: bytes | None, add: tuple[bytes, bytes] | None
) -> None:
    headers = [h for h in UPGRADE if h[0] != drop] + ([add] if add else [])
    with pytest.raises(WebSocketHandshakeError) as caught:
        handshake_response(method, headers)
    assert isinstance(caught.value, ValueError)


async def test_the_websocket_stream_carries_bytes_answers_pings_and_closes() -> None:
    to_server, to_client = asyncio.StreamReader(), asyncio.StreamReader()
    client = Connection(ConnectionType.CLIENT)
    early = client.send(BytesMessage(data=b"RFB "))  # sent before the server looked
    stream = WebSocketStream(to_server, MemoryWriter(to_client), initial_data=early)
    to_server.feed_data(
        client.send(BytesMessage(data=b"003", message_finished=False))
        + client.send(BytesMessage(data=b".008\n", message_finished=True))
        + client.send(Ping(payload=b"hi"))
        + client.send(TextMessage(data="txt"))
    )
    assert await stream.readexactly(12) == b"RFB 003.008\n"
    assert await stream.readexactly(3) == b"txt"
    stream.write(b"reply")
    await stream.drain()
    client.receive_data(await to_client.read(1000))
    events = list(client.events())
    assert isinstance(events[0], Pong)
    assert events[0].payload == b"hi"
    assert isinstance(events[1], BytesMessage)
    assert events[1].data == b"reply"
    to_server.feed_data(client.send(CloseConnection(code=1000)))
    with pytest.raises(asyncio.IncompleteReadError):
        await stream.readexactly(1)
    client.receive_data(await to_client.read(1000))
    assert any(isinstance(e, CloseConnection) for e in client.events())
    with pytest.raises(ConnectionResetError):
        stream.write(b"late")
    stream.close()
    await stream.wait_closed()


async def test_a_broken_frame_closes_the_websocket_with_a_reason() -> None:
    to_server, to_client = asyncio.StreamReader(), asyncio.StreamReader()
    stream = WebSocketStream(to_server, MemoryWriter(to_client))
    to_server.feed_data(b"\x82\x03abc")  # a client frame must be masked
    with pytest.raises(asyncio.IncompleteReadError):
        await stream.readexactly(1)
    client = Connection(ConnectionType.CLIENT)
    client.receive_data(await to_client.read(1000))
    (event,) = client.events()
    assert isinstance(event, CloseConnection)
    assert event.code == 1002  # protocol error
