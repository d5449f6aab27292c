"""Asyncio helpers that stay correct when a cancellation is lost, and a pause of the garbage
collector for the phases that create hundreds of thousands of lasting objects.

On Python 3.11, ``asyncio.wait_for`` loses a cancellation that arrives just as the awaited future
completes (fixed in 3.12), and libraries the collector uses (nats-py) call it everywhere. A task
told once to stop may then carry on, as if nothing happened, until its next long wait. So the
collector never relies on one ``cancel()``: `cancel_and_wait` insists until the task is done, and
its own waits use ``asyncio.timeout``, which does not lose cancellations.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator
from typing import Any

__all__ = ["cancel_and_wait", "gc_paused", "wait_event"]

_gc_pauses = 0
_gc_was_enabled = True


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (reference counting still frees nearly everything).

    Reading a large pool's log back and comparing its first load create ~100,000 objects each
    that live on, beside a mirror of millions: every collection they trigger scans all of it
    (bench/bench_collector.py: ~15 % of a 10,000-VM start). Pauses nest, across pools; the
    collector is enabled again when the last one ends, if it was enabled when the first began.
    """
    global _gc_pauses, _gc_was_enabled
    if _gc_pauses == 0:
        _gc_was_enabled = gc.isenabled()
        gc.disable()
    _gc_pauses += 1
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0 and _gc_was_enabled:
            gc.enable()


async def cancel_and_wait(task: asyncio.Future[Any], timeout: float = 5.0) -> bool:
    """Cancel ``task`` (again and again, if a cancellation gets lost) until it is done; False if
    it is still running after ``timeout`` seconds. Its exception, if any, is left on it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not task.done():
        task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            return False
        await asyncio.wait({task}, timeout=min(0.1, left))
    return True


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` have passed; whether it is set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()
