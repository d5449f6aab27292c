"""How xapi reads the arguments of ``event.from``, ``register`` and ``unregister``, as pure
functions: tokens (``Token.of_string``, whose numbers are OCaml's ``Int64.of_string``),
subscriptions (``Subscription.of_string``) and the timeout (``Clock.Timer.s_to_span``).
Sources: ``ocaml/xapi/xapi_event.ml``, OCaml's ``runtime/ints.c``, ``ocaml/libs/clock/timer.ml``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from xorca.xapi.datamodel import EVENTLESS
from xorca.xapi.errors import XapiError

DAY = 24 * 3600.0

# ---- tokens ----------------------------------------------------------------------------------

_UINT64 = (1 << 64) - 1
_INT64_MIN = 1 << 63
#: ``parse_sign_and_base``: the prefix after ``0`` -> base; any prefix makes the number unsigned
_PREFIXES = {"x": 16, "X": 16, "o": 8, "O": 8, "b": 2, "B": 2, "u": 10, "U": 10}
_DIGITS = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}


def ocaml_int64(text: str) -> int:
    """OCaml's ``Int64.of_string`` (``caml_int64_of_string``); ValueError where it fails.

    One optional sign; ``0x``/``0o``/``0b`` (hexadecimal, octal, binary) or ``0u`` (decimal)
    make it unsigned, so the whole 64-bit range is accepted and wraps (``0xFFFFFFFFFFFFFFFF`` is
    -1, and a ``-`` negates modulo 2^64); plain decimal must fit -2^63 .. 2^63-1. The first
    digit is mandatory, every later ``_`` is skipped; nothing else may follow.
    """
    i, n, negative = 0, len(text), False
    if i < n and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    base, signed = 10, True
    if i + 1 < n and text[i] == "0" and text[i + 1] in _PREFIXES:
        base, signed = _PREFIXES[text[i + 1]], False
        i += 2
    first = _DIGITS.get(text[i]) if i < n else None
    if first is None or first >= base:
        raise ValueError(f"Int64.of_string {text!r}")
    value = first
    for c in text[i + 1 :]:
        if c == "_":
            continue
        digit = _DIGITS.get(c)
        if digit is None or digit >= base:
            raise ValueError(f"Int64.of_string {text!r}")  # ints.c stops; not at the end: fails
        value = value * base + digit
        if value > _UINT64:
            raise ValueError(f"Int64.of_string {text!r}")
    if signed and value > (_INT64_MIN if negative else _INT64_MIN - 1):
        raise ValueError(f"Int64.of_string {text!r}")
    if negative:
        value = -value
    value &= _UINT64
    return value - (1 << 64) if value >= _INT64_MIN else value


def parse_token(token: str) -> tuple[int, int]:
    """``Token.of_string``: ``""`` is (0, 0); otherwise exactly two ``Int64.of_string`` numbers
    around one comma, else ``EVENT_FROM_TOKEN_PARSE_FAILURE [token]``."""
    if token == "":
        return 0, 0
    parts = token.split(",")
    try:
        if len(parts) != 2:
            raise ValueError(token)
        return ocaml_int64(parts[0]), ocaml_int64(parts[1])
    except ValueError:
        raise XapiError("EVENT_FROM_TOKEN_PARSE_FAILURE", [token]) from None


def format_token(generation: int, message_generation: int) -> str:
    """``Token.to_string``: ``%020Ld,%020Ld``, so tokens compare as strings."""
    return f"{generation:020d},{message_generation:020d}"


# ---- subscriptions ---------------------------------------------------------------------------

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def lower_ascii(text: str) -> str:
    """OCaml's ``String.lowercase_ascii``: only A-Z change."""
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True, slots=True)
class Subscription:
    """xapi's ``Subscription.t``: ``All`` (``cls`` None), ``Class cls`` or ``Object (cls, ref)``.

    Any text is one: the class is lowercased but never looked up, so an unknown class or
    ``"vm/"`` (an object with an empty ref) is no error — it simply selects nothing.
    """

    cls: str | None
    ref: str | None = None

    @property
    def text(self) -> str:
        """What `parse_subscription` reads back as this subscription."""
        if self.cls is None:
            return "*"
        return self.cls if self.ref is None else f"{self.cls}/{self.ref}"

    @property
    def is_task_only(self) -> bool:
        return self.cls == "task"

    def table_matches(self, lower_cls: str) -> bool:
        """May this select anything of the class (``table_matches``)?"""
        return self.cls is None or self.cls == lower_cls

    def matches(self, lower_cls: str, ref: str) -> bool:
        """Does it deliver the events of object ``ref`` of ``lower_cls``? Never for a class
        whose datamodel says ``gen_events=false``, by name or by ``*`` alike."""
        if lower_cls in EVENTLESS or not self.table_matches(lower_cls):
            return False
        return self.ref is None or self.ref == ref


def parse_subscription(text: str) -> Subscription:
    """``Subscription.of_string``: ``*``; else split at the first ``/``."""
    if text == "*":
        return Subscription(None)
    cls, slash, ref = text.partition("/")
    return Subscription(lower_ascii(cls), ref if slash else None)


def parse_subscriptions(classes: Iterable[str]) -> list[Subscription]:
    return [parse_subscription(c) for c in classes]


# ---- the timeout -----------------------------------------------------------------------------

#: Mtime.Span.of_float_ns refuses this many nanoseconds and more (2^53: past it, floats skip)
_MAX_SPAN_NS = float(1 << 53)


def _round_half_away(x: float) -> float:
    """OCaml's ``Float.round`` (C ``round``): halves go away from zero."""
    a = abs(x)
    whole = math.floor(a)
    return math.copysign(whole + 1 if a - whole >= 0.5 else whole, x)


def timeout_seconds(timeout: float) -> float:
    """What ``event.from`` waits: ``Clock.Timer.s_to_span`` of the timeout, or 24 hours where
    that is None — negative, NaN, infinite, or 2^53 ns (about 104 days) and more. A timeout
    that rounds to -0 ns is a valid zero."""
    if not math.isfinite(timeout):
        return DAY
    ns = _round_half_away(timeout * 1e9)
    if ns < 0 or ns >= _MAX_SPAN_NS:
        return DAY
    return ns / 1e9


def batching_pauses(between: float) -> Iterator[float]:
    """``Throttle.Batching.with_recursive_loop``: the pauses before each poll after the first,
    from a sixteenth of ``between``, doubled each time, never above it."""
    pause = between / 16
    while True:
        pause = min(between, 2 * pause)
        yield pause
