"""xorca on NATS: the adapters that speak the contract (``xorca.contracts``) over nats-py.

- `connection`: `NatsBus`, the one connection a service holds (reconnecting for ever), and
  `NATS_ERRORS`, what a NATS call raises when the server is away;
- `settings`: `NatsSettings`, what every service reads from the environment (``XORCA_NATS_URL``…);
- `setup`: `ensure_streams`, the idempotent layout of xorca's streams and KV buckets;
- `registry`, `leases`, `tokens`: the KV buckets XORCA_POOLS, XORCA_LEASES and XORCA_TOKENS.

The contract itself (subjects, headers, bodies, the entries these buckets hold) is pure and lives
in ``xorca.contracts``; services keep their own readers and writers of the log next to their core.
"""

from xorca.bus.connection import NATS_ERRORS, NatsBus
from xorca.bus.leases import Lease, Leases
from xorca.bus.registry import Registry, RegistryChange
from xorca.bus.settings import NatsSettings
from xorca.bus.setup import SetupReport, ensure_streams
from xorca.bus.tokens import Tokens

__all__ = [
    "NATS_ERRORS",
    "Lease",
    "Leases",
    "NatsBus",
    "NatsSettings",
    "Registry",
    "RegistryChange",
    "SetupReport",
    "Tokens",
    "ensure_streams",
]
