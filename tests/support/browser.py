"""A real browser for the end-to-end tests: Debian's Chromium driven by Playwright.

Playwright's own browser builds are never downloaded (this machine cannot fetch them): the
``chromium`` package's binary is launched through ``executable_path``, headless and, since tests
run as root, with ``--no-sandbox``. ``.ci/run`` installs the package where it is missing.

Fixtures:

- ``chromium`` (session): the browser binary, ``chromium`` on PATH or ``/usr/bin/chromium``;
- ``browser``: a launched browser for one test, closed afterwards;
- ``web_dist``: the built web UI (``web/dist``, made by ``npm run build`` in ``web/``, which
  ``scripts/check`` runs; ``XORCA_TEST_WEB_DIST`` names another build).

Without the binary or the build the tests that need them are skipped, saying why, except under
``CI=true`` where they fail: CI must never pass by testing nothing. The one exception is a tree
without any ``web/package.json``, where there is no UI to build and its tests skip everywhere.

`ConsoleLog` collects what a page says on its console (errors and warnings) and the exceptions it
throws; tests assert it stays empty.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    async_playwright,
)

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
FALLBACK = Path("/usr/bin/chromium")
DIST_ENV = "XORCA_TEST_WEB_DIST"
#: Chromium refuses to run as root with its sandbox on (tests and CI run as root)
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(reason: str, *, required: bool = True) -> NoReturn:
    """Skip the test for ``reason``, or fail it under CI when the thing is ``required``."""
    if required and under_ci():
        pytest.fail(reason)  # CI must never pass by testing nothing
    pytest.skip(reason)


def find_chromium() -> Path | None:
    """Debian's Chromium: the one on PATH, else ``/usr/bin/chromium``; None when neither."""
    on_path = shutil.which("chromium")
    if on_path:
        return Path(on_path)
    return FALLBACK if FALLBACK.is_file() and os.access(FALLBACK, os.X_OK) else None


@pytest.fixture(scope="session")
def chromium() -> Path:
    found = find_chromium()
    if found is None:
        missing("no chromium on PATH nor at /usr/bin/chromium (apt-get install chromium)")
    return found


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Chromium launched for this test (one launch takes about half a second), closed after."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=LAUNCH_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The built UI, ``web/dist`` (or ``XORCA_TEST_WEB_DIST``: one built elsewhere); it must
    hold ``index.html``."""
    dist = Path(os.environ.get(DIST_ENV) or WEB / "dist")
    if not (dist / "index.html").is_file():
        there_is_a_ui = (WEB / "package.json").is_file()
        missing(f"no {dist}/index.html: run npm run build in web/", required=there_is_a_ui)
    return dist


@dataclass
class ConsoleLog:
    """Errors and warnings a page logged, and the exceptions it threw, since `watch`."""

    entries: list[str] = field(default_factory=list)
    kinds: tuple[str, ...] = ("error", "warning")

    def watch(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in self.kinds:
            where = message.location.get("url", "")
            self.entries.append(f"console.{message.type}: {message.text} ({where})")

    def _page_error(self, error: Error) -> None:
        self.entries.append(f"uncaught: {error.name}: {error.message}")

    def problems(self, ignore: Iterable[str] = ()) -> list[str]:
        """What was logged, less the entries containing any of ``ignore``."""
        skipped = tuple(ignore)
        return [e for e in self.entries if not any(text in e for text in skipped)]

    def assert_clean(self, ignore: Iterable[str] = ()) -> None:
        problems = self.problems(ignore)
        assert not problems, "the page logged:\n" + "\n".join(problems)


def console_log(page: Page) -> ConsoleLog:
    """Start collecting ``page``'s console errors and warnings (and its uncaught exceptions)."""
    log = ConsoleLog()
    log.watch(page)
    return log


_COUNT_COLOURS = """async ([png, limit]) => {
    const image = new Image();
    image.src = "data:image/png;base64," + png;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.width;
    canvas.height = image.height;
    const g = canvas.getContext("2d");
    g.drawImage(image, 0, 0);
    const data = g.getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length && seen.size < limit; i += 4) {
        seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    }
    return seen.size;
}"""


async def count_colours(context: BrowserContext, png: bytes, limit: int = 64) -> int:
    """How many colours a PNG (a screenshot) has, up to ``limit``: 1 for a blank one. Decoded by
    the browser itself, in a blank page of ``context`` (no image library needed here)."""
    page = await context.new_page()
    try:
        colours: int = await page.evaluate(_COUNT_COLOURS, [base64.b64encode(png).decode(), limit])
    finally:
        await page.close()
    return colours
