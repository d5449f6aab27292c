"""The web UI as a person uses it: Debian's Chromium (Playwright) against the built UI
(``web/dist``) served by the real gateway, over two simulated pools, a collector, the projection
and the gateway (tests/support/stack.py), all over real sockets.

What the issue's "Done when" asks: log in with a token and see both pools synced; start a halted VM
from its page and watch it run without reloading, in a second browser as well; a refused action
says XAPI's error in words; a running VM's console connects and shows its screen; the map draws;
every page is photographed phone-sized and desktop-sized (``tests/e2e/screenshots/``, for people
to look at); and no page logs an error or a warning on its console.

The UI's hooks are its ``data-testid`` attributes (the contract the UI is built to); routes are
hash-based (``#/login``, ``#/``, ``#/inventory``, ``#/vms/<id>``, ``#/tasks``, ``#/map``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.support.browser import ConsoleLog, count_colours
from tests.support.nats import NatsServer
from tests.support.simthread import simulated
from tests.support.stack import Stack, running_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

SCREENSHOTS = Path(__file__).parent / "screenshots"
VMS_PER_POOL = 8
#: how long a change may take to show: sim → collector → projection → gateway → SSE → page
LIVE = 20_000
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1440, "height": 900}
#: what Chromium itself logs when an API call answers with an error status the test provoked
#: (the page cannot silence it; the page's own handling of it is what the test checks)
REFUSED = "the server responded with a status of 409"
UNAUTHORIZED = "the server responded with a status of 401"


@pytest.fixture
async def stack(
    web_dist: Path, nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> AsyncIterator[Stack]:
    """Two simulated pools, the whole pipeline, and the gateway serving the built UI."""
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with simulated(pools=2, vms=VMS_PER_POOL) as sim:
        async with running_stack(
            nats_server, js, sim, store_url, pools=2, web_root=web_dist
        ) as running:
            yield running


class Session:
    """One person's browser (a context of its own: its own localStorage), and what its pages
    logged on their consoles."""

    def __init__(self, context: BrowserContext, stack: Stack) -> None:
        self.context = context
        self.stack = stack
        self.log = ConsoleLog()

    async def page(self) -> Page:
        return self.log.watch(await self.context.new_page())

    async def open(self, route: str, page: Page | None = None) -> Page:
        page = page or await self.page()
        await page.goto(f"{self.stack.gateway.url}/#{route}")
        return page

    async def logged_in(self, page: Page | None = None) -> Page:
        """A page logged in through the login form, on the dashboard."""
        page = await self.open("/login", page)
        await page.get_by_test_id("token-input").fill(self.stack.token)
        await page.get_by_test_id("login-submit").click()
        await expect(page.get_by_test_id("dashboard")).to_be_visible()
        return page


async def session(browser: Browser, stack: Stack, **options: Any) -> Session:
    return Session(await browser.new_context(**options), stack)


async def vms(stack: Stack, power_state: str | None = None) -> list[dict[str, Any]]:
    """The guest VMs (in ``power_state``), as the API lists them."""
    query = {"filter": f"power_state:{power_state}"} if power_state else {}
    async with stack.client() as client:
        answer = await client.get("/vms", params=query)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    assert items, f"no {power_state or ''} VM in the simulated pools"
    return items


async def power_state(stack: Stack, vm_id: str) -> str:
    async with stack.client() as client:
        answer = await client.get(f"/vms/{vm_id}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["power_state"])


async def fail_calls(stack: Stack, method: str, *error: str) -> None:
    """Make every simulated pool answer ``method`` with XAPI's ``error`` from now on."""
    assert stack.sim.control is not None
    async with httpx.AsyncClient(base_url=stack.sim.control.url) as control:
        for pool in (1, 2):
            answer = await control.post(
                f"/pools/{pool}/fail-calls", json={"method": method, "error": list(error)}
            )
            assert answer.status_code == 200, answer.text


async def run_action(page: Page, name: str) -> None:
    """Click ``action-<name>`` and get through what the UI asks first: a confirmation, or the
    action's arguments (their defaults kept)."""
    await page.get_by_test_id(f"action-{name}").click()
    asked = (
        page.get_by_test_id("confirm-dialog")
        .or_(page.get_by_test_id("action-dialog"))
        .or_(page.get_by_test_id("task-progress"))
        .or_(page.get_by_test_id("action-error"))
    )
    with contextlib.suppress(PlaywrightTimeout):  # a task may come and go unseen: the caller
        await asked.first.wait_for(state="visible", timeout=5000)  # checks what it did
    if await page.get_by_test_id("confirm-dialog").is_visible():
        await page.get_by_test_id("confirm-yes").click()
    elif await page.get_by_test_id("action-dialog").is_visible():
        await page.get_by_test_id("action-submit").click()


def running_text() -> re.Pattern[str]:
    return re.compile(r"\brunning\b", re.IGNORECASE)


async def not_blank(page: Page, element: Locator) -> int:
    """How many colours a screenshot of ``element`` has, once it has a second one (1: blank);
    fails after 10 s without."""

    async def colours() -> int:
        found = await count_colours(page.context, await element.screenshot())
        assert found > 1, f"{found} colour"
        return found

    return await eventually(colours, what="a second colour", timeout=10, interval=0.5)


# ------------------------------------------------------------------------------------- tests


async def test_a_token_logs_in_to_a_dashboard_of_both_pools_synced(
    browser: Browser, stack: Stack
) -> None:
    person = await session(browser, stack)
    page = await person.open("/login")
    await expect(page.get_by_test_id("token-input")).to_be_visible()
    # a wrong token is refused, in words, and the login form stays
    await page.get_by_test_id("token-input").fill("xorca_not-a-token")
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("login-error")).to_be_visible()
    assert (await page.get_by_test_id("login-error").inner_text()).strip()
    await expect(page.get_by_test_id("dashboard")).to_have_count(0)

    await person.logged_in(page)
    cards = page.get_by_test_id("pool-card")
    await expect(cards).to_have_count(2, timeout=LIVE)
    for card in await cards.all():
        await expect(card.get_by_test_id("pool-state")).to_have_text(
            re.compile("synced", re.IGNORECASE), timeout=LIVE
        )
        await expect(card).to_have_attribute("data-stale", "false")
    ids = [await card.get_attribute("data-pool-id") for card in await cards.all()]
    assert all(ids) and len(set(ids)) == 2, ids
    await expect(page.get_by_test_id("connection-state")).to_have_attribute(
        "data-state", "live", timeout=LIVE
    )
    # the token is remembered: a reload stays logged in
    await page.reload()
    await expect(page.get_by_test_id("dashboard")).to_be_visible()
    await expect(page.get_by_test_id("pool-card")).to_have_count(2, timeout=LIVE)
    person.log.assert_clean(ignore=[UNAUTHORIZED])
    await person.context.close()


async def test_a_vm_started_from_its_page_runs_live_in_every_open_browser(
    browser: Browser, stack: Stack
) -> None:
    halted = (await vms(stack, "Halted"))[0]
    first, second = await session(browser, stack), await session(browser, stack)
    page = await first.logged_in()
    await first.open(f"/vms/{halted['id']}", page)
    vm_page = page.get_by_test_id("vm-page")
    await expect(vm_page).to_have_attribute("data-id", halted["id"])
    state = vm_page.get_by_test_id("vm-power-state")
    await expect(state).to_have_text(re.compile("halted", re.IGNORECASE))

    other = await second.logged_in()
    await second.open("/inventory", other)
    row = other.locator(f'[data-testid="vm-row"][data-id="{halted["id"]}"]')
    await expect(row.get_by_test_id("vm-power-state")).to_have_text(
        re.compile("halted", re.IGNORECASE), timeout=LIVE
    )

    # a reload would lose this: the change must come to the open page
    await page.evaluate("window.__notReloaded = true")
    await other.evaluate("window.__notReloaded = true")
    await run_action(page, "start")
    await expect(state).to_have_text(running_text(), timeout=LIVE)
    await expect(row.get_by_test_id("vm-power-state")).to_have_text(running_text(), timeout=LIVE)
    assert await page.evaluate("window.__notReloaded === true")
    assert await other.evaluate("window.__notReloaded === true")
    assert await power_state(stack, halted["id"]) == "Running"
    first.log.assert_clean()
    second.log.assert_clean()
    await first.context.close()
    await second.context.close()


async def test_a_refused_action_shows_the_xapi_error_in_words(
    browser: Browser, stack: Stack
) -> None:
    running = (await vms(stack, "Running"))[0]
    person = await session(browser, stack, viewport=DESKTOP)
    page = await person.logged_in()
    await person.open(f"/vms/{running['id']}", page)
    vm_page = page.get_by_test_id("vm-page")
    await expect(vm_page.get_by_test_id("vm-power-state")).to_have_text(running_text())
    start = page.get_by_test_id("action-start")
    await expect(start).to_be_visible()
    if await start.is_enabled():
        expected = running_text()
        # XAPI itself refuses: VM_BAD_POWER_STATE [vm, Halted, Running]
        await run_action(page, "start")
    else:
        # The UI knows that start needs a halted VM. The pool may still refuse what the UI
        # allows, when someone else started the VM in between: XAPI's answer in that race is
        # made to happen on a halted VM's page.
        halted = (await vms(stack, "Halted"))[0]
        expected = re.compile("halted", re.IGNORECASE)
        await fail_calls(
            stack, "VM.start", "VM_BAD_POWER_STATE", "OpaqueRef:x", "Halted", "Running"
        )
        await person.open(f"/vms/{halted['id']}", page)
        await expect(vm_page).to_have_attribute("data-id", halted["id"])
        await expect(vm_page.get_by_test_id("vm-power-state")).to_have_text(expected)
        await run_action(page, "start")
    error = page.get_by_test_id("action-error")
    await expect(error).to_be_visible(timeout=LIVE)
    assert await error.get_attribute("role") == "alert"
    text = (await error.inner_text()).strip()
    assert re.search(r"running|halted|power state", text, re.IGNORECASE), text
    assert "OpaqueRef" not in text, f"a raw ref shown to a person: {text}"
    assert " " in text, f"not a sentence: {text}"
    await expect(vm_page.get_by_test_id("vm-power-state")).to_have_text(expected)
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "action-error-desktop.png")
    person.log.assert_clean(ignore=[REFUSED])
    await person.context.close()


async def test_the_console_of_a_running_vm_connects_and_shows_its_screen(
    browser: Browser, stack: Stack
) -> None:
    running = (await vms(stack, "Running"))[0]
    person = await session(browser, stack, viewport=DESKTOP)
    page = await person.logged_in()
    await person.open(f"/vms/{running['id']}", page)
    console = page.get_by_test_id("vm-console")
    await expect(console).to_be_visible(timeout=LIVE)
    await expect(console.get_by_test_id("console-status")).to_have_attribute(
        "data-state", "connected", timeout=LIVE
    )
    canvas = console.locator("canvas").first
    await expect(canvas).to_be_visible()
    colours = await not_blank(page, canvas)
    assert colours > 1, "the console's canvas stayed blank"
    SCREENSHOTS.mkdir(exist_ok=True)
    await canvas.screenshot(path=SCREENSHOTS / "console-desktop.png")
    person.log.assert_clean()
    await person.context.close()


async def test_the_map_draws_every_pool_host_and_vm(browser: Browser, stack: Stack) -> None:
    person = await session(browser, stack, viewport=DESKTOP)
    page = await person.logged_in()
    await person.open("/map", page)
    drawing = page.get_by_test_id("map")
    await expect(drawing).to_be_visible(timeout=LIVE)
    await expect(drawing).to_have_attribute("data-nodes", re.compile(r"^[1-9]\d*$"), timeout=LIVE)
    nodes = int(await drawing.get_attribute("data-nodes") or 0)
    vm_count = len(await vms(stack))
    assert nodes > vm_count, f"{nodes} nodes for {vm_count} VMs, their hosts and pools"
    canvas = drawing.locator("canvas").first
    await expect(canvas).to_be_visible()
    assert await not_blank(page, canvas) > 1, "the map's canvas is blank"
    person.log.assert_clean()
    await person.context.close()


@pytest.mark.parametrize(
    ("size", "options"),
    [
        ("phone", {"viewport": PHONE, "is_mobile": True, "has_touch": True}),
        ("desktop", {"viewport": DESKTOP}),
    ],
)
async def test_every_page_renders_cleanly_and_is_photographed(
    browser: Browser, stack: Stack, size: str, options: dict[str, Any]
) -> None:
    vm = (await vms(stack, "Running"))[0]
    person = await session(browser, stack, **options)
    page = await person.logged_in()
    SCREENSHOTS.mkdir(exist_ok=True)

    async def shot(name: str) -> None:
        await page.screenshot(path=SCREENSHOTS / f"{name}-{size}.png", full_page=True)

    await expect(page.get_by_test_id("pool-card")).to_have_count(2, timeout=LIVE)
    await expect(page.get_by_test_id("connection-state")).to_have_attribute(
        "data-state", "live", timeout=LIVE
    )
    await shot("dashboard")

    await person.open("/inventory", page)
    await expect(page.get_by_test_id("inventory")).to_be_visible()
    await expect(page.get_by_test_id("vm-row").first).to_be_visible(timeout=LIVE)
    await shot("inventory")

    await person.open(f"/vms/{vm['id']}", page)
    await expect(page.get_by_test_id("vm-page")).to_have_attribute("data-id", vm["id"])
    await expect(page.get_by_test_id("vm-page").get_by_test_id("vm-power-state")).to_have_text(
        running_text()
    )
    await shot("vm")

    await person.open("/tasks", page)
    await expect(page.get_by_test_id("tasks-page")).to_be_visible()
    await shot("tasks")

    await person.open("/map", page)
    await expect(page.get_by_test_id("map")).to_have_attribute(
        "data-nodes", re.compile(r"^[1-9]\d*$"), timeout=LIVE
    )
    await shot("map")
    person.log.assert_clean()
    await person.context.close()


async def test_the_header_navigates_between_the_pages(browser: Browser, stack: Stack) -> None:
    person = await session(browser, stack, viewport=DESKTOP)
    page = await person.logged_in()
    for link, landing in [
        ("nav-inventory", "inventory"),
        ("nav-tasks", "tasks-page"),
        ("nav-map", "map"),
        ("nav-dashboard", "dashboard"),
    ]:
        await page.get_by_test_id(link).click()
        await expect(page.get_by_test_id(landing)).to_be_visible()
    person.log.assert_clean()
    await person.context.close()
