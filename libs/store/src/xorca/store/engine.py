"""Database URLs and engines: ``XORCA_DATABASE_URL`` in any usual spelling, turned into an async
SQLAlchemy engine tuned for the store (SQLite in WAL mode with our own ``BEGIN``; an asyncpg pool).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, pool
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = [
    "BEGIN_OPTION",
    "async_url",
    "create_engine",
    "is_memory",
    "redacted",
    "sqlite_path",
]

# The connection execution option that picks SQLite's ``BEGIN`` flavour ("IMMEDIATE" for a
# writer, so that it takes the write lock up front and waits for it under busy_timeout, instead
# of failing with SQLITE_BUSY when a read snapshot turns out stale at its first write).
BEGIN_OPTION = "xorca_sqlite_begin"

_SQLITE_SCHEMES = {"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"}
_POSTGRES_SCHEMES = {
    "postgres",
    "postgresql",
    "postgresql+asyncpg",
    "postgresql+psycopg",
    "postgresql+psycopg2",
}


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as e:
        raise ValueError(f"not a database URL: {redacted(url)}") from e


def async_url(url: str) -> str:
    """``url`` with the async driver the store uses (aiosqlite, asyncpg).

    Accepts ``sqlite:///path``, ``sqlite+aiosqlite:///path``, ``sqlite:///:memory:``,
    ``postgresql://…``, ``postgres://…`` and ``postgresql+asyncpg://…``; libpq's ``sslmode``
    query parameter becomes asyncpg's ``ssl`` (which takes the same values).
    """
    parsed = _parse(url)
    scheme = parsed.drivername
    if scheme in _SQLITE_SCHEMES:
        driver = "sqlite+aiosqlite"
    elif scheme in _POSTGRES_SCHEMES:
        driver = "postgresql+asyncpg"
        if "sslmode" in parsed.query:
            query = dict(parsed.query)
            query["ssl"] = query.pop("sslmode")
            parsed = parsed.set(drivername=driver, query=query)
            return parsed.render_as_string(hide_password=False)
    else:
        raise ValueError(
            f"unsupported database URL scheme {scheme!r} (use sqlite:/// or postgresql://)"
        )
    # the rest as given: rendering would %-escape a path's ":" and such, harmless but unreadable
    return driver + url[url.index("://") :]


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***``, for logs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        # not a URL SQLAlchemy can read: keep only the scheme, the rest may hold a secret
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://…" if sep else "<unreadable database URL>"
    # as given when there is nothing to hide (rendering would %-escape a path's ":" and such)
    return url if parsed.password is None else parsed.render_as_string(hide_password=True)


def is_memory(url: str) -> bool:
    """Whether an (async) SQLite URL names a private in-memory database."""
    parsed = _parse(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None (in memory, or a ``file:`` URI left to SQLite)."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite" or is_memory(url):
        return None
    if parsed.query.get("uri") in ("true", "1") or (parsed.database or "").startswith("file:"):
        return None
    return Path(parsed.database or "")


# A NUL character, escaped by JSON as \u0000, preceded by an even number of backslashes (an odd
# number would make it the text "\u0000" after an escaped backslash, which is no NUL).
_ESCAPED_NUL = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def json_dumps(value: Any) -> str:
    """JSON text for a ``data`` column. PostgreSQL's jsonb cannot hold a NUL character in a
    string, so on both backends (for one behaviour) NUL becomes U+FFFD, the replacement
    character; a cheap search skips the rewrite for the documents (nearly all) without one."""
    encoded = orjson.dumps(value)
    if b"\\u0000" in encoded:
        encoded = _ESCAPED_NUL.sub(rb"\1\\ufffd", encoded)
    return encoded.decode()


def create_engine(
    url: str, *, connect_timeout: float = 10.0, pool_size: int = 5, busy_timeout: float = 5.0
) -> AsyncEngine:
    """An async engine for ``url`` (already through `async_url`).

    SQLite: WAL, ``synchronous=NORMAL``, foreign keys on, ``busy_timeout``; the sqlite3 module's
    own transaction handling is switched off (it never begins one before a SELECT, so reads would
    see no snapshot) and the store emits ``BEGIN`` itself. A ``:memory:`` database lives in one
    connection (StaticPool). PostgreSQL: an asyncpg pool of ``pool_size``, pre-pinged, with
    ``connect_timeout`` on each connection attempt.
    """
    parsed = make_url(url)
    common: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": orjson.loads}
    if parsed.get_backend_name() == "sqlite":
        if is_memory(url):
            engine = create_async_engine(
                url,
                poolclass=pool.StaticPool,
                connect_args={"timeout": busy_timeout},
                **common,
            )
        else:
            engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size,
                connect_args={"timeout": busy_timeout},
                **common,
            )
        _sqlite_events(engine, busy_timeout)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=max(connect_timeout, 5.0),
        connect_args={"timeout": connect_timeout, "server_settings": {"application_name": "xorca"}},
        **common,
    )


def _sqlite_events(engine: AsyncEngine, busy_timeout: float) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see `begin`
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def begin(connection: Connection) -> None:
        flavour = connection.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {flavour}")
