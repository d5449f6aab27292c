"""Run the simulator until interrupted: ``xorca sim`` and the simulator part of ``xorca demo``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

from xorca.xapi_sim.http.control import ControlEndpoint
from xorca.xapi_sim.simulator import SimOptions, Simulator


@contextlib.asynccontextmanager
async def simulator_running(
    options: SimOptions, control_port: int = 0
) -> AsyncIterator[tuple[Simulator, ControlEndpoint]]:
    """Pools built, bound and alive, with the control endpoint; all stopped on exit."""
    sim = Simulator(options)
    await asyncio.to_thread(sim.build)
    control = ControlEndpoint(sim)
    try:
        await sim.start()
        await control.start(port=control_port)
        yield sim, control
    finally:
        await control.stop()
        await sim.stop()


async def wait_for_signal() -> None:
    """Return on SIGINT or SIGTERM (Ctrl-C stops everything cleanly)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def serve(
    options: SimOptions, control_port: int, announce: Callable[[Simulator, ControlEndpoint], Any]
) -> None:
    async with simulator_running(options, control_port) as (sim, control):
        announce(sim, control)
        await wait_for_signal()
