"""The RFB console server on real localhost sockets: raw, after CONNECT, and over WebSocket.

The picture is driven by a fake clock so that what a client receives can be compared byte for
byte with what the screen draws. Two real client libraries take part: asyncvnc (RFB 3.8, its own
pixel format) and websockets (the `binary` subprotocol XO and noVNC use).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncvnc
import h11
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support.console_clock import T0, Clock
from tests.support.rfb_client import MiniRfbClient
from tests.support.waiting import eventually
from xorca.xapi_sim.consoles.rfb import PixelFormat, serve_rfb, translate
from xorca.xapi_sim.consoles.screen import ConsoleScreen
from xorca.xapi_sim.consoles.websocket import WebSocketHandshakeError, accept_websocket

RGB565 = PixelFormat(16, 16, False, True, 31, 63, 31, 11, 5, 0)

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter


@dataclass
class Console:
    """A listening console server and what its sessions did."""

    port: int
    clock: Clock
    screens: list[ConsoleScreen] = field(default_factory=list)
    finished: list[BaseException | None] = field(default_factory=list)

    def screen(self) -> ConsoleScreen:
        assert self.screens, "no session yet"
        return self.screens[-1]


Serve = Callable[[Reader, Writer, ConsoleScreen], Awaitable[None]]


@contextlib.asynccontextmanager
async def console_server(serve: Serve) -> AsyncIterator[Console]:
    console = Console(port=0, clock=Clock())

    async def handle(reader: Reader, writer: Writer) -> None:
        screen = ConsoleScreen("web-01", clock=console.clock, started=T0 - 3600)
        console.screens.append(screen)
        try:
            await serve(reader, writer, screen)
        except asyncio.CancelledError as e:
            # Only when a test fails and leaves a session open; raising it from a connection
            # handler makes asyncio log a traceback that hides the real failure.
            console.finished.append(e)
            return
        console.finished.append(None)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    console.port = server.sockets[0].getsockname()[1]
    async with server:
        yield console
        server.close()


async def raw_rfb(reader: Reader, writer: Writer, screen: ConsoleScreen) -> None:
    await serve_rfb(reader, writer, name="web-01", screen=screen, poll_interval=0.05)


async def read_request(reader: Reader) -> tuple[h11.Connection, h11.Request]:
    """Read one HTTP request with h11, as the simulator's server does."""
    conn = h11.Connection(h11.SERVER)
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(4096))
            continue
        assert isinstance(event, h11.Request)
        return conn, event


async def after_connect(reader: Reader, writer: Writer, screen: ConsoleScreen) -> None:
    """xapi's classic transport: `CONNECT /console?...` answered 200, then raw RFB."""
    conn, request = await read_request(reader)
    assert request.method == b"CONNECT"
    writer.write(
        conn.send(
            h11.Response(
                status_code=200,
                reason=b"OK",
                headers=[("Connection", "keep-alive"), ("Cache-Control", "no-cache, no-store")],
            )
        )
        or b""
    )
    leftover, _ = conn.trailing_data
    assert leftover == b""
    await serve_rfb(reader, writer, name="web-01", screen=screen, poll_interval=0.05)


async def over_websocket(reader: Reader, writer: Writer, screen: ConsoleScreen) -> None:
    conn, request = await read_request(reader)
    try:
        stream = await accept_websocket(
            reader, writer, request.method, request.headers, initial_data=conn.trailing_data[0]
        )
    except WebSocketHandshakeError:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        writer.close()
        return
    await serve_rfb(stream, stream, name="web-01", screen=screen, poll_interval=0.05)


def rgba(frame: bytes, width: int = 800, height: int = 600) -> np.ndarray[Any, Any]:
    bgrx = np.frombuffer(frame, dtype=np.uint8).reshape(height, width, 4)
    return np.dstack(
        (bgrx[:, :, 2], bgrx[:, :, 1], bgrx[:, :, 0], np.full_like(bgrx[:, :, 0], 255))
    )


async def session_ends(console: Console) -> None:
    await eventually(lambda: console.finished, what="the session to end", interval=0.05)
    assert console.finished == [None]


# -- raw sockets -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [b"RFB 003.003\n", b"RFB 003.007\n", b"RFB 003.008\n"])
async def test_every_version_gets_full_and_incremental_updates(version: bytes) -> None:
    async with console_server(raw_rfb) as console:
        reader, writer = await asyncio.open_connection("127.0.0.1", console.port)
        client = MiniRfbClient(reader, writer)
        await client.handshake(version)
        assert (client.width, client.height, client.name) == (800, 600, "web-01")
        client.request(incremental=False)
        (full,) = await client.read_update()
        assert (full.w, full.h) == (800, 600)
        assert full.data == console.screen().frame()

        client.request(incremental=True)
        console.clock.now += 1
        (band,) = await client.read_update()
        assert 0 < band.h < 100
        stride = 800 * 4
        expected = console.screen().frame()[band.y * stride : (band.y + band.h) * stride]
        assert band.data == expected

        writer.close()
        await writer.wait_closed()
        await session_ends(console)


async def test_a_pixel_format_change_applies_to_the_next_update() -> None:
    async with console_server(raw_rfb) as console:
        reader, writer = await asyncio.open_connection("127.0.0.1", console.port)
        client = MiniRfbClient(reader, writer)
        await client.handshake()
        client.set_pixel_format(RGB565)
        client.set_encodings(0, -223)
        client.request(incremental=False)
        (rect,) = await client.read_update()
        assert len(rect.data) == 800 * 600 * 2
        assert rect.data == translate(console.screen().frame(), RGB565)
        writer.close()
        await session_ends(console)


async def test_the_classic_transport_serves_rfb_after_connect() -> None:
    async with console_server(after_connect) as console:
        reader, writer = await asyncio.open_connection("127.0.0.1", console.port)
        writer.write(b"CONNECT /console?uuid=abc&session_id=OpaqueRef:x HTTP/1.0\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        client = MiniRfbClient(reader, writer)
        await client.handshake(b"RFB 003.003\n")
        client.request(incremental=False)
        (rect,) = await client.read_update()
        assert rect.data == console.screen().frame()
        writer.close()
        await session_ends(console)


async def test_asyncvnc_sees_the_console_and_types_into_it() -> None:
    async with console_server(raw_rfb) as console:
        async with asyncvnc.connect("127.0.0.1", console.port) as client:
            assert (client.video.name, client.video.width, client.video.height) == (
                "web-01",
                800,
                600,
            )
            pixels = await client.screenshot()
            assert np.array_equal(pixels, rgba(console.screen().frame()))

            client.keyboard.write("root")
            client.keyboard.press("Return")
            await client.drain()
            pixels = await client.screenshot()
            assert console.screen().lines(console.clock.now)[6][0] == "Login incorrect"
            assert np.array_equal(pixels, rgba(console.screen().frame()))
        await session_ends(console)


# -- WebSocket ---------------------------------------------------------------------------------


class WebSocketReader:
    """asyncio-stream-like reads over a websockets client connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.buffer = bytearray()

    async def _fill(self) -> None:
        message = await self.ws.recv()
        self.buffer += message if isinstance(message, bytes) else message.encode()

    async def readexactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            await self._fill()
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    async def readline(self) -> bytes:
        while b"\n" not in self.buffer:
            await self._fill()
        return await self.readexactly(self.buffer.index(b"\n") + 1)


class WebSocketWriter:
    """Synchronous writes, sent in order as binary messages by one background task."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.sender = asyncio.create_task(self._send())

    async def _send(self) -> None:
        while True:
            data = await self.queue.get()
            await self.ws.send(data)
            self.queue.task_done()

    def write(self, data: bytes) -> None:
        self.queue.put_nowait(bytes(data))

    async def drain(self) -> None:
        await self.queue.join()

    def close(self) -> None:
        self.sender.cancel()

    async def wait_closed(self) -> None:
        await self.ws.close()


async def test_the_websocket_path_speaks_binary_rfb_and_answers_pings() -> None:
    async with console_server(over_websocket) as console:
        uri = f"ws://127.0.0.1:{console.port}/console?uuid=abc"
        async with connect(uri, subprotocols=["binary"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "binary"
            client = MiniRfbClient(WebSocketReader(ws), WebSocketWriter(ws))
            await client.handshake()
            client.request(incremental=False)
            (rect,) = await client.read_update()
            assert rect.data == console.screen().frame()
            pong = await ws.ping()
            await asyncio.wait_for(pong, 5)
            client.request(incremental=True)
            console.clock.now += 1
            (band,) = await client.read_update()
            assert band.h < 100
            await client.writer.drain()
        await session_ends(console)


async def test_asyncvnc_works_over_the_websocket() -> None:
    async with console_server(over_websocket) as console:
        uri = f"ws://127.0.0.1:{console.port}/console?uuid=abc"
        async with connect(uri, subprotocols=["binary"]) as ws:  # type: ignore[list-item]

            async def opener(_host: str, _port: int) -> tuple[Any, Any]:
                return WebSocketReader(ws), WebSocketWriter(ws)

            async with asyncvnc.connect("ignored", 0, opener=opener) as client:
                pixels = await client.screenshot()
                assert np.array_equal(pixels, rgba(console.screen().frame()))
        await session_ends(console)


async def test_a_plain_get_is_refused_with_400() -> None:
    async with console_server(over_websocket) as console:
        reader, writer = await asyncio.open_connection("127.0.0.1", console.port)
        writer.write(b"GET /console?uuid=abc HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 400 ")
        writer.close()
        await session_ends(console)
