"""The collector's settings, from the environment only (``XORCA_*``), on top of those every
service shares (`xorca.runtime.settings.ServiceSettings`: ``XORCA_NATS_URL``,
``XORCA_SECRET_KEY``… and ``XORCA_LOG_LEVEL``, ``XORCA_LOG_JSON``).

=============================  ===================  ==============================================
variable                       default              meaning
=============================  ===================  ==============================================
XORCA_COLLECTOR_ID             <hostname>-<pid>     this replica's name in leases and statuses
XORCA_LEASE_PERIOD             15                   seconds a pool lease lasts unrenewed; a dead
                                                    replica's pools move within about that
XORCA_MAX_IN_FLIGHT            1000                 JetStream publishes awaiting their ack
XORCA_ACK_TIMEOUT              5                    seconds before an unacknowledged publish is
                                                    checked against the stream and resent
XORCA_COMMAND_TIMEOUT          30                   seconds a command may take to be answered
XORCA_WATCH_POLL               30                   seconds one ``event.from`` long poll waits
XORCA_XAPI_TIMEOUT             60                   seconds one other XAPI call may take
XORCA_RETRY_PAUSE              1                    first pause after a pool failure (doubling
                                                    up to 30 s)
XORCA_HTTP_HOST                0.0.0.0              where /healthz, /readyz, /metrics listen
XORCA_HTTP_PORT                8091                 their port (0: any free port; -1: none)
=============================  ===================  ==============================================

Only ``bootstrap.py`` reads these; everything else is handed what it needs.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated

from pydantic import Field

from xorca.runtime.settings import ServiceSettings

__all__ = ["CollectorSettings", "default_collector_id"]


def default_collector_id() -> str:
    """``<hostname>-<pid>``: unique per process on a host, readable in statuses."""
    host = socket.gethostname().split(".")[0] or "collector"
    return f"{host}-{os.getpid()}"


class CollectorSettings(ServiceSettings):
    """What one collector replica needs; see the table above."""

    collector_id: Annotated[
        str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")
    ] = Field(default_factory=default_collector_id)
    lease_period: Annotated[float, Field(ge=0.3, le=3600)] = 15.0
    max_in_flight: Annotated[int, Field(ge=1, le=65_536)] = 1000
    ack_timeout: Annotated[float, Field(gt=0, le=600)] = 5.0
    command_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    watch_poll: Annotated[float, Field(gt=0, le=600)] = 30.0
    xapi_timeout: Annotated[float, Field(gt=0, le=3600)] = 60.0
    retry_pause: Annotated[float, Field(gt=0, le=60)] = 1.0
    http_host: str = "0.0.0.0"
    http_port: Annotated[int, Field(ge=-1, le=65_535)] = 8091

    @property
    def renew_interval(self) -> float:
        """Leases are renewed three times per period: one lost renewal is survived."""
        return self.lease_period / 3
