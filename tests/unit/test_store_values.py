"""The store's pure parts: the error translation, a commit's own checks, UTC datetimes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from xorca.store import (
    Commit,
    ObjectRow,
    PositionConflict,
    SchemaOutdated,
    StoreCorrupt,
    StoreError,
    StoreUnavailable,
)
from xorca.store.engine import json_dumps
from xorca.store.errors import translate, translated
from xorca.store.models import UtcDateTime

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def sqlite_error(code: int, message: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # as the sqlite3 module sets it
    return error


class PgError(Exception):
    """Stands for an asyncpg error wrapped by SQLAlchemy: what matters is its ``sqlstate``."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(111, "Connection refused"), StoreUnavailable),
        (TimeoutError(), StoreUnavailable),
        (sa_exc.TimeoutError("pool exhausted"), StoreUnavailable),
        (sqlite_error(5, "database is locked"), StoreUnavailable),
        (sqlite_error(14, "unable to open database file"), StoreUnavailable),
        (sqlite_error(1, "no such table: objects"), StoreError),
        (sa_exc.OperationalError("SELECT 1", {}, sqlite_error(5, "locked")), StoreUnavailable),
        (sa_exc.OperationalError("SELECT 1", {}, sqlite_error(1, "syntax")), StoreError),
        (sa_exc.DBAPIError("SELECT 1", {}, PgError("57P01")), StoreUnavailable),
        (sa_exc.DBAPIError("SELECT 1", {}, PgError("08006")), StoreUnavailable),
        (sa_exc.DBAPIError("SELECT 1", {}, PgError("40001")), StoreUnavailable),
        (sa_exc.DBAPIError("SELECT 1", {}, PgError("23505")), StoreError),
        (sa_exc.DBAPIError("SELECT 1", {}, PgError("23505"), connection_invalidated=True),
         StoreUnavailable),
        (sa_exc.InterfaceError("SELECT 1", {}, PgError("")), StoreUnavailable),
        (sa_exc.IntegrityError("INSERT", {}, PgError("23505")), StoreError),
    ],
)  # fmt: skip
def test_translate(error: Exception, kind: type[StoreError]) -> None:
    translated_error = translate(error)
    assert type(translated_error) is kind


def test_translate_leaves_other_errors_alone() -> None:
    assert translate(ValueError("a caller's bug")) is None
    conflict = PositionConflict("projection", 1, 2)
    assert translate(conflict) is conflict
    with pytest.raises(ValueError, match="passes through"), translated():
        raise ValueError("passes through")
    with pytest.raises(StoreUnavailable) as caught, translated():
        raise ConnectionResetError(104, "reset")
    assert isinstance(caught.value.__cause__, ConnectionResetError)


def test_errors_carry_their_fields() -> None:
    conflict = PositionConflict("projection", 3, 5)
    assert (conflict.consumer, conflict.expected, conflict.actual) == ("projection", 3, 5)
    assert "nothing written" in str(conflict)
    outdated = SchemaOutdated(None, "0001")
    assert (outdated.current, outdated.head) == (None, "0001")
    assert "no schema" in str(outdated)
    corrupt = StoreCorrupt("objects", ("vm", "a"), "bad")
    assert corrupt.key == ("vm", "a") and "vm" in str(corrupt)


def test_commit_check() -> None:
    live = ObjectRow("vm", "a", None, 1, False, NOW, {})
    Commit("projection", 0, 1, objects=[live]).check()
    Commit("projection", 3, 3).check()
    with pytest.raises(ValueError, match="moves back"):
        Commit("projection", 3, 2).check()
    with pytest.raises(ValueError, match="negative"):
        Commit("projection", -1, 2).check()
    naive = ObjectRow("vm", "a", None, 1, False, NOW.replace(tzinfo=None), {})
    with pytest.raises(ValueError, match="naive"):
        Commit("projection", 0, 1, objects=[naive]).check()
    with pytest.raises(ValueError, match="JSON object"):
        Commit(
            "projection", 0, 1, objects=[ObjectRow("vm", "a", None, 1, False, NOW, None)]
        ).check()
    Commit("projection", 0, 1, objects=[ObjectRow("vm", "a", None, 1, True, NOW, None)]).check()


def test_utc_datetime() -> None:
    column = UtcDateTime()
    plus_two = datetime(2026, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    on_sqlite = column.process_bind_param(plus_two, sqlite.dialect())
    assert on_sqlite == datetime(2026, 6, 1, 12, 0)  # naive UTC: SQLite has no zones
    on_postgres = column.process_bind_param(plus_two, postgresql.dialect())
    assert on_postgres == plus_two and on_postgres is not None and on_postgres.tzinfo == UTC
    assert column.process_result_value(on_sqlite, sqlite.dialect()) == plus_two
    back = column.process_result_value(plus_two, postgresql.dialect())
    assert back is not None and back.tzinfo == UTC
    assert column.process_bind_param(None, sqlite.dialect()) is None
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 1, 1), sqlite.dialect())


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ({"a": "plain ✓"}, {"a": "plain ✓"}),
        ({"a": "x\x00y"}, {"a": "x\ufffdy"}),
        ({"k\x00": ["\x00"]}, {"k\ufffd": ["\ufffd"]}),
        ({"a": "\\u0000"}, {"a": "\\u0000"}),  # the text backslash-u0000 is not a NUL
        ({"a": "\\\x00"}, {"a": "\\\ufffd"}),
    ],
)
def test_json_without_nul(value: dict[str, object], stored: dict[str, object]) -> None:
    """PostgreSQL's jsonb refuses NUL in strings: both backends store U+FFFD instead."""
    assert orjson.loads(json_dumps(value)) == stored
