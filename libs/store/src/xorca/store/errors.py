"""The one exception tree of the store; every driver error is translated into it, ``from`` the
original.

    StoreError                  the root (also: a query the database refused for another reason)
     ├── StoreUnavailable       cannot connect, connection lost, server shutting down, database
     │                          locked for too long: pause and retry
     ├── PositionConflict       a commit whose ``expected`` position is not the stored one:
     │                          ``consumer``, ``expected``, ``actual``; nothing was written
     ├── SchemaOutdated         the database is not at the migrations' head: ``current``, ``head``
     └── StoreCorrupt           a stored row that does not decode: ``table``, ``key``, ``reason``

`translated` is the context manager every public method runs its I/O under.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

__all__ = [
    "PositionConflict",
    "SchemaOutdated",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "translate",
    "translated",
]


class StoreError(Exception):
    """Root of every error raised by ``xorca.store``."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or used right now; the same call may work later."""


class PositionConflict(StoreError):
    """The consumer's stored position is not the one the writer read: another writer, or a
    replay, got there first. The commit wrote nothing."""

    def __init__(self, consumer: str, expected: int, actual: int) -> None:
        self.consumer = consumer
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"position of {consumer!r} is {actual}, not the expected {expected}: nothing written"
        )


class SchemaOutdated(StoreError):
    """The database schema is not at the head of the store's migrations (``current`` is None
    for a database the store never migrated)."""

    def __init__(self, current: str | None, head: str) -> None:
        self.current = current
        self.head = head
        found = "no schema" if current is None else f"schema revision {current}"
        super().__init__(f"{found}, expected {head}: run the migrations (open with migrate=True)")


class StoreCorrupt(StoreError):
    """A stored row whose content does not decode (``table``, its ``key``, the ``reason``)."""

    def __init__(self, table: str, key: tuple[str, ...], reason: str) -> None:
        self.table = table
        self.key = key
        self.reason = reason
        super().__init__(f"{table} row {key!r} does not decode: {reason}")


# PostgreSQL SQLSTATEs worth a pause and a retry: connection exceptions (class 08), insufficient
# resources (53: too many connections, disk full), the server shutting down or starting (57P0x),
# and transactions the server rolled back on purpose (serialization failure, deadlock).
_RETRYABLE_CLASSES = ("08", "53")
_RETRYABLE_STATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01", "55P03"})
# SQLite primary result codes of the same kind: busy or locked (past the busy timeout), out of
# memory, read-only, I/O error, disk full, cannot open the file, lock protocol error. Its other
# "operational" errors (no such table, syntax) are not worth a retry.
_SQLITE_RETRYABLE = frozenset({5, 6, 7, 8, 10, 13, 14, 15})


def _sqlstate(error: BaseException | None) -> str | None:
    state = getattr(error, "sqlstate", None)
    return state if isinstance(state, str) else None


def _retryable_sqlstate(state: str | None) -> bool:
    return state is not None and (state[:2] in _RETRYABLE_CLASSES or state in _RETRYABLE_STATES)


def _retryable_sqlite(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_RETRYABLE
    # no code (an error raised by the sqlite3 module itself): a closed or unusable connection
    return isinstance(error, sqlite3.OperationalError | sqlite3.InterfaceError)


def translate(error: Exception) -> StoreError | None:
    """The store error that stands for a driver error, or None when ``error`` is none of the
    driver's (a caller's bug stays what it is)."""
    if isinstance(error, StoreError):
        return error
    if isinstance(error, sa_exc.DBAPIError):
        original = error.orig
        reason = f"{type(original).__name__}: {original}"
        if isinstance(original, sqlite3.Error):
            retry = error.connection_invalidated or _retryable_sqlite(original)
            return StoreUnavailable(reason) if retry else StoreError(reason)
        if (
            error.connection_invalidated
            or isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
            or isinstance(original, OSError)
            or _retryable_sqlstate(_sqlstate(original))
            or (original is not None and _retryable_sqlstate(_sqlstate(original.__cause__)))
        ):
            return StoreUnavailable(reason)
        return StoreError(reason)
    if type(error).__module__.startswith("asyncpg"):
        # one that SQLAlchemy did not wrap (asyncpg's classes, known by their module so that
        # this file needs no import of the untyped driver): its SQLSTATE says which it is
        retry = _retryable_sqlstate(_sqlstate(error)) or "InterfaceError" in {
            cls.__name__ for cls in type(error).__mro__
        }
        return (StoreUnavailable if retry else StoreError)(f"{type(error).__name__}: {error}")
    if isinstance(
        error,
        OSError  # includes ConnectionError and TimeoutError (a connect that timed out)
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError,  # no pooled connection free in time
    ):
        return StoreUnavailable(f"{type(error).__name__}: {error}")
    if isinstance(error, sqlite3.Error) and _retryable_sqlite(error):
        return StoreUnavailable(f"{type(error).__name__}: {error}")
    if isinstance(error, sqlite3.Error | sa_exc.SQLAlchemyError):
        return StoreError(f"{type(error).__name__}: {error}")
    return None


@contextmanager
def translated() -> Iterator[None]:
    """Run a block that talks to the database, turning driver errors into store errors."""
    try:
        yield
    except Exception as e:  # only Exception: cancellation must pass through untouched
        store_error = translate(e)
        if store_error is None or store_error is e:
            raise
        raise store_error from e
