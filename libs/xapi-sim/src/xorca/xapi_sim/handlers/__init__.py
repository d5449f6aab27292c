"""Hand-written message implementations; importing this package registers them all."""

from xorca.xapi_sim.handlers import (
    event,
    host,
    message,
    network,
    pool,
    session,
    storage,
    task,
    vbd,
    vm,
    vm_copy,
    vm_settings,
)

__all__ = [
    "event",
    "host",
    "message",
    "network",
    "pool",
    "session",
    "storage",
    "task",
    "vbd",
    "vm",
    "vm_copy",
    "vm_settings",
]
