"""Running a service inside another program's event loop: the demo, the tests, the benchmarks.

Every service's bootstrap has ``run(settings, *, started)`` (a `Bootstrap`): it hands the
running service to ``started`` and returns when the service's ``stop()`` has taken effect.
`service_running` turns that into an ``async with`` block. No signal is handled here: the
program that runs the services decides what Ctrl-C does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from xorca.runtime.aio import cancel_and_wait
from xorca.runtime.serve import Bootstrap, Service
from xorca.runtime.settings import ServiceSettings

__all__ = ["service_running"]

S = TypeVar("S", bound=Service)
T = TypeVar("T", bound=ServiceSettings)


@contextlib.asynccontextmanager
async def service_running(
    run: Bootstrap[T, S], settings: T, *, stop_timeout: float = 30.0
) -> AsyncIterator[S]:
    """The service ``run(settings, started=…)`` starts, stopped cleanly on exit; yields what
    ``started`` was handed (the Collector, the Projection…). A service that fails to start
    raises here, with its own exception."""
    started: asyncio.Future[S] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(run(settings, started=started.set_result))
    either: set[asyncio.Future[Any]] = {started, task}
    done, _ = await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if task in done and not started.done():
        task.result()  # it failed to start: say why
        raise RuntimeError(f"{getattr(run, '__module__', run)} returned before it started")
    service = started.result()
    try:
        yield service
    finally:
        service.stop()
        await asyncio.wait({task}, timeout=stop_timeout)
        await cancel_and_wait(task)
