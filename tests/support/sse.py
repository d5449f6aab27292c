"""A small SSE client for the tests: reads ``text/event-stream`` from an httpx stream, exactly as
the HTML standard parses it (event, id, data, retry; comments and unknown fields ignored)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson


@dataclass(frozen=True)
class Event:
    event: str
    data: Any
    id: str | None  # the last event id *set by this event* (None: this event set none)
    size: int  # bytes of the event on the wire


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    name, data, event_id, size = "message", [], None, 0
    async for line in response.aiter_lines():
        size += len(line.encode()) + 1
        if line == "":
            if data:
                yield Event(name, orjson.loads("\n".join(data)), event_id, size)
            name, data, event_id, size = "message", [], None, 0
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
