"""Web UI benchmark: the built UI (``web/dist``) in Debian's Chromium, over a 10,000-VM pool, with
the whole pipeline behind the gateway that serves it.

    .venv/bin/python bench/bench_web.py [--vms 10000] [--hosts 16] [--loads 5] [--rate 100]
                                        [--seconds 10] [--still 3] [--pages inventory,dashboard,map]
                                        [--dist web/dist] [--quick]

The pipeline is bench_api.py's, every service in a process of its own: the simulator
(`harness.start_sim`), NATS (the wheel's ``nats-server``), ``xorca collector``, ``xorca
projection`` (SQLite, in a temporary directory) and ``xorca api`` with ``XORCA_WEB_ROOT=web/dist``.
Chromium is Debian's (``chromium`` on PATH or ``/usr/bin/chromium``), headless, driven by
Playwright; it shares the machine's two cores with the five services.

- **first render**: ``--loads`` times, a fresh browser context (empty cache) logs in through the
  login form, leaves for ``about:blank``, then loads ``#/inventory``: the time from navigation
  start (``performance.now()`` is 0 there) until the ``vm-list`` holds a ``vm-row``, seen by a
  MutationObserver in the page and by Playwright's ``waitForSelector``; with the page's own
  timings (DOMContentLoaded, load), its API requests (count, bytes, the longest) and, once
  shown, the rows in the DOM, the JS heap and the DOM's size.
- **frames**: on each of ``--pages``, loaded and shown, the time between successive
  ``requestAnimationFrame`` callbacks collected in the page, first for ``--still`` seconds on a
  still pool, then for ``--seconds`` while the simulator changes the pool at ``--rate`` changes
  per second: p50, p95, p99, max and frames over 50 ms (a frame at 60 Hz is 16.7 ms), with the
  events the gateway sent the page and the CPU shares of the services.

Prints a table and writes ``bench/results/web.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from harness import (
    ROOT,
    CpuMeter,
    arguments,
    gateway_metrics,
    nats_with_pool,
    percentiles,
    report,
    set_activity,
    settle,
    simulator,
    start_services,
    table,
)

DIST = ROOT / "web" / "dist"
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1440, "height": 900}
ROW = '[data-testid="vm-list"] [data-testid="vm-row"]'
#: page → (route, what shows that it has rendered)
PAGES = {
    "inventory": ("/inventory", ROW),
    "dashboard": ("/", '[data-testid="pool-card"]'),
    "map": ("/map", '[data-testid="map"][data-nodes]:not([data-nodes="0"])'),
}
SLOW_FRAME_MS = 50.0

#: installed before every document: notes when the first VM row enters the DOM
FIRST_ROW_WATCH = """(() => {
    window.__bench = { firstRow: null };
    const seen = () => {
        if (document.querySelector('[data-testid="vm-list"] [data-testid="vm-row"]')) {
            window.__bench.firstRow = performance.now();
            return true;
        }
        return false;
    };
    const observer = new MutationObserver(() => { if (seen()) observer.disconnect(); });
    observer.observe(document, { childList: true, subtree: true });
})();"""

FRAME_START = """() => {
    const deltas = [];
    let last = null;
    let on = true;
    const tick = (t) => {
        if (last !== null) deltas.push(t - last);
        last = t;
        if (on) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    window.__frames = { stop: () => { on = false; return deltas; } };
}"""

PAGE_TIMINGS = """() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const api = performance.getEntriesByType("resource").filter((r) => r.name.includes("/api/"));
    const longest = api.reduce((a, r) => (a && a.duration >= r.duration ? a : r), null);
    return {
        dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
        load_ms: nav ? nav.loadEventEnd : null,
        api_requests: api.length,
        api_bytes: api.reduce((n, r) => n + (r.transferSize || 0), 0),
        longest_api: longest && {
            url: longest.name.replace(location.origin, ""),
            start_ms: longest.startTime,
            duration_ms: longest.duration,
            bytes: longest.transferSize,
        },
        rows_in_dom: document.querySelectorAll('[data-testid="vm-row"]').length,
        dom_nodes: document.getElementsByTagName("*").length,
    };
}"""


def find_chromium() -> str:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(found, os.X_OK):
        raise SystemExit("no chromium on PATH nor at /usr/bin/chromium: apt-get install chromium")
    return found


class Errors:
    """The console errors and uncaught exceptions of the pages watched (the UI must have none)."""

    def __init__(self) -> None:
        self.entries: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.entries.append(f"uncaught: {e}"))
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.entries.append(message.text[:200])


async def logged_in_context(
    browser: Browser, api_url: str, token: str, errors: Errors
) -> tuple[BrowserContext, Page]:
    """A fresh context (empty cache), logged in through the login form, on ``about:blank``."""
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    await context.add_init_script(FIRST_ROW_WATCH)
    page = errors.watch(await context.new_page())
    await page.goto(f"{api_url}/#/login")
    await page.get_by_test_id("token-input").fill(token)
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("dashboard").wait_for(timeout=120_000)
    await page.goto("about:blank")
    return context, page


async def heap_and_dom(context: BrowserContext, page: Page) -> dict[str, float]:
    cdp = await context.new_cdp_session(page)
    await cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
    await cdp.detach()
    return {
        "js_heap_mb": round(metrics.get("JSHeapUsedSize", 0) / 1e6, 1),
        "nodes": metrics.get("Nodes", 0),
        "layouts": metrics.get("LayoutCount", 0),
    }


async def bench_first_render(
    browser: Browser, api_url: str, token: str, loads: int, errors: Errors
) -> dict[str, Any]:
    runs = []
    for _ in range(loads):
        context, page = await logged_in_context(browser, api_url, token, errors)
        try:
            await page.goto(f"{api_url}/#/inventory", wait_until="commit")
            await page.wait_for_selector(ROW, timeout=300_000)
            waited = await page.evaluate("performance.now()")
            observed = await page.evaluate("window.__bench.firstRow")
            await page.wait_for_timeout(2000)  # the list's requests end, the page settles
            timings = await page.evaluate(PAGE_TIMINGS)
            run = {
                "first_row_ms": round(observed, 1) if observed is not None else None,
                "wait_for_selector_ms": round(waited, 1),
                **timings,
                **await heap_and_dom(context, page),
            }
        finally:
            await context.close()
        print(f"  load: {run}")
        runs.append(run)
    firsts = [r["first_row_ms"] or r["wait_for_selector_ms"] for r in runs]
    waits = [r["wait_for_selector_ms"] for r in runs]
    return {
        "loads": runs,
        "first_row_ms": {
            "first": firsts[0],
            "median": round(statistics.median(firsts), 1),
            "min": min(firsts),
            "max": max(firsts),
        },
        "wait_for_selector_ms": {"median": round(statistics.median(waits), 1)},
    }


async def frames_for(page: Page, seconds: float) -> list[float]:
    await page.evaluate(FRAME_START)
    await asyncio.sleep(seconds)
    deltas: list[float] = await page.evaluate("window.__frames.stop()")
    return deltas


def frame_summary(deltas: list[float], seconds: float) -> dict[str, Any]:
    return {
        "frames": len(deltas),
        "fps": round(len(deltas) / seconds, 1),
        "ms": percentiles(deltas, scale=1, method="nearest"),  # frame times are in ms
        "over_50ms": sum(1 for d in deltas if d > SLOW_FRAME_MS),
    }


async def bench_frames(
    browser: Browser,
    name: str,
    args: argparse.Namespace,
    urls: dict[str, str],
    token: str,
    js: Any,
    pids: dict[str, int],
    errors: Errors,
) -> dict[str, Any]:
    route, shown = PAGES[name]
    api_url = urls["api"]
    context, page = await logged_in_context(browser, api_url, token, errors)
    try:
        await page.goto(f"{api_url}/#{route}")
        await page.wait_for_selector(shown, timeout=300_000)
        await page.wait_for_timeout(2000)  # first layout, the list's requests
        still = frame_summary(await frames_for(page, args.still), args.still)
        await set_activity(urls["control"], args.rate)
        await asyncio.sleep(1.0)  # the rate settles
        before = await gateway_metrics(api_url)
        meter = CpuMeter(pids)
        deltas = await frames_for(page, args.seconds)
        cpu = meter.shares()
        after = await gateway_metrics(api_url)
        await set_activity(urls["control"], 0)
        busy = frame_summary(deltas, args.seconds)
        busy["sse_events_per_s"] = round(
            (after["sse_events"] - before["sse_events"]) / args.seconds
        )
        busy["cpu_share"] = cpu
        memory = await heap_and_dom(context, page)
    finally:
        await context.close()
    await settle(js, urls["projection"], api_url)
    result = {"page": name, "still": still, "changing": busy, **memory}
    print(f"  frames on {name}: {result}")
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if not (args.dist / "index.html").is_file():
        raise SystemExit(f"no {args.dist}/index.html: run npm run build in web/")
    chromium = find_chromium()
    started = time.perf_counter()
    errors = Errors()
    with simulator(args.vms, args.hosts) as (process, pool):
        print(f"simulator: {args.vms} VMs on {args.hosts} hosts in {pool['startup_s']:.1f} s")
        results: dict[str, Any] = {
            "vms": args.vms,
            "hosts": args.hosts,
            "rate": args.rate,
            "seconds": args.seconds,
            "still_seconds": args.still,
        }
        async with nats_with_pool(pool, "bench-web-") as bus:
            with contextlib.ExitStack() as services:
                stack = await start_services(
                    bus, services, api_env={"XORCA_WEB_ROOT": str(args.dist)}
                )
                js, token, api_url = bus.js, stack.token, stack.api_url
                projection_url = stack.projection_url
                results.update(stack.timings)
                await settle(js, projection_url, api_url)
                print(f"collector synced in {results['collector_synced_s']} s, projection built "
                      f"in {results['projection_built_s']} s; gateway at {api_url}")  # fmt: skip
                pids = stack.pids | {"sim": process.pid}
                urls = {"api": api_url, "projection": projection_url,
                        "control": pool["control_url"]}  # fmt: skip
                async with async_playwright() as playwright:
                    browser = await playwright.chromium.launch(
                        executable_path=chromium, headless=True, args=LAUNCH_ARGS
                    )
                    results["chromium"] = browser.version
                    results["first_render"] = await bench_first_render(
                        browser, api_url, token, args.loads, errors
                    )
                    results["frames"] = [
                        await bench_frames(browser, name, args, urls, token, js, pids, errors)
                        for name in args.pages.split(",")
                    ]
                    await browser.close()
    results["console_errors"] = {"count": len(errors.entries),
                                 "first": sorted(set(errors.entries))[:5]}  # fmt: skip
    results["run_s"] = round(time.perf_counter() - started, 1)
    return results


def show(result: dict[str, Any]) -> None:
    print()
    print(f"pool: {result['vms']:,} VMs on {result['hosts']} hosts; Chromium "
          f"{result.get('chromium')}, headless, 1440×900")  # fmt: skip
    print()
    first = result["first_render"]
    print("first render of the VM list (#/inventory, ms from navigation start to a vm-row in "
          "the vm-list; a fresh context each load)")  # fmt: skip
    table(
        [("load", ">5"), ("first row", ">11"), ("waitFor", ">9"), ("DCL", ">7.0f"),
         ("load", ">7.0f"), ("API req", ">8"), ("API MB", ">8.2f"), ("longest API ms", ">15.0f"),
         ("rows", ">7"), ("heap MB", ">8"), ("nodes", ">8.0f")],
        [(i, r["first_row_ms"], r["wait_for_selector_ms"], r["dom_content_loaded_ms"] or 0,
          r["load_ms"] or 0, r["api_requests"], r["api_bytes"] / 1e6,
          (r["longest_api"] or {}).get("duration_ms", 0), r["rows_in_dom"], r["js_heap_mb"],
          r["nodes"]) for i, r in enumerate(first["loads"], 1)],
    )  # fmt: skip
    s = first["first_row_ms"]
    print(f"first row: first load {s['first']} ms, median {s['median']} ms "
          f"(min {s['min']}, max {s['max']})")  # fmt: skip
    print()
    print(f"frame times (ms between requestAnimationFrame callbacks; still, then "
          f"{result['rate']:.0f} changes/s for {result['seconds']} s)")  # fmt: skip
    table(
        [("page", "<10"), ("phase", "<9"), ("frames", ">7"), ("fps", ">6"), ("p50", ">7"),
         ("p95", ">7"), ("p99", ">7"), ("max", ">8"), (">50ms", ">6"), ("ev/s", ">6"),
         ("gw CPU", ">7"), ("machine", ">8"), ("heap MB", ">8")],
        [(f["page"], phase, f[phase]["frames"], f[phase]["fps"],
          *(f[phase]["ms"].get(k) for k in ("p50", "p95", "p99", "max")),
          f[phase]["over_50ms"], f[phase].get("sse_events_per_s", ""),
          f[phase].get("cpu_share", {}).get("gateway", ""),
          f[phase].get("cpu_share", {}).get("machine", ""),
          f["js_heap_mb"] if phase == "changing" else "")
         for f in result["frames"] for phase in ("still", "changing")],
    )  # fmt: skip
    errors = result["console_errors"]
    print(f"console errors: {errors['count']}" + (f", e.g. {errors['first']}" if errors["count"]
                                                  else ""))  # fmt: skip
    print(f"run time: {result['run_s']} s")


def main() -> None:
    parser = arguments(__doc__, "web")
    parser.add_argument("--vms", type=int, help="VMs in the pool (10000; --quick: 500)")
    parser.add_argument("--hosts", type=int, help="hosts in the pool (16; --quick: 4)")
    parser.add_argument("--loads", type=int, help="first-render loads (5; --quick: 2)")
    parser.add_argument("--rate", type=float, default=100.0, help="changes per second")
    parser.add_argument("--seconds", type=float, help="of frames under changes (10; --quick: 5)")
    parser.add_argument("--still", type=float, default=3.0, help="of frames on a still pool")
    parser.add_argument("--pages", default="inventory,dashboard,map", help=f"of {list(PAGES)}")
    parser.add_argument("--quick", action="store_true", help="a small run, for development")
    parser.add_argument("--dist", type=Path, default=DIST, help="the built UI (web/dist)")
    args = parser.parse_args()
    defaults = (500, 4, 2, 5.0) if args.quick else (10_000, 16, 5, 10.0)
    for name, value in zip(("vms", "hosts", "loads", "seconds"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    unknown = set(args.pages.split(",")) - set(PAGES)
    if unknown:
        parser.error(f"unknown pages {sorted(unknown)}: choose among {list(PAGES)}")
    report(asyncio.run(run(args)), show, args.out)


if __name__ == "__main__":
    main()
