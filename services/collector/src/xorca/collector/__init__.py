"""The collector: watches the XAPI pools this replica holds leases for, publishes every change to
JetStream (XORCA_OBJECTS), reports each pool's status, and runs the commands sent to its pools.

    python -m xorca.collector            # or: xorca collector; settings from XORCA_* (settings.py)

Layout (docs/nats.md is the contract it speaks):

- ``core/``: pure decisions — lease rules (`core.leases`), publish planning and the msg-id chain
  (`core.publish`), command checks and audit records (`core.commands`), statuses (`core.status`);
- ``adapters/``: NATS (connection, JetStream log, heartbeats), XAPI (client and watcher per
  pool), HTTP (health, readiness, metrics);
- `runner` (one pool), `publisher` (a pool's batches until JetStream has them), `commands`
  (request/reply and forwarding), `supervisor` (registry and leases), `service` (a replica),
  `bootstrap` (wiring from settings), `settings`, `metrics`, `logs`.
"""
