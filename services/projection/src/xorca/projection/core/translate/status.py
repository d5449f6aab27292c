"""Pool statuses: a ``pool-status`` object per pool registry entry.

Statuses come from the collectors (`PoolStatusChanged`), not from XAPI; their object is keyed by
the registry id, since an entry that never connected has no pool uuid. The message's publication
time (``at``) is left out: it changes with every republish and says nothing about the pool.
"""

from __future__ import annotations

from datetime import datetime

from xorca.contracts.status import PoolStatusChanged
from xorca.projection.core.records import ClientObject
from xorca.projection.core.translate.values import compact, iso_from_datetime

__all__ = ["pool_status"]


def _iso(when: datetime | None) -> str | None:
    return None if when is None else iso_from_datetime(when)


def pool_status(status: PoolStatusChanged) -> ClientObject:
    error = status.error
    data = compact(
        {
            "id": status.registry_id,
            "type": "pool-status",
            "$pool": status.pool_uuid,
            "registry_id": status.registry_id,
            "state": status.state,
            "since": _iso(status.since),
            "master": status.master,
            "last_event_at": _iso(status.last_event_at),
            "error": None if error is None else {"code": error.code, "params": list(error.params)},
            "collector": status.collector,
        }
    )
    return ClientObject("pool-status", status.registry_id, status.pool_uuid, data)
