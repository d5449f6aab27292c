"""``GET /api/v1/events``: server-sent events of every change after a revision.

1. The client's queue is registered with the hub *before* the store is read, so nothing that
   happens meanwhile is missed.
2. The store is read at revision S: a ``since`` older than the tombstone horizon (or newer than
   S: another store, a rebuild) gets one ``reset`` event and the stream ends (reload, then
   follow again); otherwise every row changed after ``since`` goes out, in revision order.
3. Then the live changes, dropping those the store read already covered (``commit <= S``).

No gap (the queue was there before the read) and no duplicate (the commit rule) at the seam.
Filters, types, fields and rights apply to both parts alike (`View`). Keep-alive ``ping`` events
carry the revision the client is complete up to. A client that falls behind is cut off: when its
queue fills (``XORCA_SSE_QUEUE`` changes), or when one write waits on it longer than
``XORCA_SSE_WRITE_TIMEOUT`` seconds (its socket's buffers are full). It reconnects with
``Last-Event-ID`` and catches up from the store; the gateway never holds more for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from starlette.responses import StreamingResponse
from starlette.types import Send

from xorca.api.adapters.hub import Change, Subscriber
from xorca.api.core.errors import ApiProblem
from xorca.api.core.sse import json_frame, retry_frame
from xorca.api.core.view import View, parse_types
from xorca.api.routes.objects import FieldsParam, FilterParam, fields_of, filter_of
from xorca.api.state import ApiDep, ApiState, CallerDep
from xorca.store import ObjectRow

__all__ = ["router"]

router = APIRouter(tags=["events"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class EventStream(StreamingResponse):
    """A stream whose writes give up on a client that stopped reading (its socket's buffers
    full for ``write_timeout`` seconds): the stream ends, nothing more is held for it."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        write_timeout: float,
        on_cut: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self.write_timeout = write_timeout
        self.on_cut = on_cut

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        iterator = self.body_iterator
        try:
            async for chunk in iterator:
                with anyio.move_on_after(self.write_timeout) as waited:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if waited.cancelled_caught:
                    self.on_cut()
                    return  # the server closes the connection: the response is incomplete
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@router.get(
    "/events",
    summary="Changes after a revision (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the event stream"}},
)
async def events(
    request: Request,
    api: ApiDep,
    caller: CallerDep,
    since: Annotated[
        int | None, Query(ge=0, description="a revision: send what changed after it")
    ] = None,
    types: Annotated[
        str | None, Query(description="comma-separated types or collections (default: all)")
    ] = None,
    filter: FilterParam = None,
    fields: FieldsParam = None,
    last_event_id: Annotated[
        str | None, Header(description="the id of the last event received (resumes after it)")
    ] = None,
) -> EventStream:
    if last_event_id is not None:
        if not last_event_id.strip().isdigit():
            raise ApiProblem(400, f"Last-Event-ID {last_event_id!r} is not a revision")
        since = int(last_event_id)
    try:
        wanted = parse_types(types)
    except ValueError as e:
        raise ApiProblem(400, f"types: {e}") from e
    view = View(caller, wanted, filter_of(filter), fields_of(fields))
    subscriber = api.hub.subscribe(api.settings.sse_queue)
    try:
        async with api.store.reader() as reader:
            revision, horizon = reader.revision, reader.horizon
            stale = since is not None and (since < horizon or since > revision)
            rows = [] if since is None or stale else await reader.changes(since, types=wanted)
    except BaseException:
        api.hub.unsubscribe(subscriber)
        raise
    return EventStream(
        _stream(request, api, view, subscriber, rows, revision, since, horizon, stale),
        api.settings.sse_write_timeout,
        api.metrics.sse_cut.inc,
    )


async def _stream(
    request: Request,
    api: ApiState,
    view: View,
    subscriber: Subscriber,
    rows: list[ObjectRow],
    revision: int,
    since: int | None,
    horizon: int,
    stale: bool,
) -> AsyncIterator[bytes]:
    metrics = api.metrics
    metrics.sse_clients.inc()
    try:
        yield retry_frame(2000)
        if stale:
            metrics.sse_events.labels("reset").inc()
            yield json_frame(
                "reset", {"revision": revision, "horizon": horizon, "since": since}, revision
            )
            return
        frames = _catch_up(view, rows)
        for start in range(0, len(frames), _BATCH):
            yield b"".join(frames[start : start + _BATCH])
            await asyncio.sleep(0)
        metrics.sse_events.labels("put").inc(len(frames))
        metrics.sse_events.labels("ping").inc()
        yield json_frame("ping", {"revision": revision}, revision)
        async for chunk, count in _live(request, api, view, subscriber, revision):
            if count:
                metrics.sse_events.labels("change").inc(count)
            else:
                metrics.sse_events.labels("ping").inc()
            yield chunk
            # a client that reads fast never pauses the transport: without this, one stream
            # would empty its whole backlog in one turn of the loop and starve everything else
            await asyncio.sleep(0)
    finally:
        if subscriber.overflowed.is_set():
            metrics.sse_cut.inc()
        api.hub.unsubscribe(subscriber)
        metrics.sse_clients.dec()


#: events written at once (one send) when more are waiting
_BATCH = 256


def _catch_up(view: View, rows: list[ObjectRow]) -> list[bytes]:
    """The stored changes as events; the last event of each revision carries its id."""
    out: list[bytes] = []
    for i, row in enumerate(rows):
        if not view.wants_type(row.type):
            continue
        last_of_rev = i == len(rows) - 1 or rows[i + 1].rev != row.rev
        head = {"type": row.type, "id": row.id, "rev": row.rev}
        event_id = row.rev if last_of_rev else None
        if row.deleted or row.data is None:
            out.append(json_frame("del", head, event_id))
        elif view.visible(row.data):
            out.append(json_frame("put", {**head, "data": view.item(row.data, row.rev)}, event_id))
        else:
            # changed after `since` and not (or no longer) for this client: it may have it
            out.append(json_frame("del", head, event_id))
    return out


def _frame_of(view: View, change: Change) -> bytes | None:
    """The event of ``change`` for this client; for clients that see everything whole, the
    same bytes for all of them, encoded once (kept on the change)."""
    if view.trivial and view.wants_type(change.type):
        cached = change.shared_frame
        if cached is None:
            event = view.event_for(change)
            assert event is not None
            cached = change.shared_frame = json_frame(
                event.event,  # type: ignore[arg-type]
                event.body,
                change.complete,
            )
        return cached
    event = view.event_for(change)
    if event is None:
        return None
    return json_frame(event.event, event.body, change.complete)  # type: ignore[arg-type]


async def _live(
    request: Request, api: ApiState, view: View, subscriber: Subscriber, revision: int
) -> AsyncIterator[tuple[bytes, int]]:
    """The hub's changes after ``revision``, as chunks of events (with how many), or as a ping
    (count 0) when nothing came for ``sse_ping`` seconds."""
    ping = api.settings.sse_ping
    queue = subscriber.queue
    complete = revision
    while not subscriber.overflowed.is_set():
        if queue.empty():
            try:
                async with asyncio.timeout(ping):
                    first = await queue.get()
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield json_frame("ping", {"revision": complete}, complete), 0
                continue
        else:
            first = queue.get_nowait()
        changes = [first]
        while len(changes) < _BATCH and not queue.empty():
            changes.append(queue.get_nowait())
        frames = []
        for change in changes:
            if change.commit <= revision:
                continue  # the store read had it
            if change.complete is not None:
                complete = max(complete, change.complete)
            frame = _frame_of(view, change)
            if frame is not None:
                frames.append(frame)
        if frames:
            yield b"".join(frames), len(frames)
