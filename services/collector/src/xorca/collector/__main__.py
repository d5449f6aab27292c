"""``python -m xorca.collector``: one collector replica, configured by the environment
(settings.py), until SIGINT or SIGTERM (then its leases are released, so that another replica
takes its pools over at once). Without ``XORCA_SECRET_KEY`` it says so and exits with 2."""

from __future__ import annotations

import sys

from xorca.collector.bootstrap import run
from xorca.collector.settings import CollectorSettings
from xorca.contracts.errors import SecretKeyError
from xorca.runtime.serve import exit_status, run_process


def main() -> int:
    return exit_status(lambda: run_process(run, CollectorSettings()), {SecretKeyError: (2, "")})


if __name__ == "__main__":
    sys.exit(main())
