"""The store's schema migrations: alembic, shipped in the package (``migrations/``), configured in
code (no alembic.ini) and run on a connection of the store's async engine.

`upgrade` holds a lock while it migrates (PostgreSQL: a transaction-level advisory lock; SQLite:
``BEGIN IMMEDIATE``), so that services starting together do not race to create the same tables.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from xorca.store.engine import BEGIN_OPTION
from xorca.store.errors import SchemaOutdated

__all__ = [
    "MIGRATIONS",
    "VERSION_TABLE",
    "alembic_config",
    "check",
    "current_revision",
    "downgrade",
    "head_revision",
    "migration_context",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"
# A version table of our own name: another component may keep its alembic history in the same
# database under alembic's default name.
VERSION_TABLE = "xorca_store_version"
# pg_advisory_xact_lock key: "xorcastr" as a big-endian 63-bit integer
_LOCK_KEY = int.from_bytes(b"xorcastr", "big") & 0x7FFF_FFFF_FFFF_FFFF


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    # ConfigParser interpolates "%": a path that holds one must double it
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the store ships at least one migration"
    return head


def migration_context(connection: Connection) -> MigrationContext:
    """A migration context on ``connection`` that knows our version table (for `compare_metadata`
    too, which then leaves that table out of the comparison)."""
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})


def current_revision(connection: Connection) -> str | None:
    return migration_context(connection).get_current_revision()


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    if revision == "head" and current_revision(connection) == head_revision():
        return
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    command.downgrade(alembic_config(connection), revision)


def _check(connection: Connection) -> None:
    current, head = current_revision(connection), head_revision()
    if current != head:
        raise SchemaOutdated(current, head)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database up to ``revision``, in one transaction."""
    async with engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"}).begin() as connection:
        await connection.run_sync(_upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    """Migrate the database down to ``revision`` (``base``: no tables left), in one transaction."""
    async with engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"}).begin() as connection:
        await connection.run_sync(_downgrade, revision)


async def check(engine: AsyncEngine) -> None:
    """Raise `SchemaOutdated` unless the database is at the head revision."""
    async with engine.connect() as connection:
        await connection.run_sync(_check)
