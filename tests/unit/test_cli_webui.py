"""When ``xorca demo`` builds the web UI (cli/webui.py): dist missing or older than a source,
node_modules missing or older than the lock; and what it says when it cannot build."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xorca.cli.webui import ensure_built, install_needed, stale

OLD, NEW = 1_000_000_000, 1_000_000_100


def touch(path: Path, when: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.utime(path, (when, when))
    return path


@pytest.fixture
def web(tmp_path: Path) -> Path:
    """A web/ built after its sources were last changed, its dependencies installed."""
    web = tmp_path / "web"
    for source in ("package.json", "package-lock.json", "index.html", "vite.config.ts",
                   "src/main.ts", "src/views/VmView.vue"):  # fmt: skip
        touch(web / source, OLD)
    touch(web / "node_modules" / ".package-lock.json", OLD + 1)
    touch(web / "dist" / "index.html", OLD + 2)
    return web


def test_a_build_newer_than_every_source_is_fresh(web: Path) -> None:
    assert stale(web) is None
    assert install_needed(web) is None


def test_a_missing_build_is_stale(web: Path) -> None:
    (web / "dist" / "index.html").unlink()
    assert stale(web) == f"{web / 'dist'} is missing"


@pytest.mark.parametrize(
    "source", ["src/views/VmView.vue", "index.html", "tsconfig.json", "public/icon.svg"]
)
def test_a_source_newer_than_the_build_makes_it_stale(web: Path, source: str) -> None:
    touch(web / source, NEW)
    assert stale(web) == f"{source} is newer than {web / 'dist'}"


def test_what_the_build_does_not_read_leaves_it_fresh(web: Path) -> None:
    for other in ("tests/store.test.ts", "node_modules/vite/index.js", "scripts/x.py"):
        touch(web / other, NEW)
    assert stale(web) is None


def test_it_says_how_many_sources_changed(web: Path) -> None:
    touch(web / "src" / "main.ts", NEW)
    touch(web / "package.json", NEW + 1)
    assert stale(web) == f"package.json (and 1 more) is newer than {web / 'dist'}"


def test_dependencies_are_installed_when_missing_or_older_than_the_lock(web: Path) -> None:
    touch(web / "package-lock.json", NEW)
    assert install_needed(web) == "package-lock.json is newer than node_modules"
    (web / "node_modules" / ".package-lock.json").unlink()
    os.utime(web / "node_modules", (OLD, OLD))
    assert install_needed(web) == "package-lock.json is newer than node_modules"
    os.utime(web / "node_modules", (NEW + 1, NEW + 1))
    assert install_needed(web) is None
    (web / "node_modules").rmdir()
    assert install_needed(web) == "node_modules is missing"


async def test_without_npm_it_says_why_and_that_nothing_is_served(
    web: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    (web / "dist" / "index.html").unlink()
    said: list[str] = []
    assert await ensure_built(web, said.append) is False
    assert said[0].startswith("building the web UI (")
    assert "npm is not on PATH" in said[1] and "/ says how to build the UI" in said[1]


async def test_without_npm_a_previous_build_is_served_as_it_is(
    web: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    touch(web / "src" / "main.ts", NEW)
    said: list[str] = []
    assert await ensure_built(web, said.append) is True
    assert "serving the previous build" in said[-1]


async def test_a_fresh_build_is_left_alone_and_nothing_is_said(web: Path) -> None:
    said: list[str] = []
    assert await ensure_built(web, said.append) is True
    assert said == []
