"""Typed, tolerant reads of XAPI record fields.

Every accessor returns the field as the type it should have, or ``None`` when it is absent or of
another type: translators then leave the field out instead of failing. Two tolerances go beyond
the JSON-RPC types, because the same records also reach us through XML-RPC (where XAPI's 64-bit
ints travel as decimal text) and from xapi's own database dumps (bools as ``"true"``/``"false"``):
ints and floats may be decimal strings, bools may be those two words.

Values that JSON cannot carry faithfully are refused too: ints outside 64 bits (orjson refuses
them, and XAPI never sends them) and non-finite floats (XAPI's bare ``NaN`` tokens).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

__all__ = [
    "NULL_REF",
    "Record",
    "get_bool",
    "get_float",
    "get_int",
    "get_list",
    "get_map",
    "get_ref",
    "get_refs",
    "get_str",
    "get_str_map",
    "get_strs",
    "is_ref",
    "to_float",
    "to_int",
]

#: a record as the translators read it: field name -> value of any type
Record = Mapping[str, object]

NULL_REF = "OpaqueRef:NULL"
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_DECIMAL = re.compile(r"[+-]?\d{1,20}")
_MAX_FLOAT_TEXT = 64


def to_int(value: object) -> int | None:
    """An int, or the int a decimal string spells (XML-RPC's ints); never a bool."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and _DECIMAL.fullmatch(value.strip())):
        number = int(value)
    else:
        return None
    return number if _INT_MIN <= number <= _INT_MAX else None


def to_float(value: object) -> float | None:
    """A finite float from a float, an int or decimal text (``"2000.000"``, ``"1794990746."``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = float(value) if _INT_MIN <= value <= _INT_MAX else math.nan
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str) and len(value) <= _MAX_FLOAT_TEXT:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def get_str(record: Record, key: str) -> str | None:
    value = record.get(key)
    return str(value) if isinstance(value, str) else None


def get_int(record: Record, key: str) -> int | None:
    return to_int(record.get(key))


def get_float(record: Record, key: str) -> float | None:
    return to_float(record.get(key))


def get_bool(record: Record, key: str) -> bool | None:
    value = record.get(key)
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def get_map(record: Record, key: str) -> dict[str, object] | None:
    """A map field, keeping only its string keys (JSON objects have no others)."""
    value = record.get(key)
    if not isinstance(value, Mapping):
        return None
    return {str(k): v for k, v in value.items() if isinstance(k, str)}


def get_str_map(record: Record, key: str) -> dict[str, str] | None:
    """A ``(string -> string) map``, keeping only the entries whose value is a string."""
    found = get_map(record, key)
    if found is None:
        return None
    return {k: str(v) for k, v in found.items() if isinstance(v, str)}


def get_list(record: Record, key: str) -> list[object] | None:
    value = record.get(key)
    return list(value) if isinstance(value, list | tuple) else None


def get_strs(record: Record, key: str) -> list[str] | None:
    """A ``string set`` (or enum set), keeping only its strings."""
    found = get_list(record, key)
    return None if found is None else [str(v) for v in found if isinstance(v, str)]


def is_ref(value: object) -> bool:
    """Whether ``value`` may name an object: a non-empty string other than the null ref (XAPI's
    own refs start with ``OpaqueRef:``, but the lookup, not this test, decides what exists)."""
    return isinstance(value, str) and value != "" and value != NULL_REF


def get_ref(record: Record, key: str) -> str | None:
    value = record.get(key)
    return str(value) if isinstance(value, str) and is_ref(value) else None


def get_refs(record: Record, key: str) -> list[str]:
    """A ``ref set`` without null refs or duplicates, in XAPI's order (empty when absent)."""
    found = get_list(record, key) or []
    refs: dict[str, None] = {}
    for value in found:
        if isinstance(value, str) and is_ref(value):
            refs[str(value)] = None
    return list(refs)
