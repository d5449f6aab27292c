"""Message records: ``message`` objects, with the fields of XAPI alarms parsed.

Messages name their object by uuid (``obj_uuid``) and class (``cls``: VM, Host, SR, Pool, …), so
they need no lookup. An alarm (``name`` ALARM) carries what perfmon measured in its body::

    value: 0.966
    config:
    <variable>
        <name value="cpu_usage"/>
        <alarm_trigger_level value="0.9"/>
        <alarm_trigger_period value="60"/>
        <alarm_auto_inhibit_period value="3600"/>
    </variable>

(older hosts write ``<value>0.966</value>`` instead of the first line). The parsed fields are
``alarm_*``; a body that does not parse leaves them out, the message itself is kept.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from xorca.projection.core.translate.context import Context
from xorca.projection.core.translate.fields import get_int, get_str, to_float, to_int
from xorca.projection.core.translate.values import iso_datetime

__all__ = ["alarm_fields", "translate_message"]

_VALUE = re.compile(r"^\s*(?:value:\s*([^\s<]+)|<value>\s*([^\s<]+)\s*</value>)", re.MULTILINE)
_VARIABLE = re.compile(r"<variable>.*?</variable>", re.DOTALL)
#: perfmon's bodies are a few hundred bytes; anything much larger is not one
_MAX_BODY = 16_384

#: child of <variable> -> (field, parser)
_SETTINGS: dict[str, tuple[str, Callable[[str], object]]] = {
    "name": ("alarm_source", str),
    "alarm_trigger_level": ("alarm_trigger_level", to_float),
    "alarm_trigger_period": ("alarm_trigger_period", to_int),
    "alarm_auto_inhibit_period": ("alarm_auto_inhibit_period", to_int),
    "alarm_trigger_sense": ("alarm_trigger_sense", str),
    "consolidation_fn": ("alarm_consolidation_fn", str),
}


def translate_message(ctx: Context) -> dict[str, object]:
    r = ctx.record
    name = get_str(r, "name")
    body = get_str(r, "body")
    obj_uuid = get_str(r, "obj_uuid")
    data: dict[str, object] = {
        **ctx.common(named=False),
        "name": name,
        "priority": get_int(r, "priority"),
        "cls": get_str(r, "cls"),
        "$object": obj_uuid or None,
        "timestamp": iso_datetime(r.get("timestamp")),
        "body": body,
        "alarm": name == "ALARM",
    }
    if name == "ALARM" and body is not None:
        data |= alarm_fields(body)
    return data


def alarm_fields(body: str) -> dict[str, object]:
    """``alarm_value`` and the ``alarm_*`` settings of an alarm body (empty if none parse)."""
    if len(body) > _MAX_BODY:
        return {}
    fields: dict[str, object] = {}
    value = _VALUE.search(body)
    if value is not None:
        fields["alarm_value"] = to_float(value.group(1) or value.group(2))
    variable = _VARIABLE.search(body)
    # No DTD, no entities: refusing "<!" keeps the parser away from entity expansion attacks.
    if variable is None or "<!" in variable.group(0):
        return fields
    try:
        root = ET.fromstring(variable.group(0))  # noqa: S314 (no DTD can reach it, see above)
    except ET.ParseError:
        return fields
    for child in root:
        setting = _SETTINGS.get(child.tag)
        text = child.get("value")
        if setting is not None and text is not None:
            field, parse = setting
            fields[field] = parse(text)
    return fields
