"""The store's tables as SQLModel models: the schema the migrations must produce (a test compares
them), and the `Table` objects the store's Core statements are built on.

The models are never instantiated: bulk writes go through SQLAlchemy Core (``INSERT … ON CONFLICT
… DO UPDATE`` with executemany), reads map rows straight into the frozen dataclasses of `rows`.
They have a registry, hence a ``MetaData``, of their own, so that alembic here sees these tables
and no other SQLModel table a service may define.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Index, LargeBinary, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

__all__ = [
    "JSON_DOCUMENT",
    "META",
    "OBJECTS",
    "POSITIONS",
    "RAW",
    "TOMBSTONE",
    "MetaEntry",
    "StoreModel",
    "StoredObject",
    "StoredPosition",
    "StoredRaw",
    "UtcDateTime",
]


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored in UTC and read back aware in UTC.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones and SQLAlchemy drops the offset,
    so there the value is stored as naive UTC text (which sorts and compares by time).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store takes aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A JSON document: ``jsonb`` on PostgreSQL, JSON text on SQLite. SQL NULL (not JSON ``null``)
# for Python None: a tombstone has no data.
JSON_DOCUMENT: TypeEngine[Any] = JSON(none_as_null=True).with_variant(
    JSONB(none_as_null=True), "postgresql"
)

# The partial-index predicate of tombstones, written the same way in the purge's WHERE clause
# so that SQLite, which matches predicates by their terms, uses the index.
TOMBSTONE = text("deleted")


class StoreModel(SQLModel, registry=registry()):
    """Base of the store's tables."""


class StoredObject(StoreModel, table=True):
    """``objects``: one row per client object, a tombstone when ``deleted`` (``data`` NULL)."""

    __tablename__ = "objects"
    __table_args__ = (
        Index("ix_objects_rev", "rev"),
        # ``id`` last: listing a pool's objects of one type in id order reads the index in order
        Index("ix_objects_pool_type_id", "pool", "type", "id"),
        Index(
            "ix_objects_tombstones",
            "deleted",
            "changed_at",
            postgresql_where=TOMBSTONE,
            sqlite_where=TOMBSTONE,
        ),
    )

    type: str = Field(sa_type=Text, primary_key=True)
    id: str = Field(sa_type=Text, primary_key=True)
    pool: str | None = Field(default=None, sa_type=Text)
    rev: int = Field(sa_type=BigInteger)
    deleted: bool = Field(default=False)
    changed_at: datetime = Field(sa_type=UtcDateTime)
    data: dict[str, Any] | None = Field(default=None, sa_type=JSON_DOCUMENT)
    ref: str | None = Field(default=None, sa_type=Text)


class StoredRaw(StoreModel, table=True):
    """``raw``: the projection's copy of each raw XAPI record, orjson-encoded bytes that the
    database never parses."""

    __tablename__ = "raw"

    pool: str = Field(sa_type=Text, primary_key=True)
    ref: str = Field(sa_type=Text, primary_key=True)
    cls: str = Field(sa_type=Text)
    uuid: str = Field(sa_type=Text)
    record: bytes = Field(sa_type=LargeBinary)
    seq: int = Field(sa_type=BigInteger)
    changed_at: datetime = Field(sa_type=UtcDateTime)


class StoredPosition(StoreModel, table=True):
    """``positions``: how far in the stream each consumer's writes go."""

    __tablename__ = "positions"

    consumer: str = Field(sa_type=Text, primary_key=True)
    position: int = Field(sa_type=BigInteger)


class MetaEntry(StoreModel, table=True):
    """``meta``: small named values ("horizon", "stream")."""

    __tablename__ = "meta"

    key: str = Field(sa_type=Text, primary_key=True)
    value: str = Field(sa_type=Text)


def _table(model: type[StoreModel]) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


OBJECTS = _table(StoredObject)
RAW = _table(StoredRaw)
POSITIONS = _table(StoredPosition)
META = _table(MetaEntry)
