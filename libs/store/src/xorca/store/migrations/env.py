"""Alembic's environment for the store: run only from `xorca.store.migrate`, on the connection it
passes in ``config.attributes["connection"]`` (a sync connection from ``AsyncConnection.run_sync``,
already inside the transaction that also holds the migration lock)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from xorca.store.migrate import VERSION_TABLE
from xorca.store.models import StoreModel

connection = context.config.attributes.get("connection")
if context.is_offline_mode() or not isinstance(connection, Connection):
    raise RuntimeError(
        "the store's migrations run through xorca.store (Store.open(url, migrate=True)), "
        "not from the alembic command line"
    )

context.configure(
    connection=connection,
    target_metadata=StoreModel.metadata,
    version_table=VERSION_TABLE,
    transactional_ddl=True,  # both PostgreSQL and SQLite roll DDL back with the transaction
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite's ALTER TABLE is limited
)
with context.begin_transaction():
    context.run_migrations()
