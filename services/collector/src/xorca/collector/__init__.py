"""The collector: watches the XAPI pools this replica holds leases for, publishes every change to
JetStream (XORCA_OBJECTS), reports each pool's status, and runs the commands sent to its pools.

    python -m xorca.collector            # or: xorca collector; settings from XORCA_* (settings.py)

Layout (docs/nats.md is the contract it speaks), the same in every service:

- `__main__` (the process), `settings` (``XORCA_*``), `bootstrap` (the only place that reads the
  settings and builds the adapters, then hands the replica to `xorca.runtime.serve.serve`);
- ``core/``: pure decisions — lease rules (`core.leases`), publish planning and the msg-id chain
  (`core.publish`), command checks and audit records (`core.commands`), statuses (`core.status`);
- ``adapters/``: JetStream (`adapters.log`), heartbeats (`adapters.presence`), XAPI (client and
  watcher per pool, `adapters.xapi`), Prometheus (`adapters.metrics`);
- ``service/``: the loops that put them together — `Collector` (a replica), the supervisor
  (registry and leases), a runner per pool, its publisher, the command service.
"""
