"""A compact RFB client for tests: every protocol version, any pixel format, raw updates.

Real client libraries only speak 3.8 with their own pixel format (asyncvnc) or need Twisted
(vncdotool), so the cases they cannot reach (3.3, 3.7, 16 bpp, incremental bands) use this one;
the tests also run asyncvnc against the same server.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Any

from xorca.xapi_sim.consoles.rfb import PixelFormat


@dataclass
class Rect:
    x: int
    y: int
    w: int
    h: int
    encoding: int
    data: bytes


class MiniRfbClient:
    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader = reader
        self.writer = writer
        self.width = self.height = 0
        self.pixel_format: PixelFormat | None = None
        self.name = ""
        self.security_types: list[int] = []

    async def handshake(self, version: bytes = b"RFB 003.008\n") -> None:
        assert await self.reader.readexactly(12) == b"RFB 003.008\n"
        self.writer.write(version)
        if version == b"RFB 003.003\n":
            (security,) = struct.unpack(">I", await self.reader.readexactly(4))
            self.security_types = [security]
        else:
            (count,) = await self.reader.readexactly(1)
            self.security_types = list(await self.reader.readexactly(count))
            self.writer.write(b"\x01")
            if version == b"RFB 003.008\n":
                assert await self.reader.readexactly(4) == b"\0\0\0\0"  # SecurityResult OK
        self.writer.write(b"\x01")  # ClientInit, shared
        self.width, self.height = struct.unpack(">HH", await self.reader.readexactly(4))
        self.pixel_format = PixelFormat.unpack(await self.reader.readexactly(16))
        (length,) = struct.unpack(">I", await self.reader.readexactly(4))
        self.name = (await self.reader.readexactly(length)).decode()

    def set_pixel_format(self, pf: PixelFormat) -> None:
        self.pixel_format = pf
        self.writer.write(b"\x00\0\0\0" + pf.pack())

    def set_encodings(self, *encodings: int) -> None:
        self.writer.write(struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings))

    def request(self, incremental: bool, x: int = 0, y: int = 0, w: int = 0, h: int = 0) -> None:
        w, h = w or self.width, h or self.height
        self.writer.write(struct.pack(">BBHHHH", 3, incremental, x, y, w, h))

    def key(self, keysym: int, down: bool = True) -> None:
        self.writer.write(struct.pack(">BBxxI", 4, down, keysym))

    def type_text(self, text: str) -> None:
        for char in text:
            self.key(ord(char), True)
            self.key(ord(char), False)

    def pointer(self, buttons: int, x: int, y: int) -> None:
        self.writer.write(struct.pack(">BBHH", 5, buttons, x, y))

    def cut_text(self, text: str) -> None:
        data = text.encode("latin-1")
        self.writer.write(struct.pack(">BxxxI", 6, len(data)) + data)

    async def read_message(self) -> tuple[int, list[Rect]]:
        """The next server message: (type, rectangles of an update)."""
        (kind,) = await self.reader.readexactly(1)
        if kind == 1:  # SetColourMapEntries
            _, count = struct.unpack(">xHH", await self.reader.readexactly(5))
            await self.reader.readexactly(6 * count)
            return kind, []
        assert kind == 0, f"unexpected server message {kind}"
        (count,) = struct.unpack(">xH", await self.reader.readexactly(3))
        assert self.pixel_format is not None
        size = self.pixel_format.bits_per_pixel // 8
        rects = []
        for _ in range(count):
            x, y, w, h, enc = struct.unpack(">HHHHi", await self.reader.readexactly(12))
            assert enc == 0, "only Raw is expected"
            rects.append(Rect(x, y, w, h, enc, await self.reader.readexactly(w * h * size)))
        return kind, rects

    async def read_update(self, timeout: float = 5.0) -> list[Rect]:
        while True:
            kind, rects = await asyncio.wait_for(self.read_message(), timeout)
            if kind == 0:
                return rects
