"""The simulator's control endpoint as the fault-injection tests drive it, and a client of the pool
it controls: ``/pools`` lists the pools, ``/pools/1/<action>`` injects a fault into the first."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.simthread import SimThread
from xorca.xapi.client import RetryPolicy, Xapi


def control_url(sim: SimThread, action: str = "") -> str:
    """``/pools`` without an action, else ``/pools/1/<action>``."""
    assert sim.control is not None
    path = f"/pools/1/{action}" if action else "/pools"
    return sim.control.url + path


def control_request(
    sim: SimThread, method: str, action: str = "", body: Any = None
) -> httpx.Response:
    """A blocking request and whatever it answers, for tests of the endpoint itself."""
    return httpx.request(method, control_url(sim, action), json=body, timeout=10)


async def control(sim: SimThread, action: str, body: Any = None, method: str = "POST") -> Any:
    """Inject a fault (``DELETE`` takes it back) from async code: the endpoint must accept it.
    Returns its JSON answer."""
    async with httpx.AsyncClient() as http:
        answer = await http.request(method, control_url(sim, action), json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def pool_client(sim: SimThread, retry: RetryPolicy, **options: Any) -> Xapi:
    """A client of pool 1, with the pool's own credentials."""
    described = sim.pool(1).describe()
    return Xapi(
        described["url"], described["username"], described["password"], retry=retry, **options
    )
