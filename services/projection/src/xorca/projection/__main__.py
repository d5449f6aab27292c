"""``python -m xorca.projection [rebuild]``: the projection, configured by the environment
(settings.py), until SIGINT or SIGTERM; ``rebuild`` empties the store and replays the stream,
then prints one JSON line. A store that fails is said on stderr, and the exit status is 1."""

from __future__ import annotations

import asyncio
import sys

import orjson

from xorca.projection.bootstrap import rebuild, run
from xorca.projection.settings import ProjectionSettings
from xorca.runtime.logs import configure_logging
from xorca.runtime.serve import exit_status, run_process
from xorca.store import StoreError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["rebuild"]):
        sys.stderr.write("usage: python -m xorca.projection [rebuild]\n")
        return 2
    settings = ProjectionSettings()

    def work() -> None:
        if args == ["rebuild"]:
            _rebuild(settings)
        else:
            run_process(run, settings)

    return exit_status(work, {StoreError: (1, "the state store: ")})


def _rebuild(settings: ProjectionSettings) -> None:
    configure_logging(settings.log_level, json=settings.log_json)
    report = asyncio.run(rebuild(settings))
    line = {
        "position": report.position,
        "messages": report.messages,
        "seconds": round(report.seconds, 3),
        "objects": report.objects,
    }
    sys.stdout.write(orjson.dumps(line).decode() + "\n")


if __name__ == "__main__":
    sys.exit(main())
