"""xorca's state store: the client-facing objects the projection writes and the api reads, with
revisions and tombstones, on PostgreSQL or SQLite (both first class).

    async with await Store.open("sqlite:///var/lib/xorca/state.db") as store:
        await store.commit(Commit("projection", expected=0, position=7, objects=[...]))
        async with store.reader() as view:
            page = await view.list("vm", limit=100)

The schema is migrated by alembic from inside the package (`xorca.store.migrate`); errors are
one tree (`xorca.store.errors`).
"""

from xorca.store.engine import async_url, redacted
from xorca.store.errors import (
    PositionConflict,
    SchemaOutdated,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
)
from xorca.store.rows import Commit, ObjectRow, RawRow
from xorca.store.store import HORIZON, READER_CONSUMER, Store, StoreReader

__all__ = [
    "HORIZON",
    "READER_CONSUMER",
    "Commit",
    "ObjectRow",
    "PositionConflict",
    "RawRow",
    "SchemaOutdated",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreReader",
    "StoreUnavailable",
    "async_url",
    "redacted",
]
