"""Waiting for something to become true: the one polling helper of the tests.

``await eventually(probe, what="…")`` calls ``probe`` (a plain function or a coroutine function)
every ``interval`` seconds until it returns a truthy value, and returns that value. A falsy value,
or an `AssertionError` raised by the probe (to say *why* not yet), means "not yet"; any other
exception ends the wait at once. After ``timeout`` seconds it fails with an `AssertionError`
naming what it waited for and the last value (or assertion message) seen. `eventually_sync` is
the same for blocking code (the threaded SDK tests, process start-up).

Waits that are part of what a test asserts ("nothing happens for a second") stay plain sleeps.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

#: between two calls of the probe, unless told otherwise
INTERVAL = 0.02


class _Deadline:
    """What `eventually` and `eventually_sync` keep between two looks: the time left, and the
    last thing seen."""

    def __init__(self, what: str, timeout: float) -> None:
        self.what, self.timeout = what, timeout
        self.end = time.monotonic() + timeout
        self.last = "nothing"

    def holds(self, value: object) -> bool:
        self.last = repr(value)
        return bool(value)

    def not_yet(self, error: AssertionError) -> None:
        self.last = str(error) or repr(error)

    def check(self) -> None:
        if time.monotonic() >= self.end:
            raise AssertionError(f"waited {self.timeout} s for {self.what}; last seen: {self.last}")


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    *,
    what: str,
    timeout: float = 10.0,
    interval: float = INTERVAL,
) -> T:
    """The first truthy value ``probe`` returns within ``timeout`` seconds."""
    deadline = _Deadline(what, timeout)
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
            if deadline.holds(value):
                return value  # type: ignore[return-value]
        except AssertionError as e:
            deadline.not_yet(e)
        deadline.check()
        await asyncio.sleep(interval)


def eventually_sync(
    probe: Callable[[], T],
    *,
    what: str,
    timeout: float = 10.0,
    interval: float = INTERVAL,
) -> T:
    """`eventually` for blocking code: the first truthy value ``probe`` returns."""
    deadline = _Deadline(what, timeout)
    while True:
        try:
            value = probe()
            if deadline.holds(value):
                return value
        except AssertionError as e:
            deadline.not_yet(e)
        deadline.check()
        time.sleep(interval)
