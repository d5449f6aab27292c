"""A new user's first run: ``xorca demo --json`` over a ``web/`` as a fresh clone has it (sources
and lock, no ``node_modules``, no ``dist``), then Debian's Chromium at what the demo printed.

The demo is pointed at a copy of ``web/`` (``XORCA_WEB_SOURCE``) so that its real path runs,
``dist`` missing → ``npm ci`` → ``npm run build`` → announced, without touching the checkout's
own build. One demo serves every assertion about it (the build costs 20-60 s here). Another,
with no ``npm`` on its ``PATH``, must say why there is no UI and still serve the API, with ``/``
saying how to build it.

In the browser every request any page makes is recorded: none may leave 127.0.0.1 (the explorer
used to load Swagger UI from a CDN: a blank page offline).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Request, expect

from tests.support.browser import WEB, ConsoleLog, missing
from tests.support.cli import XORCA, read_line, stop
from xorca.contracts.deltas import OBJECT_TYPES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

SCREENSHOTS = Path(__file__).parent / "screenshots"
#: an npm ci and a build on two shared cores, then the demo itself
READY = 300
#: what a fresh clone of web/ does not have
NOT_IN_A_CLONE = {"node_modules", "dist"}


@dataclass
class Demo:
    process: subprocess.Popen[str]
    line: dict[str, Any]
    stderr: Path
    web: Path

    @property
    def url(self) -> str:
        return str(self.line["api_url"])

    def said(self) -> str:
        return self.stderr.read_text()


def fresh_web(target: Path) -> Path:
    """A copy of ``web/`` without ``node_modules`` and ``dist``, modification times kept."""

    def left_out(folder: str, names: list[str]) -> set[str]:
        return NOT_IN_A_CLONE & set(names) if Path(folder) == WEB else set()

    shutil.copytree(WEB, target, ignore=left_out)
    return target


@contextlib.contextmanager
def demo_over(web: Path, tmp: Path, **env: str) -> Iterator[Demo]:
    """``xorca demo --json`` building and serving ``web``, on free ports, until it is stopped
    (it must stop cleanly on SIGINT). Its stderr goes to a file: a pipe nobody reads could
    fill and stall it."""
    environment = {k: v for k, v in os.environ.items() if k != "XORCA_WEB_ROOT"}
    environment.update({"XORCA_WEB_SOURCE": str(web), "XORCA_API_PORT": "0", **env})
    stderr = tmp / "demo-stderr.txt"
    with stderr.open("w") as err:
        process = subprocess.Popen(
            [XORCA, "demo", "--json"],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment,
        )
    try:
        try:
            line = json.loads(read_line(process, READY))
        except AssertionError as e:
            raise AssertionError(f"{e}\ndemo stderr:\n{stderr.read_text()}") from None
        yield Demo(process, line, stderr, web)
        assert stop(process) == 0, stderr.read_text()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="module")
def built_on_first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo over a fresh copy of ``web/``: it installs, builds, then says it is ready."""
    if not (WEB / "package.json").is_file():
        missing("no web/package.json: no web UI in this tree", required=False)
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not on PATH (apt-get install nodejs npm)")
    tmp = tmp_path_factory.mktemp("first-run")
    web = fresh_web(tmp / "web")
    with demo_over(web, tmp) as demo:
        yield demo
    shutil.rmtree(web / "node_modules", ignore_errors=True)  # 90 MB


def left_loopback(requests: list[str]) -> list[str]:
    """The requests that went anywhere but 127.0.0.1 (``data:`` and ``blob:`` go nowhere)."""
    away = []
    for url in requests:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):
            continue
        if parts.scheme not in ("http", "https", "ws", "wss") or parts.hostname != "127.0.0.1":
            away.append(url)
    return away


def test_without_npm_the_demo_says_why_and_still_serves_the_api(tmp_path: Path) -> None:
    if not (WEB / "package.json").is_file():
        missing("no web/package.json: no web UI in this tree", required=False)
    web = fresh_web(tmp_path / "web")
    nothing = tmp_path / "bin"  # a PATH with no node and no npm on it
    nothing.mkdir()
    with demo_over(web, tmp_path, PATH=str(nothing)) as demo:
        said = demo.said()
        assert "building the web UI" in said and "dist is missing" in said
        assert "could not be built: npm is not on PATH" in said, said
        assert "apt-get install nodejs npm" in said
        page = httpx.get(demo.url + "/")
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert "The web UI is not built" in page.text
        assert "npm ci" in page.text and "npm run build" in page.text
        assert httpx.get(demo.url + "/api/v1").json()["title"] == "xorca API"
        auth = {"Authorization": f"Bearer {demo.line['token']}"}
        assert httpx.get(demo.url + "/api/v1/pools", headers=auth).status_code == 200
        assert not (web / "dist").exists()


def test_the_demo_builds_the_missing_ui_before_it_says_ready(built_on_first_run: Demo) -> None:
    said = built_on_first_run.said()
    assert "building the web UI" in said and "dist is missing" in said, said
    assert "npm ci" in said  # node_modules was missing too
    assert "web UI built in" in said, said
    assert (built_on_first_run.web / "dist" / "index.html").is_file()
    page = httpx.get(built_on_first_run.url + "/")
    assert page.status_code == 200
    assert page.text == (built_on_first_run.web / "dist" / "index.html").read_text()


def test_api_v1_is_an_index_of_the_api(built_on_first_run: Demo) -> None:
    answer = httpx.get(built_on_first_run.url + "/api/v1")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    index = answer.json()
    assert {c["name"] for c in index["collections"]} == set(OBJECT_TYPES.values())
    assert index["events"] == "/api/v1/events"
    assert index["docs"] == "/api/v1/docs"
    assert index["version"] == "1.0.0"


async def test_a_browser_gets_the_ui_the_index_and_the_explorer_from_loopback_only(
    browser: Browser, built_on_first_run: Demo
) -> None:
    assert (built_on_first_run.web / "dist" / "index.html").is_file(), built_on_first_run.said()
    base = built_on_first_run.url
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    requests: list[str] = []

    def record(request: Request) -> None:
        requests.append(request.url)

    context.on("request", record)
    log = ConsoleLog()
    page = log.watch(await context.new_page())

    await page.goto(base + "/")
    await page.get_by_test_id("token-input").fill(built_on_first_run.line["token"])
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("dashboard")).to_be_visible()
    await expect(page.get_by_test_id("pool-card")).to_have_count(2, timeout=20_000)

    await page.goto(base + "/api/v1")
    await expect(page.get_by_test_id("api-index")).to_contain_text("xorca API")
    await expect(page.get_by_role("link", name="/api/v1/vms", exact=True)).to_be_visible()
    await page.screenshot(path=SCREENSHOTS / "api-index-desktop.png")

    await page.goto(base + "/api/v1/docs")
    operations = page.locator(".opblock")
    await expect(operations.first).to_be_visible(timeout=20_000)
    events = page.locator(".opblock-summary-path", has_text="/api/v1/events")
    await expect(events).to_be_visible()
    schema = httpx.get(base + "/api/v1/openapi.json").json()
    assert await operations.count() == sum(len(ops) for ops in schema["paths"].values())
    await page.screenshot(path=SCREENSHOTS / "api-docs-desktop.png")
    await context.close()

    assert any("/api/v1/docs/assets/swagger-ui-bundle.js" in url for url in requests)
    assert not left_loopback(requests), left_loopback(requests)
    log.assert_clean()
