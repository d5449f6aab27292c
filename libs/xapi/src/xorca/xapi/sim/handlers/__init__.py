"""Hand-written message implementations; importing this package registers them all."""

from xorca.xapi.sim.handlers import (
    event,
    host,
    message,
    network,
    pool,
    session,
    storage,
    task,
    vm,
)

__all__ = ["event", "host", "message", "network", "pool", "session", "storage", "task", "vm"]
