"""The picture a simulated VM console shows: a dark text console with a clock.

A console viewer is only testable, and a demo only convincing, if the screen says whose console it
is and visibly changes: the VM's name, a login prompt that echoes what is typed, a blinking cursor,
the uptime and the time. Pixels are 32 bits, B, G, R, 0 in memory order: the RFB server's native
format (little-endian, red at bit 16), so the common client needs no translation.

Text uses a built-in 5x7 bitmap font drawn at twice its size; lines are rendered once per distinct
content and cached, so a frame is mostly the concatenation of ready-made bands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

Color = tuple[int, int, int]

BACKGROUND: Color = (12, 12, 12)
TEXT: Color = (192, 192, 192)
BRIGHT: Color = (255, 255, 255)
TITLE_BG: Color = (28, 40, 51)
ACCENT: Color = (90, 200, 120)

SCALE = 2
GLYPH_W, GLYPH_H = 5, 7
CELL_W, CELL_H = (GLYPH_W + 1) * SCALE, (GLYPH_H + 2) * SCALE
MARGIN = 8
CURSOR = "\x7f"

# The font: whitespace-separated `<char>:<7 rows as 5-bit hex values>` (bit 4 is leftmost);
# the last glyph, DEL, is the cursor block.
_FONT_TABLE = """
0:0E11131519110E 1:040C040404040E 2:0E11010204081F 3:1F02040201110E 4:02060A121F0202
5:1F101E0101110E 6:0608101E11110E 7:1F010204080808 8:0E11110E11110E 9:0E11110F01020C
A:0E1111111F1111 B:1E11111E11111E C:0E11101010110E D:1C12111111121C E:1F10101E10101F
F:1F10101E101010 G:0E11101711110F H:1111111F111111 I:0E04040404040E J:0702020202120C
K:11121418141211 L:1010101010101F M:111B1515111111 N:11111915131111 O:0E11111111110E
P:1E11111E101010 Q:0E11111115120D R:1E11111E141211 S:0F10100E01011E T:1F040404040404
U:1111111111110E V:11111111110A04 W:1111111515150A X:11110A040A1111 Y:1111110A040404
Z:1F01020408101F a:00000E010F110F b:1010161911111E c:00000E1010110E d:01010D1311110F
e:00000E111F100E f:0609081C080808 g:000F11110F010E h:10101619111111 i:04000C0404040E
j:0200060202120C k:10101214181412 l:0C04040404040E m:00001A15151111 n:00001619111111
o:00000E1111110E p:00001E111E1010 q:00000D130F0101 r:00001619101010 s:00000E100E011E
t:08081C08080906 u:0000111111130D v:00001111110A04 w:0000111115150A x:0000110A040A11
y:000011110F010E z:00001F0204081F !:04040404000004 \":0A0A0A00000000 #:0A0A1F0A1F0A0A
$:040F140E051E04 %:18190204081303 &:0C12140815120D ':0C040800000000 (:02040808080402
):08040202020408 *:0004150E150400 +:0004041F040400 ,:000000000C0408 -:0000001F000000
.:00000000000C0C /:00010204081000 ::000C0C000C0C00 ;:000C0C000C0408 <:02040810080402
=:00001F001F0000 >:08040201020408 ?:0E110102040004 @:0E11010D15150E [:0E08080808080E
]:0E02020202020E _:0000000000001F |:04040404040404 ^:040A1100000000 `:08040200000000
{:02040408040402 }:08040402040408 ~:00000815020000 \\:00100804020100 \x7f:1F1F1F1F1F1F1F
"""

_UNKNOWN = (0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F)


def _parse_font(table: str) -> dict[str, tuple[int, ...]]:
    font: dict[str, tuple[int, ...]] = {" ": (0,) * GLYPH_H}
    for token in table.split():
        char, hexrows = token[0], token[2:]
        if len(hexrows) != 2 * GLYPH_H:
            raise ValueError(f"bad glyph {token!r}")
        font[char] = tuple(int(hexrows[i : i + 2], 16) for i in range(0, 2 * GLYPH_H, 2))
    return font


FONT = _parse_font(_FONT_TABLE)


def pixel(color: Color) -> bytes:
    r, g, b = color
    return bytes((b, g, r, 0))


@lru_cache(maxsize=256)
def text_band(text: str, width: int, fg: Color, bg: Color) -> bytes:
    """One text line as a band of CELL_H pixel rows, `width` pixels wide, text at MARGIN."""
    on, off = pixel(fg), pixel(bg)
    rows = [bytearray(off * width) for _ in range(CELL_H)]
    top = SCALE  # a little air above the glyphs
    for i, char in enumerate(text):
        x0 = MARGIN + i * CELL_W
        if x0 + GLYPH_W * SCALE > width:
            break
        for gy, bits in enumerate(FONT.get(char, _UNKNOWN)):
            if not bits:
                continue
            run = bytearray()
            for gx in range(GLYPH_W):
                run += (on if bits & (0x10 >> gx) else off) * SCALE
            for dy in range(SCALE):
                rows[top + gy * SCALE + dy][x0 * 4 : x0 * 4 + len(run)] = run
    return b"".join(rows)


def _fill(width: int, height: int, color: Color) -> bytes:
    return pixel(color) * (width * height)


def _duration(seconds: float) -> str:
    s = int(max(0.0, seconds))
    days, s = divmod(s, 86400)
    return f"{days}d {s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ConsoleScreen:
    """A VM's text console, redrawn from `clock()`; keys typed at the prompt are echoed."""

    MAX_INPUT = 40

    def __init__(
        self,
        name: str,
        width: int = 800,
        height: int = 600,
        *,
        clock: Callable[[], float] = time.time,
        started: float | None = None,
    ) -> None:
        self.name = name
        self.width = width
        self.height = height
        self._clock = clock
        self._started = clock() if started is None else started
        self._typed = ""
        self._message = ""
        self.pointer_position = (0, 0)

    def key(self, keysym: int, down: bool) -> None:
        if not down:
            return
        if keysym == 0xFF08:  # BackSpace
            self._typed = self._typed[:-1]
        elif keysym in (0xFF0D, 0xFF8D):  # Return, KP_Enter
            self._message = "Login incorrect" if self._typed else ""
            self._typed = ""
        elif 0x20 <= keysym <= 0x7E and len(self._typed) < self.MAX_INPUT:
            self._typed += chr(keysym)

    def pointer(self, buttons: int, x: int, y: int) -> None:
        self.pointer_position = (x, y)

    def lines(self, now: float) -> list[tuple[str, Color, Color]]:
        cursor = CURSOR if int(now * 2) % 2 == 0 else " "
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        ticks = int(now) % 20
        activity = "[" + " " * ticks + "##" + " " * (19 - ticks) + "]"
        return [
            (f" {self.name} - xorca simulated console", BRIGHT, TITLE_BG),
            ("", TEXT, BACKGROUND),
            ("XCP-ng release 8.3 (simulated)", TEXT, BACKGROUND),
            (f"Kernel 4.19 on an x86_64 ({self.name})", TEXT, BACKGROUND),
            ("", TEXT, BACKGROUND),
            (f"login: {self._typed}{cursor}", BRIGHT, BACKGROUND),
            (self._message, TEXT, BACKGROUND),
            ("", TEXT, BACKGROUND),
            (f"uptime {_duration(now - self._started)}   {stamp}", ACCENT, BACKGROUND),
            (activity, ACCENT, BACKGROUND),
        ]

    def frame(self) -> bytes:
        """The whole screen, `width * height * 4` bytes."""
        bands = [text_band(t, self.width, fg, bg) for t, fg, bg in self.lines(self._clock())]
        used = len(bands) * CELL_H
        if used > self.height:
            keep = self.height // CELL_H
            bands, used = bands[:keep], keep * CELL_H
        bands.append(_fill(self.width, self.height - used, BACKGROUND))
        return b"".join(bands)
