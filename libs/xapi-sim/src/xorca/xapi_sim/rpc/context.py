"""What a handler knows about the call it serves."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from xorca.xapi_sim.state import tasks
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.state.pool import SessionState, SimPool


@dataclass
class CallContext:
    pool: SimPool
    #: the host whose endpoint received the call
    host: str
    #: the wire name as called, without any ``Async.`` prefix (``VM.start``)
    method: str
    session: SessionState | None = None
    #: the task of an ``Async.*`` call; sync calls that need one get it from `ensure_task`
    task: str | None = None
    is_async: bool = False

    @property
    def db(self) -> Database:
        return self.pool.db

    def ensure_task(self) -> str:
        """The task that tracks this call, created for sync calls too (xapi does the same)."""
        if self.task is None:
            self.task = tasks.create_task(self.pool, self.method, self.host)
        return self.task

    async def work(self, seconds: float | None = None, steps: int = 10) -> None:
        """Spend simulated time on an operation, reporting progress and honouring task.cancel."""
        total = self.pool.config.operation_seconds if seconds is None else seconds
        task = self.task
        if total <= 0:  # instant operations (benchmarks, tests) skip the progress writes
            tasks.check_cancelled(self.pool, task)
            return
        for i in range(1, steps + 1):
            tasks.check_cancelled(self.pool, task)
            await asyncio.sleep(total / steps)
            if task is not None:
                tasks.set_progress(self.pool, task, i / steps * 0.99)
        tasks.check_cancelled(self.pool, task)
