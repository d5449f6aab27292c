"""``python -m xorca.api``: the API gateway, configured by the environment (settings.py), until
SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import sys

import uvloop

from xorca.api.bootstrap import run_until_signalled
from xorca.api.settings import ApiSettings
from xorca.runtime.logs import configure_logging


def main() -> int:
    settings = ApiSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    # uvloop (uvicorn[standard] brings it): the SSE fan-out is bound by the loop's writes
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_until_signalled(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
