"""Whatever a consumer of the log (stream XORCA_OBJECTS) receives, decoded by its subject.

The stream holds two kinds of message in one sequence: object changes (``xorca.v1.obj.>``,
objects.py) and pool statuses (``xorca.v1.status.>``, status.py). A consumer that reads both, as
docs/nats.md shows, decodes each with `decode_log_entry`.
"""

from __future__ import annotations

from collections.abc import Mapping

from xorca.contracts.errors import MalformedMessage
from xorca.contracts.objects import ObjectChanged, decode_object
from xorca.contracts.status import PoolStatusChanged, decode_status
from xorca.contracts.subjects import OBJ, OBJECTS_STREAM, STATUS

__all__ = ["decode_log_entry"]


def decode_log_entry(
    subject: str, headers: Mapping[str, str] | None, body: bytes
) -> ObjectChanged | PoolStatusChanged:
    """Whatever a consumer of XORCA_OBJECTS receives, decoded by its subject."""
    if subject.startswith(OBJ + "."):
        return decode_object(subject, headers, body)
    if subject.startswith(STATUS + "."):
        return decode_status(subject, body)
    raise MalformedMessage(f"{subject!r} is not a subject of {OBJECTS_STREAM}")
