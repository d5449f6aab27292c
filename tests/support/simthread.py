"""A simulator running in a thread of its own, for tests whose clients block (the xenapi SDK), and
for every test that runs a simulated pool beside the code it tests.

The simulator keeps its own event loop; tests reach its state through `run` (a coroutine on that
loop), `on_sim` from async code, or read it directly for assertions. `FAST` are the timings the
tests run the simulator with; `simulated` starts one with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

from xorca.xapi_sim.http.control import ControlEndpoint
from xorca.xapi_sim.run import simulator_running
from xorca.xapi_sim.simulator import RunningPool, SimOptions, Simulator
from xorca.xapi_sim.state.pool import SimConfig, SimPool

T = TypeVar("T")

#: failed logins, operations and event batching in fractions of a second, so that tests take
#: seconds
FAST = SimConfig(failed_login_delay=0.2, operation_seconds=0.2, event_batching_delay=0.01)


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


@contextlib.contextmanager
def simulated(pools: int = 1, vms: int = 8, seed: int = 21) -> Iterator[SimThread]:
    """A simulator of its own: ``pools`` pools of two hosts and ``vms`` VMs each, `FAST`."""
    with SimThread(SimOptions(pools=pools, hosts_per_pool=2, vms_per_pool=vms, seed=seed,
                              config=FAST)) as sim:  # fmt: skip
        yield sim


def uuid_of(sim: SimThread, index: int = 1) -> str:
    """The uuid of pool ``index``."""
    return sim.pool(index).pool.uuid


async def on_sim(sim: SimThread, fn: Callable[[SimPool], T | Awaitable[T]], index: int = 1) -> T:
    """``fn(pool)`` (a function or a coroutine function) on the simulator's loop, whose state is
    not thread-safe; its result."""

    async def call() -> T:
        result = fn(sim.pool(index).pool)
        if inspect.isawaitable(result):
            return await result  # type: ignore[no-any-return]
        return result

    return await asyncio.to_thread(sim.run, call)
