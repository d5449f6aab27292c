"""Pytest fixtures around `NatsServer`: a fresh JetStream server per test, and a connection to it.

Import them into a test module (``from tests.support.nats_fixtures import nats_server, js  #
noqa: F401``) or into ``tests/conftest.py``. One server per test keeps tests independent (the
stream names are fixed by the contract); a server starts in a few tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from tests.support.nats import NatsServer


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A JetStream server of this test's own, on a free port, stopped afterwards."""
    with NatsServer(tmp_path / "nats") as server:
        yield server


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    """A connection to `nats_server` that does not give up while a test restarts the server."""
    client = await nats.connect(
        nats_server.url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        connect_timeout=5,
    )
    yield client
    await client.close()


@pytest.fixture
def js(nc: Client) -> JetStreamContext:
    return nc.jetstream()
