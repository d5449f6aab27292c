"""A small but correct RFB (VNC) server, RFC 6143, for simulated VM consoles.

xapi hands a console's socket to qemu's or vncterm's VNC server once `CONNECT /console` (or the
WebSocket upgrade) is accepted; viewers (XenCenter, XO's noVNC, TigerVNC) then speak RFB 3.3 or
later with security type None. This module is that server for the simulator: it runs over any
byte stream given as a `ByteReader`/`ByteWriter` pair, which `asyncio` streams satisfy and
`websocket.WebSocketStream` provides over WebSocket binary messages.

What it does: version 3.3, 3.7 and 3.8 handshakes; ServerInit with 32 bpp true colour; the
client's SetPixelFormat (true colour at 8, 16 or 32 bpp, any shifts and endianness, or a colour
map, which gets a 3-3-2 palette); Raw encoding, which every client must accept, whatever it lists
in SetEncodings; incremental updates sent when the picture changes, polled at a modest rate rather
than spun on; key and pointer events passed to the screen; cut text read and ignored.

`serve_rfb` returns on EOF or on a protocol error and never raises anything but CancelledError;
it closes the writer before returning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Literal, Protocol

from xorca.xapi_sim.consoles.screen import ConsoleScreen

log = logging.getLogger(__name__)

SERVER_VERSION = b"RFB 003.008\n"
SECURITY_NONE = 1
RAW = 0


class ByteReader(Protocol):
    async def readexactly(self, n: int, /) -> bytes:
        """`n` bytes, or `asyncio.IncompleteReadError` at end of stream."""
        ...


class ByteWriter(Protocol):
    """`close` may be paired with an `async wait_closed()`, which is then awaited."""

    def write(self, data: bytes, /) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class Screen(Protocol):
    """What the server shows: frames in the native pixel format, and the input it receives."""

    width: int
    height: int

    def frame(self) -> bytes:
        """`width * height` pixels of 4 bytes: B, G, R, unused (see `NATIVE_FORMAT`)."""
        ...

    def key(self, keysym: int, down: bool) -> None: ...

    def pointer(self, buttons: int, x: int, y: int) -> None: ...


class RfbError(Exception):
    """The client broke the protocol; the connection is closed."""


@dataclass(frozen=True, slots=True)
class PixelFormat:
    bits_per_pixel: int
    depth: int
    big_endian: bool
    true_colour: bool
    red_max: int
    green_max: int
    blue_max: int
    red_shift: int
    green_shift: int
    blue_shift: int

    _STRUCT = struct.Struct(">BBBBHHHBBBxxx")

    def pack(self) -> bytes:
        return self._STRUCT.pack(
            self.bits_per_pixel,
            self.depth,
            self.big_endian,
            self.true_colour,
            self.red_max,
            self.green_max,
            self.blue_max,
            self.red_shift,
            self.green_shift,
            self.blue_shift,
        )

    @classmethod
    def unpack(cls, data: bytes) -> PixelFormat:
        bpp, depth, big, true_colour, rmax, gmax, bmax, rs, gs, bs = cls._STRUCT.unpack(data)
        return cls(bpp, depth, bool(big), bool(true_colour), rmax, gmax, bmax, rs, gs, bs)


NATIVE_FORMAT = PixelFormat(32, 24, False, True, 255, 255, 255, 16, 8, 0)


def _palette_332() -> bytes:
    """SetColourMapEntries for a colour-map client: index = RRRGGGBB."""
    entries = b"".join(
        struct.pack(">HHH", (i >> 5) * 65535 // 7, (i >> 2 & 7) * 65535 // 7, (i & 3) * 65535 // 3)
        for i in range(256)
    )
    return struct.pack(">BxHH", 1, 0, 256) + entries


def translate(native: bytes, pf: PixelFormat) -> bytes:
    """Native pixels (B, G, R, x) in the client's pixel format."""
    if pf == NATIVE_FORMAT:
        return native
    size = pf.bits_per_pixel // 8
    full = (pf.red_max, pf.green_max, pf.blue_max) == (255, 255, 255)
    shifts = (pf.red_shift, pf.green_shift, pf.blue_shift)
    if pf.true_colour and size == 4 and full and all(s % 8 == 0 and s <= 24 for s in shifts):
        # Each channel is a whole byte: move bytes with strided slices, no per-pixel work.
        out = bytearray(len(native))
        for source, shift in zip((2, 1, 0), shifts, strict=True):
            index = 3 - shift // 8 if pf.big_endian else shift // 8
            out[index::4] = native[source::4]
        return bytes(out)
    order: Literal["big", "little"] = "big" if pf.big_endian else "little"
    colours: dict[int, bytes] = {}

    def encode(value: int) -> bytes:
        r, g, b = value >> 16 & 255, value >> 8 & 255, value & 255
        if pf.true_colour:
            v = (
                (r * pf.red_max + 127) // 255 << pf.red_shift
                | (g * pf.green_max + 127) // 255 << pf.green_shift
                | (b * pf.blue_max + 127) // 255 << pf.blue_shift
            )
        else:
            v = (r >> 5) << 5 | (g >> 5) << 2 | b >> 6
        return (v & ((1 << 8 * size) - 1)).to_bytes(size, order)

    pixels = array("I", native)  # B, G, R, x read little-endian: 0x00RRGGBB
    if sys.byteorder == "big":
        pixels.byteswap()
    parts = []
    for value in pixels:
        part = colours.get(value)
        if part is None:
            part = colours[value] = encode(value)
        parts.append(part)
    return b"".join(parts)


@dataclass(slots=True)
class _Request:
    incremental: bool
    x: int
    y: int
    w: int
    h: int

    def merge(self, other: _Request) -> _Request:
        x, y = min(self.x, other.x), min(self.y, other.y)
        right = max(self.x + self.w, other.x + other.w)
        bottom = max(self.y + self.h, other.y + other.h)
        return _Request(self.incremental and other.incremental, x, y, right - x, bottom - y)


async def serve_rfb(
    reader: ByteReader,
    writer: ByteWriter,
    *,
    name: str,
    width: int = 800,
    height: int = 600,
    screen: Screen | None = None,
    poll_interval: float = 0.25,
) -> None:
    """Serve one RFB client until it leaves; `screen` defaults to a `ConsoleScreen(name)`."""
    session = _Session(reader, writer, screen or ConsoleScreen(name, width, height), poll_interval)
    try:
        await session.run(name)
    except (asyncio.IncompleteReadError, ConnectionError, RfbError) as e:
        log.debug("RFB session for %s ended: %r", name, e)
    except Exception:
        log.exception("RFB session for %s failed", name)
    finally:
        with contextlib.suppress(Exception):
            writer.close()
            wait_closed = getattr(writer, "wait_closed", None)
            if wait_closed is not None:
                await wait_closed()


class _Session:
    def __init__(
        self, reader: ByteReader, writer: ByteWriter, screen: Screen, poll_interval: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.screen = screen
        self.poll_interval = poll_interval
        self.pixel_format = NATIVE_FORMAT
        self.encodings: list[int] = []
        self.pending: _Request | None = None
        self.wake = asyncio.Event()
        self.view: bytearray | None = None  # what the client has been sent, native format

    async def run(self, name: str) -> None:
        await self.handshake(name)
        tasks = [
            asyncio.create_task(self.read_messages()),
            asyncio.create_task(self.send_updates()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def handshake(self, name: str) -> None:
        self.writer.write(SERVER_VERSION)
        await self.writer.drain()
        version = await self.reader.readexactly(12)
        if version[:8] != b"RFB 003." or version[11:] != b"\n" or not version[8:11].isdigit():
            raise RfbError(f"not an RFB 3.x client: {version!r}")
        minor = int(version[8:11])  # 3.5 and other unknown minors are 3.3 (RFC 6143, 7.1.1)
        if minor < 7:
            self.writer.write(struct.pack(">I", SECURITY_NONE))
        else:
            self.writer.write(bytes((1, SECURITY_NONE)))
            await self.writer.drain()
            (chosen,) = await self.reader.readexactly(1)
            if chosen != SECURITY_NONE:
                if minor >= 8:
                    reason = b"only security type None is offered"
                    self.writer.write(struct.pack(">II", 1, len(reason)) + reason)
                    await self.writer.drain()
                raise RfbError(f"client chose security type {chosen}")
            if minor >= 8:
                self.writer.write(struct.pack(">I", 0))  # SecurityResult OK
        await self.writer.drain()
        await self.reader.readexactly(1)  # ClientInit: shared flag; every session is shared
        encoded = name.encode()
        self.writer.write(
            struct.pack(">HH", self.screen.width, self.screen.height)
            + NATIVE_FORMAT.pack()
            + struct.pack(">I", len(encoded))
            + encoded
        )
        await self.writer.drain()

    async def read_messages(self) -> None:
        read = self.reader.readexactly
        while True:
            (kind,) = await read(1)
            if kind == 0:  # SetPixelFormat
                pf = PixelFormat.unpack((await read(19))[3:])
                if pf.bits_per_pixel not in (8, 16, 32):
                    raise RfbError(f"unsupported bits per pixel {pf.bits_per_pixel}")
                self.pixel_format = pf
                if not pf.true_colour:
                    self.writer.write(_palette_332())
            elif kind == 2:  # SetEncodings
                (count,) = struct.unpack(">xH", await read(3))
                self.encodings = list(struct.unpack(f">{count}i", await read(4 * count)))
            elif kind == 3:  # FramebufferUpdateRequest
                inc, x, y, w, h = struct.unpack(">BHHHH", await read(9))
                request = _Request(bool(inc), x, y, w, h)
                self.pending = request if self.pending is None else self.pending.merge(request)
                self.wake.set()
            elif kind == 4:  # KeyEvent
                down, key = struct.unpack(">BxxI", await read(7))
                self.screen.key(key, bool(down))
                self.wake.set()
            elif kind == 5:  # PointerEvent
                buttons, x, y = struct.unpack(">BHH", await read(5))
                self.screen.pointer(buttons, x, y)
            elif kind == 6:  # ClientCutText; a negative length is the extended clipboard
                (length,) = struct.unpack(">xxxi", await read(7))
                await read(abs(length))
            else:
                raise RfbError(f"unknown client message type {kind}")

    async def send_updates(self) -> None:
        while True:
            request = self.pending
            if request is None:
                self.wake.clear()
                await self.wake.wait()
                continue
            frame = self.screen.frame()
            rect = self.changed(frame, request) if request.incremental else self.clip(request)
            if rect is None:
                # Nothing new yet: look again shortly, or as soon as the client sends something.
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.poll_interval)
                continue
            self.pending = None
            self.writer.write(self.update(frame, rect))
            await self.writer.drain()

    def clip(self, r: _Request) -> tuple[int, int, int, int]:
        width, height = self.screen.width, self.screen.height
        x, y = min(r.x, width), min(r.y, height)
        return x, y, max(0, min(r.w, width - x)), max(0, min(r.h, height - y))

    def changed(self, frame: bytes, r: _Request) -> tuple[int, int, int, int] | None:
        """The band of rows of the request that differs from what the client has."""
        x, y, w, h = self.clip(r)
        if self.view is None:
            return (x, y, w, h) if w and h else None
        stride = self.screen.width * 4
        rows = [
            row
            for row in range(y, y + h)
            if frame[row * stride + x * 4 : row * stride + (x + w) * 4]
            != self.view[row * stride + x * 4 : row * stride + (x + w) * 4]
        ]
        if not rows or not w:
            return None
        return x, rows[0], w, rows[-1] - rows[0] + 1

    def update(self, frame: bytes, rect: tuple[int, int, int, int]) -> bytes:
        x, y, w, h = rect
        if not (w and h):
            return struct.pack(">BxH", 0, 0)  # an empty area: answer, with no rectangle
        stride = self.screen.width * 4
        if self.view is None or len(self.view) != len(frame):
            self.view = bytearray(len(frame))
        native = bytearray()
        for row in range(y, y + h):
            start = row * stride + x * 4
            line = frame[start : start + w * 4]
            native += line
            self.view[start : start + w * 4] = line
        return struct.pack(">BxHHHHHi", 0, 1, x, y, w, h, RAW) + translate(
            bytes(native), self.pixel_format
        )
