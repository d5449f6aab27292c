"""``event.*``: ``event.from`` exactly as XAPI.md §2 describes, ``event.inject``, and the legacy
``register``/``next``/``unregister`` API with ``EVENTS_LOST``.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass

from xorca.xapi.datamodel import EVENTLESS
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Int32, Value
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state.db import Database, Record

_TOKEN = re.compile(r"^(\d{20}),(\d{20})$")
DAY = 24 * 3600.0


def parse_token(token: str) -> tuple[int, int]:
    if token == "":
        return 0, 0
    m = _TOKEN.match(token)
    if not m:
        raise XapiError("EVENT_FROM_TOKEN_PARSE_FAILURE", [token])
    return int(m.group(1)), int(m.group(2))


def format_token(generation: int, message_generation: int) -> str:
    return f"{generation:020d},{message_generation:020d}"


@dataclass(frozen=True)
class Subscription:
    """``*``, a class (any case), or ``class/ref``."""

    all: bool
    cls: str | None = None  # lowercase
    ref: str | None = None

    def matches(self, lower_cls: str, ref: str) -> bool:
        if self.all:
            return lower_cls not in EVENTLESS
        return self.cls == lower_cls and (self.ref is None or self.ref == ref)


def parse_subscriptions(db: Database, classes: list[str]) -> list[Subscription]:
    subs: list[Subscription] = []
    for text in classes:
        if text == "*":
            subs.append(Subscription(all=True))
            continue
        name, _, ref = text.partition("/")
        cdef = db.dm.lookup(name)
        if cdef is None or (ref == "" and "/" in text):
            raise XapiError("EVENT_SUBSCRIPTION_PARSE_FAILURE", [text])
        subs.append(Subscription(all=False, cls=cdef.lower, ref=ref or None))
    return subs


def _matches(subs: list[Subscription], lower_cls: str, ref: str) -> bool:
    return any(s.matches(lower_cls, ref) for s in subs)


def collect(
    db: Database, subs: list[Subscription], since: int, msg_since: int
) -> list[dict[str, Value]]:
    """The coalesced batch after the token: each object at most once (XAPI.md §2)."""
    events: list[dict[str, Value]] = []
    for row in db.recent(since):
        lower = row.cls.lower()
        if not _matches(subs, lower, row.ref):
            continue
        added = row.ctime > since
        events.append(
            _event(
                row.ctime if added else row.mtime,
                lower,
                "add" if added else "mod",
                row.ref,
                row.record,
            )
        )
    tables = [c for c in db.dm.classes if any(s.all or s.cls == c.lower() for s in subs)]
    for tomb in db.deleted(since, tables):
        lower = tomb.cls.lower()
        if tomb.ctime > since or not _matches(subs, lower, tomb.ref):
            continue  # created and destroyed since the token: nothing to say
        events.append(_event(tomb.dtime, lower, "del", tomb.ref, None))
    events.sort(key=lambda e: int(str(e["id"])))  # in the order the changes happened
    if any(s.matches("message", "") or (s.cls == "message") for s in subs):
        if msg_since == 0:  # a first call: every message that exists, however old
            for ref, record in db.messages.items():
                events.append(_event(0, "message", "add", ref, record))
        else:
            for m in db.messages_since(msg_since):
                op = "add" if m.record is not None else "del"
                events.append(_event(0, "message", op, m.ref, m.record))
    return events


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


@api("event.from")
async def event_from(ctx: CallContext, classes: list[str], token: str, timeout: float) -> Value:
    pool, db = ctx.pool, ctx.db
    since, msg_since = parse_token(token)
    subs = parse_subscriptions(db, classes)
    if not math.isfinite(timeout) or timeout < 0:
        timeout = DAY
    deadline = time.monotonic() + timeout
    delay = pool.config.event_batching_delay
    task_only = bool(subs) and all(s.cls == "task" for s in subs)
    if not task_only:
        await asyncio.sleep(delay)
    session = ctx.session
    while True:
        if session is not None:
            pool.check_session(session.ref)
        generation, msg_generation = db.generation, db.message_generation
        events = collect(db, subs, since, msg_since)
        remaining = deadline - time.monotonic()
        if events or remaining <= 0:
            break
        # nothing relevant up to here: the token may move on (xapi does the same)
        since, msg_since = generation, msg_generation
        await db.wait_beyond(generation, msg_generation, remaining)
        await asyncio.sleep(delay)
    return {
        "events": events,  # type: ignore[dict-item]
        "valid_ref_counts": {k: Int32(v) for k, v in db.counts().items()},
        "token": format_token(generation, msg_generation),
    }


@api("event.inject")
async def inject(ctx: CallContext, cls: str, ref: str) -> Value:
    db = ctx.db
    cdef = db.dm.lookup(cls)
    if cdef is None or db.class_of.get(ref) != cdef.name:
        raise XapiError("HANDLE_INVALID", [cls, ref])
    generation = db.generation + 1
    db.touch(cdef.name, ref)
    return format_token(generation - 1, 0)


# ---- the legacy API --------------------------------------------------------------------------


@api("event.register")
async def register(ctx: CallContext, classes: list[str]) -> Value:
    assert ctx.session is not None
    parse_subscriptions(ctx.db, classes)
    if not ctx.session.registered:
        ctx.session.next_position = ctx.pool.legacy_next_id
    ctx.session.registered |= {c.lower() for c in classes}
    return ""


@api("event.unregister")
async def unregister(ctx: CallContext, classes: list[str]) -> Value:
    assert ctx.session is not None
    ctx.session.registered -= {c.lower() for c in classes}
    return ""


@api("event.get_current_id")
async def get_current_id(ctx: CallContext) -> Value:
    return ctx.pool.legacy_next_id


@api("event.next")
async def next_(ctx: CallContext) -> Value:
    pool, state = ctx.pool, ctx.session
    assert state is not None
    if not state.registered:
        raise XapiError("SESSION_NOT_REGISTERED", [state.ref])
    subs = parse_subscriptions(pool.db, sorted(state.registered))
    while True:
        pool.check_session(state.ref)
        queue = pool.legacy_events
        if queue and queue[0][0] > state.next_position + 1:
            raise XapiError("EVENTS_LOST", [])
        batch = [
            ev
            for i, ev in queue
            if i > state.next_position and _matches(subs, str(ev["class"]), str(ev["ref"]))
        ]
        if queue:
            state.next_position = queue[-1][0]
        if batch:
            return batch  # type: ignore[return-value]
        await pool.db.wait_beyond(pool.db.generation, pool.db.message_generation, 30.0)
