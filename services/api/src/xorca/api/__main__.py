"""``python -m xorca.api``: the API gateway, configured by the environment (settings.py), until
SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from xorca.api.bootstrap import run_until_signalled
from xorca.api.settings import ApiSettings
from xorca.runtime.logs import configure_logging


def main() -> int:
    settings = ApiSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    asyncio.run(run_until_signalled(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
