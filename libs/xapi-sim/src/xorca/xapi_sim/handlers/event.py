"""``event.*`` as xapi's ``xapi_event.ml`` answers it: ``event.from``, ``event.inject``, and the
legacy ``register``/``unregister``/``next``/``get_current_id`` with ``EVENTS_LOST``.

``event.from(classes, token, timeout)``:

- Arguments (`event_parsing`): no subscription is ever refused — an unknown class or ``"vm/"``
  selects nothing, and the call waits out its timeout; a bad token is
  ``EVENT_FROM_TOKEN_PARSE_FAILURE [token]``; an invalid timeout means 24 hours.
- Only tables whose datamodel says ``gen_events`` produce events (``EVENTLESS`` never does, by
  name or ``*``); messages, which live outside the database, come with any subscription that may
  select the ``message`` table, all of them, whatever object it names.
- The batch (`collect`): each object once — ``add`` if created after the token, else ``mod``
  with its current record, ``del`` (no snapshot) unless it was also created after the token —
  in xapi's order: message deletions then additions, oldest first, then the rows' additions,
  modifications (both by table in datamodel order, then by ref) and deletions (newest first).
  ``valid_ref_counts`` counts every table.
- The token is xapi's: its first half the newest generation among the rows the batch looked at
  (the old one when nothing matched: an empty answer returns the token it was given), the second
  the newest message generation reported, or 0 when messages were not subscribed.
- Timing: ``event_from_delay`` (``SimConfig.event_batching_delay``) before the first look, none
  when every subscription is task-only (an empty list too); between looks the pause grows from a
  sixteenth of it to all of it (``Throttle.Batching``). A logout wakes a waiting call with
  ``SESSION_INVALID``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from operator import itemgetter

from xorca.xapi.datamodel import EVENTLESS, Datamodel
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Int32, Value
from xorca.xapi_sim.handlers.event_parsing import (
    Subscription,
    batching_pauses,
    format_token,
    lower_ascii,
    parse_subscription,
    parse_subscriptions,
    parse_token,
    timeout_seconds,
)
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state.db import Database, Record, Row
from xorca.xapi_sim.state.pool import SessionState, SimPool

__all__ = [
    "Batch",
    "Selection",
    "collect",
    "format_token",
    "parse_subscriptions",
    "parse_token",
    "select",
]

#: xapi remembers 512 to 1024 message deletions (``xapi_message.ml`` ``deleted``); a first call
#: reports the newest of them
MESSAGE_DELETIONS = 1024
#: ``event_next_delay`` waits 200 ms before the first look, four times ``event_from_delay``
NEXT_DELAY_FACTOR = 4


@dataclass(frozen=True)
class Selection:
    """What a list of subscriptions selects, table by table (datamodel spelling): whole tables,
    single objects, and whether messages come along. Eventless tables are never in it."""

    everything: bool
    tables: frozenset[str]
    objects: Mapping[str, frozenset[str]]
    messages: bool


def select(dm: Datamodel, subs: list[Subscription]) -> Selection:
    everything = any(s.cls is None for s in subs)
    by_class: dict[str, set[str | None]] = {}
    for s in subs:
        if s.cls is not None:
            by_class.setdefault(s.cls, set()).add(s.ref)
    tables: set[str] = set()
    objects: dict[str, frozenset[str]] = {}
    for name in dm.classes:
        lower = lower_ascii(name)
        if lower in EVENTLESS:
            continue
        refs = by_class.get(lower, set())
        if everything or None in refs:
            tables.add(name)
        elif refs:
            objects[name] = frozenset(r for r in refs if r is not None)
    return Selection(
        everything=everything,
        tables=frozenset(tables),
        objects=objects,
        messages=everything or "message" in by_class,
    )


@dataclass(frozen=True)
class Batch:
    events: list[dict[str, Value]]
    #: the token's halves
    generation: int
    message_generation: int


def collect(
    db: Database,
    sel: Selection,
    since: int,
    msg_since: int,
    *,
    scan_from: int | None = None,
    msg_scan_from: int | None = None,
) -> Batch:
    """The batch after the token ``(since, msg_since)``, as xapi's ``from_inner`` builds it.

    ``scan_from``/``msg_scan_from`` (never below the token) let a waiting call skip what an
    earlier empty look of its own already read: nothing there matched, so nothing there can.
    """
    scan = since if scan_from is None else max(since, scan_from)
    lowers = _lowers(db.dm)
    last = since
    # events by table; this loop is the cost of a first call on a 10,000-VM pool, so the dicts
    # are written inline, and nothing else is allocated per row (100,000 more tuples cost more
    # in garbage collection than the rest of the call)
    adds: dict[str, list[dict[str, Value]]] = {}
    mods: dict[str, list[dict[str, Value]]] = {}
    for row in _touched(db, sel, scan):
        mtime = row.mtime
        if mtime > last:
            last = mtime
        added = row.ctime > since
        kind = adds if added else mods
        group = kind.get(row.cls)
        if group is None:
            group = kind[row.cls] = []
        event: dict[str, Value] = {
            "id": str(row.ctime if added else mtime),
            "timestamp": "0.0",
            "class": lowers[row.cls],
            "operation": "add" if added else "mod",
            "ref": row.ref,
            "snapshot": row.record,
        }
        group.append(event)
    dels: dict[str, list[dict[str, Value]]] = {}
    for tomb in db.deleted(scan, [*sel.tables, *sel.objects]):
        if tomb.ctime > since:
            continue  # created and destroyed since the token: nothing to say
        if tomb.cls not in sel.tables and tomb.ref not in sel.objects[tomb.cls]:
            continue
        last = max(last, tomb.dtime)
        dels.setdefault(tomb.cls, []).append(
            _event(tomb.dtime, lowers[tomb.cls], "del", tomb.ref, None)
        )
    events = _messages(db, msg_since, msg_scan_from) if sel.messages else []
    msg_last = max(msg_since, db.message_generation) if events else msg_since
    # additions, modifications, deletions; each by table in datamodel order, then by ref
    # (xapi's tables are string maps) or, for deletions, newest first
    for groups, key, newest_first in (
        (adds, _REF, False),
        (mods, _REF, False),
        (dels, _generation, True),
    ):
        for cls in db.dm.classes:
            group = groups.get(cls)
            if group:
                group.sort(key=key, reverse=newest_first)
                events.extend(group)
    return Batch(events, last, msg_last if sel.messages else 0)


_REF = itemgetter("ref")


def _generation(event: dict[str, Value]) -> int:
    return int(str(event["id"]))


@cache
def _lowers(dm: Datamodel) -> dict[str, str]:
    """The lowercase name events carry, by table."""
    return {name: lower_ascii(name) for name in dm.classes}


def _touched(db: Database, sel: Selection, since: int) -> Iterator[Row]:
    """The selected live rows written after ``since``. Walking the database's recent writes costs
    what changed since; reading a selection's own rows, as xapi does, costs their number: the
    cheaper wins (a task-only watcher with an old token on a busy pool reads only tasks)."""
    if sel.everything or 8 * _size(db, sel) >= sum(len(t) for t in db.tables.values()):
        for row in db.recent(since):
            if row.cls in sel.tables or row.ref in sel.objects.get(row.cls, ()):
                yield row
        return
    for cls in sel.tables:
        yield from (row for row in db.tables[cls].values() if row.mtime > since)
    for cls, refs in sel.objects.items():
        rows = db.tables[cls]
        yield from (rows[r] for r in refs if r in rows and rows[r].mtime > since)


def _size(db: Database, sel: Selection) -> int:
    return sum(len(db.tables[c]) for c in sel.tables) + sum(map(len, sel.objects.values()))


def _messages(db: Database, msg_since: int, msg_scan_from: int | None) -> list[dict[str, Value]]:
    """``Message.get_since_for_events``: deletions, then additions, each oldest first. From
    generation 0 (or below) that is every message there is, with the deletions xapi remembers;
    later, the changes since, a message created and destroyed meanwhile being just a ``del``."""
    scan = msg_since if msg_scan_from is None else max(msg_since, msg_scan_from)
    if scan <= 0:
        gone = [m.ref for m in db.message_log if m.record is None and m.gen > msg_since]
        deleted, added = gone[-MESSAGE_DELETIONS:], list(db.messages)
    else:
        changes = db.messages_since(scan)
        deleted = [m.ref for m in changes if m.record is None]
        added = [m.ref for m in changes if m.record is not None and m.ref in db.messages]
    return [_message_event("del", ref, None) for ref in deleted] + [
        _message_event("add", ref, db.messages[ref]) for ref in added
    ]


def _event(gen: int, lower: str, op: str, ref: str, snapshot: Record | None) -> dict[str, Value]:
    ev: dict[str, Value] = {
        "id": str(gen),
        "timestamp": "0.0",
        "class": lower,
        "operation": op,
        "ref": ref,
    }
    if snapshot is not None:
        ev["snapshot"] = snapshot
    return ev


def _message_event(op: str, ref: str, snapshot: Record | None) -> dict[str, Value]:
    """Messages are not rows: their events carry id 0."""
    return _event(0, "message", op, ref, snapshot)


@api("event.from")
async def event_from(ctx: CallContext, classes: list[str], token: str, timeout: float) -> Value:
    pool, db = ctx.pool, ctx.db
    deadline = time.monotonic() + timeout_seconds(timeout)
    subs = parse_subscriptions(classes)
    between = pool.config.event_batching_delay
    # xapi_globs event_from_task_delay / event_from_delay; List.for_all: [] is task-only
    before = 0.0 if all(s.is_task_only for s in subs) else between
    since, msg_since = parse_token(token)
    sel = select(db.dm, subs)
    pauses = batching_pauses(between)
    await asyncio.sleep(before)
    scan, msg_scan = since, msg_since
    while True:
        if ctx.session is not None:
            pool.check_session(ctx.session.ref)
        generation, msg_generation = db.generation, db.message_generation
        batch = collect(db, sel, since, msg_since, scan_from=scan, msg_scan_from=msg_scan)
        remaining = deadline - time.monotonic()
        if batch.events or remaining <= 0:
            break
        scan, msg_scan = max(scan, generation), max(msg_scan, msg_generation)
        await db.wait_beyond(generation, msg_generation, remaining)
        await asyncio.sleep(next(pauses))
    return {
        "events": batch.events,  # type: ignore[dict-item]
        "valid_ref_counts": {k: Int32(v) for k, v in db.counts().items()},
        "token": format_token(batch.generation, batch.message_generation),
    }


@api("event.inject")
async def inject(ctx: CallContext, cls: str, ref: str) -> Value:
    """Touch the row, returning the token just before the touch. ``cls`` must be the ref's
    table exactly as the database spells it (``VM``, not ``vm``): xapi compares the names."""
    db = ctx.db
    if db.class_of.get(ref) != cls:
        raise XapiError("HANDLE_INVALID", [cls, ref])
    before = db.generation
    db.touch(cls, ref)
    return format_token(before, 0)


# ---- the legacy API --------------------------------------------------------------------------
#
# A session's subscription record (``Next.get_subscription``) comes into being with its first
# register *or unregister*, at the queue's current position, and stays until the session goes:
# unregistering every class leaves an empty record, on which event.next waits instead of failing.

_records: weakref.WeakKeyDictionary[SimPool, set[str]] = weakref.WeakKeyDictionary()


def _subscription_record(pool: SimPool, state: SessionState) -> None:
    # a session that went leaves its ref here, unused: refs are never reused, and one string per
    # session that ever registered is not worth tracking logouts for
    records = _records.setdefault(pool, set())
    if state.ref not in records:
        records.add(state.ref)
        state.next_position = pool.legacy_next_id


def _trackid(session: str) -> str:
    """``Context.trackid_of_session``: what xapi names a session by, instead of its secret ref."""
    return "trackid=" + hashlib.md5(session.encode(), usedforsecurity=False).hexdigest()


def _texts(classes: Iterable[str]) -> set[str]:
    return {s.text for s in parse_subscriptions(classes)}


@api("event.register")
async def register(ctx: CallContext, classes: list[str]) -> Value:
    assert ctx.session is not None
    _subscription_record(ctx.pool, ctx.session)
    ctx.session.registered |= _texts(classes)
    return ""


@api("event.unregister")
async def unregister(ctx: CallContext, classes: list[str]) -> Value:
    """Removes exactly the subscriptions given (``vm`` and ``VM`` are one; ``*`` is not every
    class)."""
    assert ctx.session is not None
    _subscription_record(ctx.pool, ctx.session)
    ctx.session.registered -= _texts(classes)
    return ""


@api("event.get_current_id")
async def get_current_id(ctx: CallContext) -> Value:
    return ctx.pool.legacy_next_id


@api("event.next")
async def next_(ctx: CallContext) -> Value:
    pool, state = ctx.pool, ctx.session
    assert state is not None
    if state.ref not in _records.get(pool, set()):
        raise XapiError("SESSION_NOT_REGISTERED", [_trackid(state.ref)])
    between = pool.config.event_batching_delay
    pauses = batching_pauses(between)
    await asyncio.sleep(NEXT_DELAY_FACTOR * between)
    while True:
        pool.check_session(state.ref)
        queue, start = pool.legacy_events, state.next_position
        if queue:
            state.next_position = queue[-1][0]  # these need not be looked at again, even if lost
            if queue[0][0] > start + 1:
                raise XapiError("EVENTS_LOST", [])
        subs = [parse_subscription(t) for t in state.registered]
        batch = [
            ev
            for i, ev in queue
            if i > start and any(s.matches(str(ev["class"]), str(ev["ref"])) for s in subs)
        ]
        if batch:
            return batch  # type: ignore[return-value]
        await pool.db.wait_beyond(pool.db.generation, pool.db.message_generation, 30.0)
        await asyncio.sleep(next(pauses))
