"""Pool watcher benchmark: from nothing to a synced mirror of a 10,000-VM pool, then the change
rate the watcher sustains while the simulator's activity mode changes the pool.

    .venv/bin/python bench/bench_watcher.py [--vms 10000] [--hosts 16] [--rates 100,1000,5000]
                                            [--seconds 15]

Starts ``xorca sim`` in its own process (`harness.simulator`: the simulator and the watcher
each get a core), then measures, in this process, over real sockets and JSON-RPC:

- **sync**: a new client and `PoolWatcher` until the first batch is handed out (login, the
  ``event.from(classes, "", 0)`` load, checks, diff, mirror), with its wall and CPU time split
  into the call (server, wire, decoding) and the watcher's own work, and the peak RSS growth;
  then the same again under tracemalloc, for the peak and retained Python memory;
- **follow**: at each ``--rates`` (set through the control endpoint), every batch consumed for
  ``--seconds``: changes applied per second, batches, CPU time of this process, the watcher's
  own share; at the end the mirror is compared with a fresh load of the pool;
- **core**: the pure path alone (check an answer, compute net changes, apply) on ``mod`` events
  of the pool's own VM records, as fast as it goes: the ceiling the watcher adds to the wire.

Prints a table and writes ``bench/results/watcher.json``. Compare with ../shared/LIMITS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import resource
import time
import tracemalloc
from typing import Any

from harness import arguments, report, set_activity, simulator, table
from xorca.xapi.client import Xapi
from xorca.xapi.datamodel import datamodel
from xorca.xapi.values import Value
from xorca.xapi.watcher import (
    Mirror,
    PoolWatcher,
    State,
    WatchOptions,
    load_tables,
    parse_answer,
)


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class GcTimer:
    """Seconds this process spent in cyclic garbage collection (a 400 MB mirror is a lot to
    scan), from `gc.callbacks`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += info["generation"] == 2


GC = GcTimer()


class Timed:
    """The client, counting the wall and CPU time spent inside its calls."""

    def __init__(self, xapi: Xapi) -> None:
        self.xapi = xapi
        self.wall = self.cpu = 0.0
        self.calls = 0

    @property
    def master_url(self) -> str:
        return self.xapi.master_url

    @property
    def login_count(self) -> int:
        return self.xapi.login_count

    async def call(self, method: str, *params: Value, timeout: float | None = None) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return await self.xapi.call(method, *params, timeout=timeout)
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu
            self.calls += 1


async def sync(pool: dict[str, Any]) -> dict[str, Any]:
    rss_before = rss_mb()
    gc_before = GC.seconds
    wall, cpu = time.perf_counter(), time.process_time()
    async with Xapi(pool["url"], pool["username"], pool["password"]) as xapi:
        login_wall, login_cpu = time.perf_counter() - wall, time.process_time() - cpu
        client = Timed(xapi)
        watcher = PoolWatcher(client)
        batch = await anext(watcher)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        objects = sum(len(t) for t in watcher.mirror.values())
        vms = len(watcher.mirror["VM"])
    load_cpu = cpu - login_cpu
    return {
        "objects": objects,
        "vm_records": vms,
        "changes": len(batch),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "login_wall_s": round(login_wall, 3),
        "login_cpu_s": round(login_cpu, 3),
        "call_wall_s": round(client.wall, 3),
        "call_cpu_s": round(client.cpu, 3),
        "watcher_cpu_s": round(load_cpu - client.cpu, 3),
        "gc_s": round(GC.seconds - gc_before, 3),
        "peak_rss_growth_mb": round(rss_mb() - rss_before, 1),
    }


async def sync_traced(pool: dict[str, Any]) -> dict[str, Any]:
    """The same load under tracemalloc (slower, so timed apart): Python's peak and what the
    mirror keeps."""
    gc.collect()
    tracemalloc.start()
    async with Xapi(pool["url"], pool["username"], pool["password"]) as xapi:
        watcher = PoolWatcher(xapi)
        await anext(watcher)
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"peak_mb": round(peak / 1e6, 1), "mirror_mb": round(kept / 1e6, 1)}


async def follow(pool: dict[str, Any], rates: list[float], seconds: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with Xapi(pool["url"], pool["username"], pool["password"]) as xapi:
        client = Timed(xapi)
        watcher = PoolWatcher(client, WatchOptions(poll=1.0))
        await anext(watcher)
        for rate in rates:
            await set_activity(pool["control_url"], rate)
            out.append({"activity_rate": rate, **await consume(watcher, client, seconds)})
        await set_activity(pool["control_url"], 0)
        await asyncio.sleep(1.0)  # the last operations finish
        await catch_up(watcher)
        out[-1]["verified"] = await verified(xapi, watcher)
    return out


async def consume(watcher: PoolWatcher, client: Timed, seconds: float) -> dict[str, Any]:
    changes = batches = 0
    ops = {"add": 0, "mod": 0, "del": 0}
    call_wall, call_cpu = client.wall, client.cpu
    gc_seconds, gc_full = GC.seconds, GC.collections
    resyncs = watcher.status.resyncs
    wall, cpu = time.perf_counter(), time.process_time()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            batch = await asyncio.wait_for(anext(watcher), left)
        except TimeoutError:
            break
        batches += 1
        changes += len(batch)
        for change in batch.changes:
            ops[change.op] += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    own_cpu = cpu - (client.cpu - call_cpu)
    return {
        "seconds": round(wall, 2),
        "changes": changes,
        "changes_per_s": round(changes / wall, 1),
        "batches": batches,
        "changes_per_batch": round(changes / max(batches, 1), 1),
        "ops": ops,
        "cpu_s": round(cpu, 2),
        "cpu_share": round(cpu / wall, 3),
        "watcher_cpu_s": round(own_cpu, 3),
        "watcher_us_per_change": round(own_cpu / max(changes, 1) * 1e6, 1),
        "call_wall_s": round(client.wall - call_wall, 2),
        "gc_s": round(GC.seconds - gc_seconds, 3),
        "full_collections": GC.collections - gc_full,
        "resyncs": watcher.status.resyncs - resyncs,
        "peak_rss_mb": round(rss_mb(), 1),
    }


async def catch_up(watcher: PoolWatcher) -> None:
    """Take batches until the watcher is synced and a poll came back with nothing (the pool is
    still). A load in progress (a resync) may take seconds: it is waited for, not cut."""
    step = asyncio.ensure_future(anext(watcher))
    try:
        while True:
            heard = watcher.status.last_event_at
            done, _ = await asyncio.wait({step}, timeout=2)
            if done:
                step.result()
                step = asyncio.ensure_future(anext(watcher))
                continue
            status = watcher.status
            if status.state is State.SYNCED and status.last_event_at != heard:
                return
    finally:
        step.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await step


async def verified(xapi: Xapi, watcher: PoolWatcher) -> bool:
    fresh = parse_answer(await xapi.call("event.from", list(watcher.classes), "", 0.0),
                         watcher.schema)  # fmt: skip
    return load_tables(watcher.classes, fresh.events) == watcher.snapshot()


async def core(pool: dict[str, Any], repeat: int) -> dict[str, Any]:
    """Answers of ``mod`` events carrying real VM records, through the pure path only."""
    async with Xapi(pool["url"], pool["username"], pool["password"]) as xapi:
        watcher = PoolWatcher(xapi, WatchOptions(classes=["VM"]))
        await anext(watcher)
    records = list(watcher.mirror["VM"].items())
    answers = []
    for round_ in range(repeat):
        events = [
            {"id": "1", "timestamp": "0.0", "class": "vm", "operation": "mod", "ref": ref,
             "snapshot": {**record, "name_label": f"renamed {round_}"}}
            for ref, record in records
        ]  # fmt: skip
        answers.append({"events": events, "valid_ref_counts": {"vm": len(records)}, "token": "t"})
    mirror = Mirror(["VM"])  # the watcher's pure core, without the loop
    mirror.tables["VM"].update(watcher.mirror["VM"])
    wall, cpu = time.perf_counter(), time.process_time()
    changes = 0
    for answer in answers:
        parsed = parse_answer(answer, watcher.schema)
        applied = mirror.changes_from(parsed.events)
        mirror.apply(applied)
        changes += len(applied)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "events": changes,
        "events_per_s": round(changes / wall),
        "us_per_event": round(cpu / changes * 1e6, 2),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rates = [float(r) for r in args.rates.split(",")]
    started = time.process_time()
    datamodel()  # read once per process (a collector does it at start): not part of a sync
    datamodel_s = time.process_time() - started
    with simulator(args.vms, args.hosts) as (_, pool):
        first = await sync(pool)
        gc.collect()
        traced = await sync_traced(pool)
        core_path = await core(pool, repeat=3)
        followed = await follow(pool, rates, args.seconds)
    return {
        "vms": args.vms,
        "hosts": args.hosts,
        "sim_startup_s": round(pool["startup_s"], 2),
        "datamodel_load_cpu_s": round(datamodel_s, 3),
        "sync": {**first, **traced},
        "core": core_path,
        "follow": followed,
    }


def show(result: dict[str, Any]) -> None:
    s, c = result["sync"], result["core"]
    print(f"pool: {result['vms']} VMs on {result['hosts']} hosts "
          f"(simulator started in {result['sim_startup_s']} s)")  # fmt: skip
    print(f"sync from nothing (datamodel read once before: {result['datamodel_load_cpu_s']} s)")
    rows = [
        ("objects mirrored", f"{s['objects']:,} ({s['vm_records']:,} VM records)"),
        ("wall time, login included", f"{s['wall_s']:.2f} s"),
        ("  login (client, TLS setup, host list)", f"{s['login_wall_s']:.2f} s"),
        ("  event.from load (server+wire+decode)", f"{s['call_wall_s']:.2f} s"),
        ("CPU time, this process", f"{s['cpu_s']:.2f} s"),
        ("  login", f"{s['login_cpu_s']:.2f} s"),
        ("  event.from call (HTTP, decoding)", f"{s['call_cpu_s']:.2f} s"),
        ("  watcher (check, diff, mirror)", f"{s['watcher_cpu_s']:.2f} s"),
        ("garbage collection (paused in the load)", f"{s['gc_s']:.2f} s"),
        ("peak RSS growth", f"{s['peak_rss_growth_mb']:.0f} MB"),
        ("tracemalloc peak / mirror kept", f"{s['peak_mb']:.0f} MB / {s['mirror_mb']:.0f} MB"),
        ("core path (check+diff+apply)", f"{c['events_per_s']:,} events/s, "
                                         f"{c['us_per_event']} µs CPU each"),
    ]  # fmt: skip
    for name, value in rows:
        print(f"  {name:<40}{value}")
    table(
        [("activity/s", ">10.0f"), ("changes/s", ">11.1f"), ("batches", ">9"),
         ("per batch", ">10.1f"), ("CPU %", ">7.1f"), ("watcher µs/chg", ">16.1f"),
         ("GC s", ">7.2f"), ("resyncs", ">9"), ("peak RSS MB", ">13.0f")],
        [(f["activity_rate"], f["changes_per_s"], f["batches"], f["changes_per_batch"],
          f["cpu_share"] * 100, f["watcher_us_per_change"], f["gc_s"], f["resyncs"],
          f["peak_rss_mb"]) for f in result["follow"]],
    )  # fmt: skip
    last = result["follow"][-1]
    print(f"mirror equals a fresh load after following: {last.get('verified')}")


def main() -> None:
    parser = arguments(__doc__, "watcher")
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--rates", default="100,1000,5000", help="activity rates, per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    report(asyncio.run(run(args)), show, args.out)


if __name__ == "__main__":
    main()
