"""The gateway's settings, from the environment only (``XORCA_*``), on top of those every service
shares (`xorca.runtime.settings.ServiceSettings`: ``XORCA_NATS_URL``, ``XORCA_SECRET_KEY``… and
``XORCA_LOG_LEVEL``, ``XORCA_LOG_JSON``).

===========================  =====================  ================================================
variable                     default                meaning
===========================  =====================  ================================================
XORCA_DATABASE_URL           sqlite:///xorca.db     the state store the projection writes
XORCA_API_HOST               0.0.0.0                where the api listens
XORCA_API_PORT               8080                   its port (0: any free port)
XORCA_CORS_ORIGINS           (none)                 origins a separately served UI may call from,
                                                    comma-separated (``*``: any)
XORCA_MAX_BODY               1048576                largest request body, bytes (413 beyond)
XORCA_PAGE_SIZE              1000                   items per page when ``limit`` is not given
XORCA_PAGE_MAX               10000                  largest ``limit``
XORCA_SSE_QUEUE              10000                  changes buffered per SSE client before it is
                                                    cut off (it resumes with Last-Event-ID)
XORCA_SSE_PING               15                     seconds between keep-alive pings
XORCA_SSE_WRITE_TIMEOUT      30                     seconds a write may wait on a client that does
                                                    not read before it is cut off
XORCA_COMMAND_TIMEOUT        30                     seconds a collector may take to answer
XORCA_TASK_WAIT              60                     longest ``?wait`` on a task, seconds
XORCA_WEB_ROOT               (none)                 a built web UI to serve at ``/`` (until it
                                                    holds index.html, ``/`` says how to build it)
===========================  =====================  ================================================

Only ``bootstrap.py`` reads these; everything else is handed what it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from xorca.runtime.settings import ServiceSettings

__all__ = ["ApiSettings"]


class ApiSettings(ServiceSettings):
    """What the gateway needs; see the table above."""

    database_url: str = "sqlite:///xorca.db"
    api_host: str = "0.0.0.0"
    api_port: Annotated[int, Field(ge=0, le=65_535)] = 8080
    cors_origins: str = ""
    max_body: Annotated[int, Field(ge=1024)] = 1 << 20
    page_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    page_max: Annotated[int, Field(ge=1, le=1_000_000)] = 10_000
    sse_queue: Annotated[int, Field(ge=10, le=10_000_000)] = 10_000
    sse_ping: Annotated[float, Field(gt=0, le=3600)] = 15.0
    sse_write_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    command_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    task_wait: Annotated[float, Field(gt=0, le=3600)] = 60.0
    web_root: Path | None = None

    @property
    def origins(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
