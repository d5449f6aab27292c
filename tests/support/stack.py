"""Everything running, for the api's tests and benchmarks: a simulated pool, a collector, the
projection and the api gateway, each as the CLI runs it (in this process), over real sockets."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from nats.js import JetStreamContext
from pydantic import SecretStr

from tests.support.nats import NatsServer
from tests.support.objects_log import settled, wait_status
from tests.support.registry import KEY, entry_of, register
from tests.support.replica import Replica, settings_for
from tests.support.simthread import SimThread
from tests.support.waiting import eventually
from xorca.api.bootstrap import run as run_api
from xorca.api.service import Gateway
from xorca.api.settings import ApiSettings
from xorca.bus.tokens import Tokens
from xorca.contracts.subjects import OBJECTS_STREAM
from xorca.projection.bootstrap import run as run_projection
from xorca.projection.service import Projection
from xorca.projection.settings import ProjectionSettings
from xorca.runtime.inprocess import service_running


@dataclass
class Stack:
    sim: SimThread
    projection: Projection
    gateway: Gateway
    token: str
    js: JetStreamContext
    pools: int = 1

    @property
    def url(self) -> str:
        return self.gateway.url + "/api/v1"

    def client(self, **options: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}", **options.pop("headers", {})}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30, **options)

    async def settled(self, timeout: float = 30) -> int:
        """Wait until the log says what the pools hold, the projection has applied the whole
        stream and the gateway's live view caught up with the store; that revision."""
        for index in range(1, self.pools + 1):
            await settled(self.js, self.sim, index, timeout)

        async def caught_up() -> int:
            end = (await self.js.stream_info(OBJECTS_STREAM)).state.last_seq
            projection, gateway = self.projection.position, self.gateway.state.hub.position
            assert projection >= end and gateway >= end, (
                f"stream {end}, projection {projection}, gateway {gateway}"
            )
            return end

        return await eventually(
            caught_up, what="the projection and the gateway", timeout=timeout, interval=0.05
        )


@contextlib.asynccontextmanager
async def running_stack(
    nats_server: NatsServer,
    js: JetStreamContext,
    sim: SimThread,
    store_url: str,
    pools: int = 1,
    **api_settings: Any,
) -> AsyncIterator[Stack]:
    """The stack over ``sim``'s pools 1..``pools`` (registered as ``pool-1``…), once every pool
    is synced and the whole stream projected."""
    await register(js, *(entry_of(sim, i) for i in range(1, pools + 1)))
    projection_settings = ProjectionSettings(
        nats_url=nats_server.url,
        database_url=store_url,
        projection_wait=0.05,
        retry_pause=0.05,
        http_port=-1,
        log_json=False,
    )
    gateway_settings = ApiSettings(
        **{
            "nats_url": nats_server.url,
            "database_url": store_url,
            "secret_key": SecretStr(KEY),  # consoles log in with the registry's credentials
            "api_host": "127.0.0.1",
            "api_port": 0,
            "sse_ping": 0.5,
            "command_timeout": 10,
            "log_json": False,
            **api_settings,
        }
    )
    tokens = await Tokens.open(js, create=True)
    token, _ = await tokens.create("tests")
    async with (
        Replica(settings_for(nats_server)),
        service_running(run_projection, projection_settings) as projection,
        service_running(run_api, gateway_settings) as gateway,
    ):
        for i in range(1, pools + 1):
            await wait_status(js, f"pool-{i}", "synced", timeout=30)
        stack = Stack(sim, projection, gateway, token, js, pools)
        await stack.settled()
        yield stack
