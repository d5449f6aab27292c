"""The simulator's control endpoint as the tests drive it, and a client of the pool it controls:
``/pools`` lists the pools, ``/pools/<n>/<action>`` injects a fault into pool n or sets its
activity (`activity`, `still`)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.simthread import SimThread
from tests.support.waiting import eventually
from xorca.xapi.client import RetryPolicy, Xapi


def control_url(sim: SimThread, action: str = "", index: int = 1) -> str:
    """``/pools`` without an action, else ``/pools/<index>/<action>``."""
    assert sim.control is not None
    path = f"/pools/{index}/{action}" if action else "/pools"
    return sim.control.url + path


def control_request(
    sim: SimThread, method: str, action: str = "", body: Any = None
) -> httpx.Response:
    """A blocking request and whatever it answers, for tests of the endpoint itself."""
    return httpx.request(method, control_url(sim, action), json=body, timeout=10)


async def control(
    sim: SimThread, action: str, body: Any = None, method: str = "POST", index: int = 1
) -> Any:
    """Inject a fault (``DELETE`` takes it back) from async code: the endpoint must accept it.
    Returns its JSON answer."""
    async with httpx.AsyncClient() as http:
        answer = await http.request(method, control_url(sim, action, index), json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def activity(sim: SimThread, rate: float, index: int = 1) -> None:
    """Pool ``index`` changes ``rate`` times a second from now on (0: it stops; see `still`)."""
    await control(sim, "activity", {"rate": rate}, index=index)


async def still(sim: SimThread, index: int = 1) -> None:
    """Stop the pool's activity and wait for the operations it started (VM power changes run for
    the simulated operation time after the activity stops), so that the pool holds still while a
    test compares it with what watched it."""
    await activity(sim, 0, index)
    running = sim.pool(index).pool.running

    def ended() -> bool:
        assert not running, f"{len(running)} operations running"
        return True

    await eventually(ended, what="the operations the activity started to end")


def pool_client(sim: SimThread, retry: RetryPolicy, **options: Any) -> Xapi:
    """A client of pool 1, with the pool's own credentials."""
    described = sim.pool(1).describe()
    return Xapi(
        described["url"], described["username"], described["password"], retry=retry, **options
    )
