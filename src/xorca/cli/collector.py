"""``xorca collector``: one collector replica, the same as ``python -m xorca.collector``.

Configured only by the environment (``XORCA_NATS_URL``, ``XORCA_SECRET_KEY``,
``XORCA_COLLECTOR_ID``, ``XORCA_LEASE_PERIOD``…: see ``xorca.collector.settings``), so that one
container image runs any number of replicas. Ctrl-C (or SIGTERM) stops it cleanly: its pools'
leases are released and another replica takes them over at once.
"""

from __future__ import annotations

import typer

from xorca.collector.__main__ import main


def collector() -> None:
    """Run a collector replica (settings from XORCA_* variables) until Ctrl-C."""
    raise typer.Exit(main())
