"""Settings every service shares for NATS, read from the environment (``XORCA_*``).

============================  ===========================  =====================================
variable                      default                      meaning
============================  ===========================  =====================================
XORCA_NATS_URL                nats://127.0.0.1:4222        NATS server(s), comma-separated
XORCA_NATS_REPLICAS           1                            replicas of every stream and bucket
XORCA_SECRET_KEY              (none)                       Fernet key(s) for registry passwords
XORCA_OBJECTS_HISTORY         3                            messages kept per subject (objects)
XORCA_DUPLICATE_WINDOW        120                          seconds JetStream remembers msg ids
XORCA_TOMBSTONE_TTL           604800 (7 days)              seconds a ``del`` stays in the log
XORCA_AUDIT_MAX_AGE           34560000 (400 days)          seconds audit records are kept
============================  ===========================  =====================================
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from xorca.bus.setup import (
    DEFAULT_AUDIT_MAX_AGE,
    DEFAULT_DUPLICATE_WINDOW,
    DEFAULT_HISTORY,
    DEFAULT_TOMBSTONE_TTL,
)
from xorca.contracts.errors import SecretKeyError

__all__ = ["NatsSettings"]


class NatsSettings(BaseSettings):
    """What a service needs to reach NATS and lay out xorca's streams; see the table above."""

    model_config = SettingsConfigDict(env_prefix="XORCA_", extra="ignore", frozen=True)

    nats_url: str = "nats://127.0.0.1:4222"
    nats_replicas: Annotated[int, Field(ge=1, le=5)] = 1
    secret_key: SecretStr | None = None
    objects_history: Annotated[int, Field(ge=1, le=64)] = DEFAULT_HISTORY
    duplicate_window: Annotated[float, Field(gt=0)] = DEFAULT_DUPLICATE_WINDOW
    tombstone_ttl: Annotated[float, Field(ge=0)] = DEFAULT_TOMBSTONE_TTL
    audit_max_age: Annotated[float, Field(ge=0)] = DEFAULT_AUDIT_MAX_AGE

    @property
    def servers(self) -> list[str]:
        return [s.strip() for s in self.nats_url.split(",") if s.strip()]

    def require_secret_key(self) -> str:
        """The key, or `SecretKeyError` saying how to get one."""
        if self.secret_key is None or not self.secret_key.get_secret_value().strip():
            raise SecretKeyError(
                "XORCA_SECRET_KEY is not set; generate one with `xorca pool keygen`"
            )
        return self.secret_key.get_secret_value()
