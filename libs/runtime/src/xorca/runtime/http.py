"""``/healthz``, ``/readyz`` and ``/metrics`` over HTTP (Starlette on uvicorn).

- ``/healthz``: 200 while the process answers (its event loop is not stuck): restart it if not.
- ``/readyz``: 200 when the replica can do its work (NATS connected, registry read), 503 with
  the reasons otherwise; the body lists the pools it serves and their states.
- ``/metrics``: Prometheus' text format (each service's ``adapters/metrics.py``).

uvicorn is run as a task of the service's own loop, with its signal handling turned off: the
process' owner (``__main__``, the CLI, the demo) decides what Ctrl-C does.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xorca.runtime.aio import cancel_and_wait

__all__ = ["HttpServer", "make_app"]

Readiness = Callable[[], tuple[bool, dict[str, Any]]]


def make_app(readiness: Readiness, metrics: Callable[[], bytes]) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ready, body = readiness()
        return JSONResponse({"ready": ready, **body}, status_code=200 if ready else 503)

    async def metrics_(request: Request) -> Response:
        return Response(metrics(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_),
        ]
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process' owner handles signals


class HttpServer:
    """The app on ``host:port`` (0: a free port, known as `port` once started)."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        sock = socket.create_server((self.host, self.port), reuse_port=False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        # uvicorn sets a flag, not an event, once it serves
        while not self._server.started and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises what stopped it

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.wait({self._task}, timeout=5)
        await cancel_and_wait(self._task)
        self._server = self._task = None

    async def __aenter__(self) -> HttpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
