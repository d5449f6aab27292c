"""``pool-status`` objects (translate/status.py): made from the collectors' statuses."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from xorca.contracts.status import PoolState
from xorca.projection.core.objects.base import Closed, Datetime, Strings, link

__all__ = ["PoolStatus", "PoolStatusError"]


class PoolStatusError(Closed):
    """An error as XAPI reports one: a code and its parameters."""

    code: Annotated[str, Field(description="XORCA_* codes are xorca's, the others XAPI's")]
    params: Strings


class PoolStatus(Closed):
    """How current a pool's objects are, from the collectors (not from XAPI)."""

    id: Annotated[str, Field(description="the pool registry entry")]
    type: Literal["pool-status"]
    pool: Annotated[str | None, link("$pool", "the pool's uuid, once a collector saw it")] = None
    registry_id: str
    state: PoolState
    since: Annotated[Datetime | None, Field(description="when it entered this state")] = None
    master: Annotated[str | None, Field(description="the master the collector talks to")] = None
    last_event_at: Datetime | None = None
    error: Annotated[
        PoolStatusError | None, Field(description="why: degraded, disconnected, error")
    ] = None
    collector: Annotated[str, Field(description="the collector replica watching the pool")]
