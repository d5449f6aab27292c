"""Command arguments checked against the XAPI datamodel, before anything reaches XAPI.

The datamodel shipped with ``xorca.xapi`` gives every parameter's type; `check_argument` checks a
JSON value against it and returns the value XAPI expects. It is stricter than XAPI in one way on
purpose: a constructor record (``VDI.create``'s ``args``) with a field the class does not have is
refused (``XORCA_UNKNOWN_FIELD``), where XAPI would silently ignore it and create the object with
a default in place of what the caller misspelt.

Errors use XAPI's own codes where XAPI has one: ``FIELD_TYPE_ERROR [param]`` for a value of the
wrong type and ``INVALID_VALUE [param, value]`` for a value outside an enum.
"""

from __future__ import annotations

import re
from typing import Any

from xorca.contracts.codes import UNKNOWN_FIELD
from xorca.contracts.errors import CommandRejected
from xorca.xapi.codes import FIELD_TYPE_ERROR, INVALID_VALUE
from xorca.xapi.datamodel import (
    Enum,
    MapOf,
    OptionOf,
    Prim,
    RecordOf,
    Ref,
    SetOf,
    Type,
    datamodel,
    enum_values,
)

__all__ = ["FIELD_TYPE_ERROR", "INVALID_VALUE", "UNKNOWN_FIELD", "check_argument"]

_REF = re.compile(r"^OpaqueRef:[^\s]{1,128}$")
_INT_TEXT = re.compile(r"^[+-]?[0-9]{1,19}$")
_XAPI_DATETIME = re.compile(r"^[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
_INT64 = (-(2**63), 2**63 - 1)


def check_argument(t: Type, value: Any, name: str) -> Any:
    """``value`` as XAPI expects a ``t``, or `CommandRejected` naming the parameter ``name``."""
    match t:
        case Prim("string"):
            if isinstance(value, str):
                return value
        case Prim("int"):
            # 64-bit ints may come as decimal text: JavaScript clients cannot hold them all
            if isinstance(value, str) and _INT_TEXT.match(value):
                value = int(value)
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and _INT64[0] <= value <= _INT64[1]
            ):
                return value
        case Prim("float"):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        case Prim("bool"):
            if isinstance(value, bool):
                return value
        case Prim("datetime"):
            if isinstance(value, str) and _XAPI_DATETIME.match(value):
                return value
        case Ref():
            if isinstance(value, str) and _REF.match(value):
                return value
        case Enum(enum):
            if isinstance(value, str):
                return _enum_value(enum, value, name)
        case SetOf(item):
            if isinstance(value, list):
                return [check_argument(item, v, name) for v in value]
        case MapOf(key, val):
            if isinstance(value, dict):
                return {
                    check_argument(key, k, name): check_argument(val, v, name)
                    for k, v in value.items()
                }
        case RecordOf(cls):
            if isinstance(value, dict):
                return _check_record(cls, value, name)
        case OptionOf(inner):
            if value is None:
                return None
            return check_argument(inner, value, name)
    raise CommandRejected(FIELD_TYPE_ERROR, [name])


def _enum_value(enum: str, value: str, name: str) -> str:
    values = enum_values(enum)
    if value in values:
        return value
    # xapi reads enums case-insensitively; send its own spelling
    lowered = {v.lower(): v for v in values}
    if value.lower() in lowered:
        return lowered[value.lower()]
    raise CommandRejected(INVALID_VALUE, [name, value])


def _check_record(cls: str, value: dict[str, Any], name: str) -> dict[str, Any]:
    cdef = datamodel().classes[cls]
    out: dict[str, Any] = {}
    for key, v in value.items():
        field = cdef.fields.get(key)
        if field is None:
            raise CommandRejected(UNKNOWN_FIELD, [name, key])
        out[key] = check_argument(field.type, v, f"{name}.{key}")
    return out
