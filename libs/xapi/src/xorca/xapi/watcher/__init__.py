"""The pool watcher: an in-memory mirror of a pool's records, kept by ``event.from``, handed out
as batches of changes.

    async with Xapi(url, "root", password) as xapi:
        watcher = PoolWatcher(xapi, WatchOptions(classes=["VM", "host"]))
        async for batch in watcher:            # Batch(changes, token, resync)
            for change in batch.changes:       # Change(op, cls, ref, record)
                ...
            if watcher.status.stale: ...       # connecting, resyncing, degraded, disconnected

Modules: `mirror` (the pure core: changes, batches, applying, diffing a load against the mirror),
`answer` (checking an ``event.from`` answer against the datamodel), `state` (the status a
manager shows), `policy` (what each failure leads to), `watcher` (the loop, on the client).

Records carry the datamodel's field names. A field the datamodel does not know is refused by
default (`WatchOptions.strict_fields`): the answer is a typed error and the pool shows as
degraded, which is honest about a host newer than our datamodel; set it False to keep such
fields instead. Fields an older host lacks are never an error.
"""

from xorca.xapi.watcher.answer import EVENTLESS, Schema, default_classes, parse_answer
from xorca.xapi.watcher.mirror import (
    Batch,
    Change,
    Event,
    Mirror,
    Op,
    Record,
    Tables,
    apply_changes,
    count_offsets,
    load_tables,
)
from xorca.xapi.watcher.policy import Backoff, Verdict, judge
from xorca.xapi.watcher.state import State, Status, StatusBoard
from xorca.xapi.watcher.watcher import EventClient, PoolWatcher, WatchOptions

__all__ = [
    "EVENTLESS",
    "Backoff",
    "Batch",
    "Change",
    "Event",
    "EventClient",
    "Mirror",
    "Op",
    "PoolWatcher",
    "Record",
    "Schema",
    "State",
    "Status",
    "StatusBoard",
    "Tables",
    "Verdict",
    "WatchOptions",
    "apply_changes",
    "count_offsets",
    "default_classes",
    "judge",
    "load_tables",
    "parse_answer",
]
