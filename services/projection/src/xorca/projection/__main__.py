"""``python -m xorca.projection [rebuild]``: the projection, configured by the environment
(settings.py), until SIGINT or SIGTERM; ``rebuild`` empties the store and replays the stream."""

from __future__ import annotations

import asyncio
import sys

import orjson

from xorca.projection.bootstrap import rebuild, run_until_signalled
from xorca.projection.settings import ProjectionSettings
from xorca.runtime.logs import configure_logging
from xorca.store import StoreError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["rebuild"]):
        sys.stderr.write("usage: python -m xorca.projection [rebuild]\n")
        return 2
    settings = ProjectionSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        if args == ["rebuild"]:
            report = asyncio.run(rebuild(settings))
            line = {
                "position": report.position,
                "messages": report.messages,
                "seconds": round(report.seconds, 3),
                "objects": report.objects,
            }
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
        else:
            asyncio.run(run_until_signalled(settings))
    except StoreError as e:
        sys.stderr.write(f"error: the state store: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
