"""`ServiceSettings`: what every xorca service reads from the environment (``XORCA_*``), whatever
it does; each service's own ``settings.py`` adds only its own on top.

- NATS, as `xorca.bus.NatsSettings` (its table: ``XORCA_NATS_URL``, ``XORCA_NATS_REPLICAS``,
  ``XORCA_SECRET_KEY``, ``XORCA_OBJECTS_HISTORY``, ``XORCA_DUPLICATE_WINDOW``,
  ``XORCA_TOMBSTONE_TTL``, ``XORCA_AUDIT_MAX_AGE``);
- logging:

=============================  ===================  ==============================================
variable                       default              meaning
=============================  ===================  ==============================================
XORCA_LOG_LEVEL                INFO                 logging level
XORCA_LOG_JSON                 true                 one JSON object per log line
=============================  ===================  ==============================================

The health and metrics endpoint is not here: the collector and the projection each have one
(``XORCA_HTTP_HOST``, ``XORCA_HTTP_PORT``, with a default port of their own), the api serves
``/healthz``, ``/readyz`` and ``/metrics`` on its own port.
"""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from xorca.bus.settings import NatsSettings

__all__ = ["ServiceSettings"]


class ServiceSettings(NatsSettings):
    """The settings every service shares; see the table above."""

    model_config = SettingsConfigDict(env_prefix="XORCA_", extra="ignore", frozen=True)

    log_level: str = "INFO"
    log_json: bool = True
