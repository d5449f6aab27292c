"""The values of the filter language: numbers with units, booleans, ISO dates and wildcard
patterns, read from filter text and written back to it.

A *pattern* is kept in one canonical form, whatever quoting the user wrote: ``*`` and ``?`` are
wildcards, ``\\*``, ``\\?`` and ``\\\\`` stand for those characters, every other character for
itself.
"""

from __future__ import annotations

import re

__all__ = [
    "KEYWORDS",
    "Number",
    "glob_regex",
    "literal_text",
    "parse_bool",
    "parse_date",
    "parse_number",
    "quote_pattern",
    "render_number",
]

Number = int | float

#: words that are operators unless quoted
KEYWORDS = frozenset({"or", "and", "not"})

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "t": 1024**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
}
# three exponent digits at most: `1e999999999` would be a costly int to build
_NUMBER = re.compile(
    r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:e([+-]?\d{1,3}))?(kib|mib|gib|tib|kb|mb|gb|tb|[bkmgt%])?",
    re.IGNORECASE,
)
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_DATE = re.compile(r"\d{4}-\d{2}(?:-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?)?Z?", re.I)
_PLAIN_SAFE = re.compile(r'[^\s()|"\\]+')


def parse_number(text: str) -> Number | None:
    """``text`` as a number (``4G``, ``1.5GiB``, ``500MB``, ``80%``, ``-1``, ``2e3``), or None.

    K, M, G, T (and KiB…TiB) are powers of 1024, KB…TB powers of 1000, ``%`` hundredths; any
    case. Integral values are ints, computed exactly (``1.5G`` is 1610612736); others floats.
    """
    found = _NUMBER.fullmatch(text)
    if found is None:
        return None
    mantissa, exponent, unit = found.groups()
    digits, _, decimals = mantissa.lstrip("+-").partition(".")
    scale = int(exponent or 0) - len(decimals)
    numerator = int((digits + decimals) or "0")
    if unit == "%":
        scale -= 2
    else:
        numerator *= _UNITS[(unit or "").lower()]
    value: Number
    if scale >= 0:
        value = numerator * 10**scale
    else:
        quotient, remainder = divmod(numerator, 10**-scale)
        try:
            value = quotient if remainder == 0 else numerator / 10**-scale
        except OverflowError:  # beyond a float's range
            return None
    return -value if mantissa.startswith("-") else value


def render_number(value: Number) -> str:
    """Text that `parse_number` reads back as ``value``: whole MiB, GiB, TiB with their unit
    (``4G``), other long round ints as ``1e99``."""
    if isinstance(value, float):
        if not value.is_integer():
            return repr(value)
        value = int(value)  # exactly: `1e23` as a float is 99999999999999991611392
    for unit in "TGM":
        size = _UNITS[unit.lower()]
        if value and value % size == 0 and abs(value // size) < 1_000_000:
            return f"{value // size}{unit}"
    text = str(value)
    stripped = text.rstrip("0")
    zeros = len(text) - len(stripped)
    return f"{stripped}e{zeros}" if zeros > 3 else text


def parse_bool(text: str) -> bool | None:
    """``true``/``false``, ``yes``/``no``, ``1``/``0`` (any case), or None."""
    return _BOOLS.get(text.lower())


def parse_date(text: str) -> str | None:
    """An ISO 8601 UTC date or datetime, from ``2026-11`` to ``2026-11-01T09:30:00.5Z``, in the
    form client objects write without their final ``Z`` (every datetime is UTC): ``T`` upper
    case, no trailing zeros in a fraction of a second. None when ``text`` is not one."""
    if _DATE.fullmatch(text) is None:
        return None
    date = text.upper().removesuffix("Z")
    if "." in date:
        date = date.rstrip("0").removesuffix(".")
    return date


def _segment_regex(segment: str) -> str:
    """The regex of a pattern's piece between two ``*``: its characters, ``?`` for any."""
    parts: list[str] = []
    chars = iter(segment)
    for char in chars:
        if char == "\\":
            parts.append(re.escape(next(chars, "\\")))
        else:
            parts.append("." if char == "?" else re.escape(char))
    return "".join(parts)


def _split_stars(pattern: str) -> list[str]:
    """The pieces of a pattern between its wildcard (unescaped) ``*``."""
    pieces: list[str] = []
    current: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            current.append(char + next(chars, "\\"))
        elif char == "*":
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A case-insensitive regex that `fullmatch`-es the texts ``pattern`` matches.

    Each piece between two ``*`` is found at its leftmost place and kept there (an atomic
    group): a glob matches if and only if it matches that way, and the regex never backtracks
    into an earlier piece, so matching takes time linear in the text's length times the
    pattern's, whatever the user wrote (``*a*a*a*a*b`` on a long name included).
    """
    first, *rest = (_segment_regex(piece) for piece in _split_stars(pattern))
    if not rest:
        source = first
    else:
        *middle, last = rest
        source = first + "".join(f"(?>.*?{piece})" for piece in middle if piece) + ".*" + last
    return re.compile(source, re.IGNORECASE | re.DOTALL)


def literal_text(pattern: str) -> str | None:
    """The text a pattern without wildcards stands for, or None when it has some."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(next(chars, "\\"))
        elif char in "*?":
            return None
        else:
            out.append(char)
    return "".join(out)


def quote_pattern(pattern: str, *, bare: bool) -> str:
    """A pattern as filter text that reads back as it: unquoted when it can be, else quoted.

    Unquoted text must not read as an operator: not ``*`` alone, no ``..``, no leading ``<`` or
    ``>``; for a bare word also no ``:``, no leading ``-`` or ``!``, not a keyword.
    """
    plain = (
        _PLAIN_SAFE.fullmatch(pattern) is not None
        and pattern != "*"
        and ".." not in pattern
        and pattern[0] not in "<>"
    )
    if plain and bare:
        plain = ":" not in pattern and pattern[0] not in "-!" and pattern.lower() not in KEYWORDS
    return pattern if plain else '"' + pattern.replace('"', '\\"') + '"'
