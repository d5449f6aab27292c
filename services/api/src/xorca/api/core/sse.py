"""Server-sent events: the framing (text/event-stream) and the events of `/api/v1/events`.

    event: patch
    data: {"type":"vm","id":"…","rev":105,"patch":{"memory":{"actual":2147483648}}}

    event: put
    id: 105
    data: {"type":"vm","id":"…","rev":105,"data":{…}}

Event ``data`` is one line of JSON (orjson never writes a newline). ``id:`` is a revision R with
the meaning "with this event, you have every change up to R": the last event of each revision
carries it, and `ping` events carry the current revision when there is nothing else to send. A
client that reconnects with ``Last-Event-ID: R`` gets exactly what came after R.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

__all__ = ["EventName", "frame", "json_frame", "retry_frame"]

EventName = Literal["put", "patch", "del", "reset", "ping"]


def frame(event: EventName, data: bytes, id: int | None = None) -> bytes:
    """One event, as it goes on the wire."""
    head = b"event: " + event.encode() + b"\n"
    if id is not None:
        head += b"id: " + str(id).encode() + b"\n"
    return head + b"data: " + data + b"\n\n"


def json_frame(event: EventName, data: dict[str, Any], id: int | None = None) -> bytes:
    return frame(event, orjson.dumps(data), id)


def retry_frame(milliseconds: int) -> bytes:
    """How long a browser's EventSource waits before it reconnects."""
    return b"retry: " + str(milliseconds).encode() + b"\n\n"
