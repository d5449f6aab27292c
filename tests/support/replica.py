"""A collector replica run as a task of the test's loop, as ``xorca collector`` runs one, and the
settings that make a test of it take seconds."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from pydantic import SecretStr

from tests.support.nats import NatsServer
from tests.support.registry import KEY
from xorca.collector.bootstrap import run
from xorca.collector.service import Collector
from xorca.collector.settings import CollectorSettings
from xorca.runtime.aio import cancel_and_wait


def settings_for(
    server: NatsServer, collector_id: str = "c1", **overrides: Any
) -> CollectorSettings:
    """Short leases and polls, and quick retries, so that each test takes seconds."""
    values: dict[str, Any] = {
        "nats_url": server.url,
        "secret_key": SecretStr(KEY),
        "collector_id": collector_id,
        "lease_period": 1.5,
        "watch_poll": 1.0,
        "retry_pause": 0.05,
        "ack_timeout": 1.0,
        "command_timeout": 10.0,
        "http_port": -1,
        "log_json": False,
    }
    return CollectorSettings(**(values | overrides))


class Replica:
    """A collector replica run as a task of the test's loop, as ``xorca collector`` runs one."""

    def __init__(self, settings: CollectorSettings) -> None:
        self.settings = settings
        self.task: asyncio.Task[None] | None = None
        self.collector: Collector | None = None

    @property
    def id(self) -> str:
        return self.settings.collector_id

    @property
    def held(self) -> set[str]:
        return set(self.collector.runners()) if self.collector and self.running else set()

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def start(self) -> Replica:
        started: asyncio.Future[Collector] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(run(self.settings, started=started.set_result))
        self.collector = await asyncio.wait_for(started, 10)
        return self

    async def stop(self) -> None:
        """A clean stop: last statuses published, leases released."""
        assert self.collector is not None and self.task is not None
        self.collector.stop()
        await asyncio.wait_for(self.task, 15)

    async def kill(self) -> None:
        """A crash: the task is cancelled, nothing is released or said."""
        assert self.task is not None
        assert await cancel_and_wait(self.task, 10)

    async def __aenter__(self) -> Replica:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.running:
            await self.stop()
