"""`Gateway`: the api as `xorca.runtime.serve.serve` runs it. Its HTTP server (REST, SSE, the
web UI, and its own ``/healthz``, ``/readyz`` and ``/metrics``) is listening before it is handed
out, so that ``started`` gets a gateway whose `url` answers; it serves until `stop`."""

from __future__ import annotations

import asyncio

from xorca.api.state import ApiState
from xorca.runtime.http import HttpServer

__all__ = ["Gateway"]


class Gateway:
    """A running gateway: its state, its HTTP server, and how to stop it."""

    def __init__(self, state: ApiState, http: HttpServer) -> None:
        self.state = state
        self.http = http
        self._stop = asyncio.Event()

    @property
    def url(self) -> str:
        return self.http.url

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Until `stop`: the requests are served by the HTTP server's own tasks."""
        await self._stop.wait()
