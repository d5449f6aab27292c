"""The projection's settings, from the environment only (``XORCA_*``), on top of those every
service shares (`xorca.runtime.settings.ServiceSettings`: ``XORCA_NATS_URL``,
``XORCA_TOMBSTONE_TTL``… and ``XORCA_LOG_LEVEL``, ``XORCA_LOG_JSON``).

===========================  ======================  ===============================================
variable                     default                 meaning
===========================  ======================  ===============================================
XORCA_DATABASE_URL           sqlite:///xorca.db      the state store: ``postgresql://user@host/db``
                                                     or ``sqlite:///path`` (relative to the cwd)
XORCA_PROJECTION_BATCH       1000                    most log messages applied in one transaction
XORCA_PROJECTION_CATCHUP     10000                   the same while catching up with a backlog
XORCA_PROJECTION_WAIT        1                       seconds one fetch waits for a first message
XORCA_TOMBSTONE_TTL          604800 (7 days)         seconds tombstones are kept (clients older
                                                     than that reload); the log keeps ``del``
                                                     messages as long
XORCA_PURGE_INTERVAL         600                     seconds between two purges of old tombstones
XORCA_RETRY_PAUSE            1                       first pause after a store or NATS failure
                                                     (doubling up to 30 s)
XORCA_HTTP_HOST              0.0.0.0                 where /healthz, /readyz, /metrics listen
XORCA_HTTP_PORT              8092                    their port (0: any free port; -1: none)
===========================  ======================  ===============================================

Only ``bootstrap.py`` reads these; everything else is handed what it needs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from xorca.runtime.settings import ServiceSettings

__all__ = ["ProjectionSettings"]


class ProjectionSettings(ServiceSettings):
    """What the projection needs; see the table above."""

    database_url: str = "sqlite:///xorca.db"
    projection_batch: Annotated[int, Field(ge=1, le=100_000)] = 1000
    projection_catchup: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    projection_wait: Annotated[float, Field(gt=0, le=60)] = 1.0
    purge_interval: Annotated[float, Field(gt=0)] = 600.0
    retry_pause: Annotated[float, Field(gt=0, le=60)] = 1.0
    http_host: str = "0.0.0.0"
    http_port: Annotated[int, Field(ge=-1, le=65_535)] = 8092
