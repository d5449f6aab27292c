"""JSON-ready values: the no-null rule, and XAPI's datetimes as ISO 8601.

Client objects never hold ``None``, at any depth: an absent value is an absent key (JSON merge
patches use ``null`` to mean "remove", so a null inside an object could not be patched back).
Translators build plain dicts in which a ``None`` means "no value"; `compact` is the one place
that drops them, and that refuses anything JSON cannot carry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

__all__ = [
    "EPOCH",
    "Json",
    "compact",
    "iso_datetime",
    "iso_from_datetime",
    "iso_from_timestamp",
    "some",
]

Json: TypeAlias = str | int | float | bool | list["Json"] | dict[str, "Json"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# XAPI writes 20261126T09:00:00Z; older hosts and other tools add dashes, drop colons or the zone,
# or add fractions. Anything else is not a datetime we can vouch for.
_XAPI_DATETIME = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)


def compact(data: Mapping[str, object]) -> dict[str, Json]:
    """``data`` without its ``None`` values, at every depth (dict values and list items).

    Non-finite floats count as absent too (JSON has no NaN). Any other non-JSON value is a bug in
    the translator that built ``data``: `TypeError`."""
    return _compact_map(data)


def _compact_map(data: Mapping[str, object]) -> dict[str, Json]:
    out: dict[str, Json] = {}
    for key, value in data.items():
        if type(key) is not str:
            if not isinstance(key, str):
                raise TypeError(f"object key {key!r} is not a string")
            key = str(key)
        kind = type(value)
        # the plain JSON types, by far the most common, are taken as they are (the fast path:
        # this runs over every field of every object the projection writes)
        if kind is str or kind is int or kind is bool:
            out[key] = value  # type: ignore[assignment]
        elif value is not None:
            cleaned = _compact(value)
            if cleaned is not None:
                out[key] = cleaned
    return out


def _compact(value: object) -> Json | None:
    kind = type(value)
    if value is None:
        return None
    if kind is str or kind is int or kind is bool:
        return value  # type: ignore[return-value]
    if kind is list and all(type(item) is str for item in value):  # type: ignore[attr-defined]
        return list(value)  # type: ignore[call-overload, no-any-return]
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # plain str: XAPI's DateTime and other subclasses stop here
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return _compact_map(value)
    if isinstance(value, list | tuple):
        items = (_compact(item) for item in value)
        return [item for item in items if item is not None]
    raise TypeError(f"{type(value).__name__} is not JSON-ready")


def some(fields: dict[str, object]) -> dict[str, object] | None:
    """``fields``, or None when none of its values is set: a group of fields read from a record
    that is missing (or holds none of them) is left out instead of published as ``{}``."""
    return fields if any(value is not None for value in fields.values()) else None


def iso_from_datetime(when: datetime) -> str | None:
    """``2026-11-26T09:00:00Z`` (fractions kept when there are any); None at or before the epoch,
    which XAPI uses for "never"."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    if when <= EPOCH:
        return None
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    return text + "Z"


def iso_datetime(value: object) -> str | None:
    """An XAPI datetime (``20261126T09:00:00Z``, with or without dashes, colons or zone; no zone
    means UTC) as ISO 8601 in UTC; None for anything else and for the epoch ("never")."""
    if not isinstance(value, str):
        return None
    match = _XAPI_DATETIME.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        when = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
            when -= timedelta(minutes=offset)
    except (ValueError, OverflowError, OSError):
        return None
    return iso_from_datetime(when)


def iso_from_timestamp(value: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 (None if absent, out of range, or the epoch)."""
    if value is None:
        return None
    try:
        return iso_from_datetime(datetime.fromtimestamp(value, UTC))
    except (ValueError, OverflowError, OSError):
        return None
