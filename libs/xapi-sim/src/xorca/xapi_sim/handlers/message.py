"""``message.*``: the administrator alerts, which xapi keeps outside its database (one file per
message, ``xapi_message.ml``) and the simulator keeps in ``db.messages`` with their own generation,
so ``event.from`` reports them as it does in xapi.

The generic implementations read database tables, so every ``message`` call the datamodel declares
is written here. The datamodel declares no field getters for messages (``message.get_name`` is
``MESSAGE_METHOD_UNKNOWN`` on a real pool too); clients read whole records.

xapi behaviour kept: results are newest first; ``get_since``/``get`` keep messages strictly later
than ``since`` (compared at sub-second precision, as xapi's float timestamps are);
``get_all_records_where`` filters on name, uuid, priority, cls, obj_uuid, timestamp and body;
``create`` checks that ``obj_uuid`` names an object of class ``cls``. ``get`` reports an unknown
object with the declared ``UUID_INVALID [cls, uuid]`` (xapi sends it without parameters). At most
``MESSAGE_LIMIT`` messages are kept, oldest dropped first, like xapi's ``message_limit``.
"""

from __future__ import annotations

import re
import time
import uuid as uuidlib
import weakref
from datetime import UTC, datetime
from functools import partial

from xorca.xapi.errors import XapiError
from xorca.xapi.values import DateTime, Value
from xorca.xapi_sim.rpc import where
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state.db import Database, Record
from xorca.xapi_sim.state.pool import SimPool

MESSAGE_LIMIT = 10_000
#: the ``cls`` enum -> the datamodel class whose uuid ``obj_uuid`` must be
CLASSES = {
    "VM": "VM",
    "Host": "host",
    "SR": "SR",
    "Pool": "pool",
    "VMPP": "VMPP",
    "VMSS": "VMSS",
    "PVS_proxy": "PVS_proxy",
    "VDI": "VDI",
    "Certificate": "Certificate",
}
#: characters XML 1.0 cannot carry (xapi stores messages as XML and refuses them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_WHEN = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"
)
#: creation times at full precision, by message ref (the record's datetime has whole seconds)
_created: weakref.WeakKeyDictionary[Database, dict[str, float]] = weakref.WeakKeyDictionary()


def parse_when(text: str, param: str = "since") -> float:
    """Seconds since the epoch of an XAPI or RFC 3339 datetime; no zone means UTC."""
    m = _WHEN.match(text.strip())
    if not m:
        raise XapiError("INVALID_VALUE", [param, text])
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone = m.group(7), m.group(8)
    try:
        when = datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()
    except ValueError:
        raise XapiError("INVALID_VALUE", [param, text]) from None
    if fraction:
        when += float(fraction)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        when -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return when


def _created_at(db: Database, ref: str, record: Record) -> float:
    precise = _created.get(db, {}).get(ref)
    return precise if precise is not None else parse_when(str(record["timestamp"]), "timestamp")


def _newest_first(db: Database, refs: list[str] | None = None) -> list[tuple[str, Record]]:
    pairs = [(r, db.messages[r]) for r in (refs if refs is not None else db.messages)]
    return sorted(pairs, key=lambda p: _created_at(db, p[0], p[1]), reverse=True)


def post_message(
    pool: SimPool, name: str, priority: int, cls: str, obj_uuid: str, body: str
) -> str:
    """Raise an alert as xapi would; for other simulator code too (activity, VM operations)."""
    db = pool.db
    now = time.time()
    record = db.dm.cls("message").new_record(
        uuid=str(uuidlib.uuid4()),
        name=name,
        priority=priority,
        cls=cls,
        obj_uuid=obj_uuid,
        timestamp=DateTime.from_timestamp(now),
        body=body,
    )
    ref = db.add_message(record)
    created = _created.setdefault(db, {})
    created[ref] = now
    excess = len(db.messages) - MESSAGE_LIMIT
    if excess > 0:
        for old, _ in _newest_first(db)[-excess:]:
            _destroy(db, old)
    return ref


def _destroy(db: Database, ref: str) -> None:
    db.destroy_message(ref)
    _created.get(db, {}).pop(ref, None)


@api("message.create")
async def create(
    ctx: CallContext, name: str, priority: int, cls: str, obj_uuid: str, body: str
) -> Value:
    if _NOT_XML.search(body):
        raise XapiError("INVALID_VALUE", ["body", "UTF8 expected"])
    if obj_uuid not in ctx.db.by_uuid[CLASSES[cls]]:
        raise XapiError("UUID_INVALID", [cls, obj_uuid])
    return post_message(ctx.pool, name, priority, cls, obj_uuid, body)


@api("message.destroy")
async def destroy(ctx: CallContext, message: str) -> Value:
    _destroy(ctx.db, message)
    return ""


@api("message.destroy_many")
async def destroy_many(ctx: CallContext, messages: list[str]) -> Value:
    """In order, stopping at the first unknown ref (the ones before it stay destroyed)."""
    for message in messages:
        _destroy(ctx.db, message)
    return ""


@api("message.destroy_all")
async def destroy_all(ctx: CallContext, filters: dict[str, str]) -> Value:
    """Filters ``before``/``after`` (datetimes) and ``priority``, all of which must hold."""
    unknown = set(filters) - {"before", "after", "priority"}
    if unknown:
        key = sorted(unknown)[0]
        raise XapiError("INVALID_VALUE", [key, filters[key]])
    before = parse_when(filters["before"], "before") if "before" in filters else None
    after = parse_when(filters["after"], "after") if "after" in filters else None
    try:
        priority = int(filters["priority"]) if "priority" in filters else None
    except ValueError:
        raise XapiError("INVALID_VALUE", ["priority", filters["priority"]]) from None
    db = ctx.db
    for ref, record in _newest_first(db):
        when = _created_at(db, ref, record)
        if before is not None and not when < before:
            continue
        if after is not None and not when > after:
            continue
        if priority is not None and record["priority"] != priority:
            continue
        _destroy(db, ref)
    return ""


@api("message.get_all")
async def get_all(ctx: CallContext) -> Value:
    return [ref for ref, _ in _newest_first(ctx.db)]


@api("message.get_all_records")
async def get_all_records(ctx: CallContext) -> Value:
    return dict(_newest_first(ctx.db))


@api("message.get_all_records_where")
async def get_all_records_where(ctx: CallContext, expr: str) -> Value:
    """The messages ``expr`` selects (``rpc/where.py``'s language), over the columns xapi reads
    from a message (xapi_message.ml ``get_all_records_where``). A column it does not know
    fails that message's evaluation, which xapi's reading loop swallows: the message is left
    out, no error is raised."""
    tree = where.parse(expr)
    selected: dict[str, Value] = {}
    for ref, record in _newest_first(ctx.db):
        try:
            if where.evaluate(tree, partial(_message_column, record)):
                selected[ref] = record
        except where.MissingField:
            continue
    return selected


#: the columns of a message and how xapi writes them (xapi_message.ml ``eval_val``)
_MESSAGE_COLUMNS = {"name", "uuid", "priority", "cls", "obj_uuid", "timestamp", "body"}


def _message_column(record: Record, column: str) -> str:
    if column not in _MESSAGE_COLUMNS:
        raise where.MissingField(column)
    return str(record[column])  # priority: Int64.to_string; timestamp: Date.to_rfc3339


@api("message.get_record")
async def get_record(ctx: CallContext, message: str) -> Value:
    record = ctx.db.messages.get(message)
    if record is None:
        raise XapiError("HANDLE_INVALID", ["message", message])
    return record


@api("message.get_by_uuid")
async def get_by_uuid(ctx: CallContext, uuid: str) -> Value:
    for ref, record in ctx.db.messages.items():
        if record["uuid"] == uuid:
            return ref
    raise XapiError("UUID_INVALID", ["message", uuid])


@api("message.get_since")
async def get_since(ctx: CallContext, since: DateTime) -> Value:
    cutoff = parse_when(since)
    db = ctx.db
    return {r: m for r, m in _newest_first(db) if _created_at(db, r, m) > cutoff}


@api("message.get")
async def get(ctx: CallContext, cls: str, obj_uuid: str, since: DateTime) -> Value:
    if obj_uuid not in ctx.db.by_uuid[CLASSES[cls]]:
        raise XapiError("UUID_INVALID", [cls, obj_uuid])
    cutoff = parse_when(since)
    db = ctx.db
    return {
        r: m
        for r, m in _newest_first(db)
        if m["cls"] == cls and m["obj_uuid"] == obj_uuid and _created_at(db, r, m) > cutoff
    }
