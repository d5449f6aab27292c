"""Logs as one JSON object per line (``XORCA_LOG_JSON``), for whatever collects container output.

Each line has ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``error`` with the
traceback when there is one, and the structured fields a caller passed as
``extra={"fields": {...}}`` (a request id, a status…). Plain text is kept for people running a
service in a terminal.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

__all__ = ["JsonFormatter", "configure_logging"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update((k, v) for k, v in fields.items() if k not in line)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Send every log to stderr, as JSON lines or as text."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # one line per XAPI request is the client library's business, not the service's log
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
