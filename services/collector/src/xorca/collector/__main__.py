"""``python -m xorca.collector``: one collector replica, configured by the environment
(settings.py), until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from xorca.collector.bootstrap import run_until_signalled
from xorca.collector.settings import CollectorSettings
from xorca.contracts.errors import SecretKeyError
from xorca.runtime.logs import configure_logging


def main() -> int:
    settings = CollectorSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        asyncio.run(run_until_signalled(settings))
    except SecretKeyError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
