"""The values XAPI exchanges, as Python values.

XAPI's wire types map onto plain Python values, with two markers where the wire needs to know more
than Python's type says:

- `DateTime` is a ``str`` holding XAPI's ``YYYYMMDDTHH:MM:SSZ`` text. JSON-RPC sends it as that
  string; XML-RPC wraps it in ``<dateTime.iso8601>``.
- `Int32` is an ``int`` that XML-RPC sends as ``<i4>`` (only ``valid_ref_counts`` uses it); every
  other int travels as an untyped ``<value>`` holding decimal text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeAlias

_FORMAT = "%Y%m%dT%H:%M:%SZ"


class DateTime(str):
    """An XAPI datetime, ``20250319T04:16:24Z``."""

    __slots__ = ()

    @classmethod
    def from_datetime(cls, when: datetime) -> DateTime:
        return cls(when.astimezone(UTC).strftime(_FORMAT))

    @classmethod
    def from_timestamp(cls, seconds: float) -> DateTime:
        return cls.from_datetime(datetime.fromtimestamp(seconds, UTC))

    def to_datetime(self) -> datetime:
        return datetime.strptime(self, _FORMAT).replace(tzinfo=UTC)


class Int32(int):
    """An int that XML-RPC encodes as ``<i4>``."""

    __slots__ = ()


Value: TypeAlias = str | bool | int | float | DateTime | list["Value"] | dict[str, "Value"]
