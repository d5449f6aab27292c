"""A simulator running in a thread of its own, for tests whose clients block (the xenapi SDK).

The simulator keeps its own event loop; tests reach its state through `run` (a coroutine on that
loop) or read it directly for assertions.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from xorca.xapi_sim.http.control import ControlEndpoint
from xorca.xapi_sim.run import simulator_running
from xorca.xapi_sim.simulator import RunningPool, SimOptions, Simulator

T = TypeVar("T")


class SimThread:
    def __init__(self, options: SimOptions) -> None:
        self.options = options
        self.loop = asyncio.new_event_loop()
        self.sim: Simulator | None = None
        self.control: ControlEndpoint | None = None
        self._ready: Future[None] = Future()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="xapi-sim", daemon=True)

    def __enter__(self) -> SimThread:
        self._thread.start()
        self._ready.result(timeout=120)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as e:
            if not self._ready.done():
                self._ready.set_exception(e)
        finally:
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with simulator_running(self.options) as (sim, control):
            self.sim, self.control = sim, control
            self._ready.set_result(None)
            await self._stop.wait()

    def run(self, fn: Callable[[], Awaitable[T]], timeout: float = 60) -> T:
        """Run a coroutine on the simulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(_call(fn), self.loop).result(timeout)

    def call_soon(self, fn: Callable[[], Any]) -> None:
        self.loop.call_soon_threadsafe(fn)

    @property
    def pools(self) -> list[RunningPool]:
        assert self.sim is not None
        return self.sim.pools

    def pool(self, index: int = 1) -> RunningPool:
        return self.pools[index - 1]


async def _call(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()
