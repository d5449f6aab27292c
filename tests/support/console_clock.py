"""The fake clock the console tests drive a `ConsoleScreen` with, so that what a client receives
can be compared with what the screen draws at a known time."""

from __future__ import annotations

from dataclasses import dataclass

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


@dataclass
class Clock:
    """Stands at ``now`` (from `T0`) until a test moves it."""

    now: float = T0

    def __call__(self) -> float:
        return self.now
