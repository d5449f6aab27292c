"""`xorca.runtime.serve` without sockets: the order `serve` does things in, and what SIGINT and
SIGTERM do to a service that started, and to one still starting (a signal raised in this
process: the handlers are the loop's, removed afterwards)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from xorca.runtime.serve import run_until_signalled, serve
from xorca.runtime.settings import ServiceSettings


class FakeService:
    def __init__(self, events: list[str]) -> None:
        self.events = events
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self.events.append("run")
        await self._stop.wait()
        self.events.append("drained")

    def stop(self) -> None:
        self.events.append("stop")
        self._stop.set()


async def test_serve_hands_the_service_out_then_runs_it_until_stopped() -> None:
    events: list[str] = []
    service = FakeService(events)

    def started(s: FakeService) -> None:
        assert s is service
        events.append("started")
        asyncio.get_running_loop().call_later(0.05, s.stop)

    await asyncio.wait_for(serve(service, name="fake", started=started), 5)
    assert events == ["started", "run", "stop", "drained"]


async def test_a_signal_stops_a_started_service_cleanly() -> None:
    events: list[str] = []

    async def run(
        settings: ServiceSettings, *, started: Callable[[FakeService], None] | None = None
    ) -> None:
        service = FakeService(events)
        assert started is not None
        started(service)
        asyncio.get_running_loop().call_soon(signal.raise_signal, signal.SIGTERM)
        await service.run()

    await asyncio.wait_for(run_until_signalled(run, ServiceSettings()), 5)
    assert events == ["run", "stop", "drained"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is gone


async def test_a_signal_while_starting_cancels_the_start() -> None:
    reached: list[str] = []

    async def run(
        settings: ServiceSettings, *, started: Callable[[FakeService], None] | None = None
    ) -> None:
        asyncio.get_running_loop().call_soon(signal.raise_signal, signal.SIGINT)
        try:
            await asyncio.sleep(30)  # waiting for NATS, say
        except asyncio.CancelledError:
            reached.append("cancelled")
            raise

    await asyncio.wait_for(run_until_signalled(run, ServiceSettings()), 5)
    assert reached == ["cancelled"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
