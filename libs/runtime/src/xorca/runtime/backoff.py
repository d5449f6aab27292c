"""The one backoff of xorca's services: a pause after each failure, doubling from ``first`` up to
``longest``, each shortened at random by up to a fifth.

The jitter is there because failures come together: a NATS restart fails every pool's publisher
and every service's watch at once, and without it they all retry in the same instants. It only
ever shortens a pause, so ``first`` and ``longest`` stay what they are documented as (the
settings' tables say "``XORCA_RETRY_PAUSE``, doubling up to 30 s"), and a test that sets short
pauses gets short pauses.

`Backoff` is a value: it computes pauses and sleeps through nothing, so each loop keeps its own
way of waiting (one that a ``stop()`` interrupts, one that also waits for the connection…).
`retry` is the plain loop, for the calls that only need trying again until they work.

The XAPI client's failover rounds and the pool watcher have policies of their own, in
``xorca.xapi`` (a library that does not depend on this one): see docs/xapi-client.md.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Backoff", "retry"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: past this many doublings every pause is `Backoff.longest` (and 2.0**n cannot overflow)
_MOST_DOUBLINGS = 64


@dataclass(frozen=True, slots=True)
class Backoff:
    """Pauses between attempts: ``first`` after one failure, doubling with each further one up to
    ``longest``; each one shortened at random by up to ``jitter`` of itself (0: exact)."""

    first: float
    longest: float
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.longest:
            raise ValueError(f"pauses must be 0 < first <= longest, not {self}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter is a fraction in [0, 1), not {self.jitter}")

    def nominal(self, failures: int) -> float:
        """The pause after ``failures`` consecutive failures (≥ 1), before jitter."""
        doublings = min(max(failures, 1) - 1, _MOST_DOUBLINGS)
        return min(self.first * 2.0**doublings, self.longest)

    def delay(self, failures: int) -> float:
        """The pause to make after ``failures`` consecutive failures (≥ 1)."""
        return self.nominal(failures) * (1.0 - self.jitter * random.random())

    def pauses(self) -> Iterator[float]:
        """``delay(1)``, ``delay(2)``…, for ever: one per failure, for a loop that counts none."""
        return map(self.delay, itertools.count(1))


async def retry(
    call: Callable[[], Awaitable[T]],
    backoff: Backoff,
    *,
    on: tuple[type[BaseException], ...],
    failing: str,
    attempts: int | None = None,
) -> T:
    """``await call()`` until it returns, pausing (``backoff``) after each failure that is one of
    ``on``, each logged as a warning: ``failing`` (what is wrong: "cannot reach NATS"), the error,
    "retrying". After ``attempts`` failures (None: never) the last one is raised."""
    pauses = backoff.pauses()
    for failures in itertools.count(1):
        try:
            return await call()
        except on as e:
            if attempts is not None and failures >= attempts:
                raise
            log.warning("%s (%r): retrying", failing, e)
            await asyncio.sleep(next(pauses))
    raise AssertionError("unreachable")
