"""``python -m xorca.api``: the API gateway, configured by the environment (settings.py), until
SIGINT or SIGTERM."""

from __future__ import annotations

import sys

import uvloop

from xorca.api.bootstrap import run
from xorca.api.settings import ApiSettings
from xorca.runtime.serve import run_process


def main() -> int:
    # uvloop (uvicorn[standard] brings it): the SSE fan-out is bound by the loop's writes
    run_process(run, ApiSettings(), loop_factory=uvloop.new_event_loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
