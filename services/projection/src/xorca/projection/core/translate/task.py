"""Task records: ``task`` objects.

A successful task's ``result`` is the XML-RPC serialisation of what the call returned (XAPI.md
§3), even over JSON-RPC: ``<value>OpaqueRef:…</value>`` for a new VM, ``<value></value>`` for
void. When it is a ref, ``$result`` is the uuid of the object it names (and ``result_type`` that
object's client type), so that a client that started a clone finds the new VM.
"""

from __future__ import annotations

import re

from xorca.projection.core.translate.context import Context
from xorca.projection.core.translate.fields import Record, get_float, get_ref, get_str, get_strs
from xorca.projection.core.translate.kinds import PRIMARY_CLASSES, type_of
from xorca.projection.core.translate.values import iso_datetime

__all__ = ["translate_task"]

_REF_RESULT = re.compile(r"\s*(?:<value>\s*)?(OpaqueRef:[^<>\s]+)\s*(?:</value>)?\s*")


def translate_task(ctx: Context) -> dict[str, object]:
    r = ctx.record
    status = get_str(r, "status")
    progress = get_float(r, "progress")
    data: dict[str, object] = {
        **ctx.common(named=True),
        "status": status,
        "progress": None if progress is None else min(max(progress, 0.0), 1.0),
        "created": iso_datetime(r.get("created")),
        "finished": iso_datetime(r.get("finished")),
        "error_info": get_strs(r, "error_info") if status == "failure" else None,
        "$resident_on": ctx.link(get_ref(r, "resident_on"), "host"),
        "$subtask_of": ctx.link(get_ref(r, "subtask_of"), "task"),
        **ctx.operations(),
    }
    if status == "success":
        data |= _result(ctx, r)
    return data


def _result(ctx: Context, r: Record) -> dict[str, object]:
    result = get_str(r, "result")
    if result is None:
        return {}
    fields: dict[str, object] = {"result": result}
    match = _REF_RESULT.fullmatch(result)
    target = ctx.linked(match.group(1), None) if match else None
    # only objects clients can see are linked: a ref to a metrics record is left as text
    if target is not None and target.cls in PRIMARY_CLASSES:
        fields["$result"] = target.uuid
        fields["result_type"] = type_of(target.cls, target.record)
    return fields
