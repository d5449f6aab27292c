"""`xorca.store.engine`'s URL helpers: the spellings of XORCA_DATABASE_URL, and passwords kept
out of logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from xorca.store import async_url, redacted
from xorca.store.engine import is_memory, sqlite_path


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///state.db", "sqlite+aiosqlite:///state.db"),
        ("sqlite:////var/lib/xorca/state.db", "sqlite+aiosqlite:////var/lib/xorca/state.db"),
        ("sqlite+aiosqlite:///x/y.db", "sqlite+aiosqlite:///x/y.db"),
        ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("postgresql://xorca@db:5432/xorca", "postgresql+asyncpg://xorca@db:5432/xorca"),
        ("postgres://xorca:pw@db/xorca", "postgresql+asyncpg://xorca:pw@db/xorca"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql://u@h/d?sslmode=require", "postgresql+asyncpg://u@h/d?ssl=require"),
    ],
)
def test_async_url(given: str, expected: str) -> None:
    assert async_url(given) == expected


@pytest.mark.parametrize("given", ["mysql://u@h/d", "http://example", "not a url"])
def test_async_url_refuses_other_databases(given: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        async_url(given)


def test_redacted_hides_the_password() -> None:
    shown = redacted("postgresql://xorca:s3cr%40t@db:5432/xorca")
    assert "s3cr" not in shown
    assert shown == "postgresql://xorca:***@db:5432/xorca"
    assert redacted("postgresql://xorca@db/xorca") == "postgresql://xorca@db/xorca"
    assert redacted("sqlite:///:memory:") == "sqlite:///:memory:"
    assert "hunter2" not in redacted("weird://user:hunter2@@@")
    assert "hunter2" not in redacted("user:hunter2 no scheme")


def test_memory_and_file() -> None:
    assert is_memory("sqlite+aiosqlite:///:memory:")
    assert is_memory("sqlite+aiosqlite://")
    assert not is_memory("sqlite+aiosqlite:///x.db")
    assert not is_memory("postgresql+asyncpg://u@h/d")
    assert sqlite_path("sqlite+aiosqlite:////var/lib/x.db") == Path("/var/lib/x.db")
    assert sqlite_path("sqlite+aiosqlite:///rel/x.db") == Path("rel/x.db")
    assert sqlite_path("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_path("sqlite+aiosqlite:///file:x.db?mode=ro&uri=true") is None
    assert sqlite_path("postgresql+asyncpg://u@h/d") is None
