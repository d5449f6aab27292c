"""API gateway benchmark: a 10,000-VM pool served over REST and SSE while the simulator changes it,
with the whole pipeline behind the gateway.

    .venv/bin/python bench/bench_api.py [--vms 10000] [--hosts 16] [--rates 100,1000]
                                        [--seconds 15] [--clients 100,300,1000] [--workers 2]
                                        [--quick]

Every service runs in a process of its own, so that the gateway's CPU is measured alone: the
simulator (`harness.start_sim`), NATS (the wheel's ``nats-server``), ``xorca collector``,
``xorca projection`` (on SQLite, in a temporary directory) and ``xorca api`` (the measured
process: its CPU time is read from ``/proc/<pid>/stat``). This process only makes the probes and
reads events; the fan-out clients run in ``--workers`` processes of their own (multiprocessing), so
that their parsing shares neither the gateway's event loop nor this one. Six processes (and the
workers) share the machine's two cores: the machine's busy share is printed beside the figures.

- **list**: ``GET /api/v1/vms?limit=10000`` on a still pool, median of 5: time to the last byte and
  bytes on the wire, plain, with ``Accept-Encoding: gzip``, and ``ndjson=true``.
- **latency**: at each ``--rates`` (changes per second the simulator makes), for ``--seconds``,
  a probe writes a unique ``name_description`` on one VM through XAPI every 100 ms, and one SSE
  client (``GET /api/v1/events``, every event parsed) notes when the event carrying it arrives:
  sim → collector → NATS → projection → store → delta → gateway → client. As in
  bench_collector.py, a probe overwritten by the next one before the collector saw it
  (*merged*) has arrived when a later probe has; one not seen within 10 s is *lost*.
- **metric-only events**: during the 100 changes/s phase, the ``patch`` events whose ``patch``
  touches only ``memory`` and ``cpus``: their size on the wire (``event:``, ``id:``, ``data:`` lines
  and the blank line) against the ``put`` of the same whole object (``GET`` of the object, framed
  as the gateway frames a ``put``).
- **fan-out**: for each N of ``--clients``, N SSE clients (raw asyncio streams: HTTP/1.1 by hand,
  bytes scanned for the probe's text, events counted, nothing else decoded; up to ``--workers``
  processes, one per 50 clients) connect on a still pool, then the activity runs at 100 changes/s
  with the same probes: latency over all clients' probe events (a probe lost for one client
  counts as infinitely late in the p99 that decides whether N passes), events the clients
  received per second in total, the gateway's CPU share (of one core) and its CPU per delivered
  event, how long a ``GET /healthz`` waits meanwhile, and how long the gateway takes to let go of
  the streams once the clients are gone and for its live view to catch up with the store.

Prints a table and writes ``bench/results/api.json``. Compare with ../shared/LIMITS.md (SSE fan-out
from one uvicorn process, 100 events/s of ~300 B: ~13 µs CPU per delivered event at 100 clients,
~9 µs at 1,000; p99 2.4 ms at 100 clients, 61 ms at 1,000).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import itertools
import math
import multiprocessing
import os
import re
import secrets
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

import httpx
import orjson

from harness import (
    CpuMeter,
    a_vm,
    arguments,
    gateway_metrics,
    nats_with_pool,
    notable_lines,
    percentiles,
    raise_nofile,
    report,
    set_activity,
    settle,
    simulator,
    sse_frames,
    start_services,
    table,
)
from xorca.api.core.sse import json_frame
from xorca.contracts.deltas import OBJECT_TYPES
from xorca.xapi.client import Xapi
from xorca.xapi.errors import XapiError

PROBE_EVERY = 0.1
PROBE_PATIENCE = 10.0
METRIC_KEYS = frozenset({"memory", "cpus"})
#: LIMITS.md, SSE fan-out with a plain StreamingResponse: clients → (CPU share, delivered/s,
#: p50 ms, p99 ms)
LIMITS_FANOUT = {100: (0.13, 10_000, 1.5, 2.4), 500: (0.62, 50_000, 3.4, 7.7),
                 1000: (0.91, 98_800, 22.0, 61.0)}  # fmt: skip
#: LIMITS.md: a 10,000-VM ``VM.get_all_records`` from a fast stub, httpx + orjson, JSON-RPC
LIMITS_LOAD_10K_S = 0.53
FANOUT_RATE = 100.0


# -- the probe ------------------------------------------------------------------------------


def probe_latencies(
    sent: list[float], first: int, seen: dict[int, float]
) -> tuple[list[float], int, int]:
    """(latencies, merged, lost) of probes ``first``, ``first + 1``… (sent at ``sent``) for one
    client that saw probe n first at ``seen[n]``: a probe has arrived when it or a later probe
    has (the collector publishes states, not writes)."""
    latencies: list[float] = []
    merged = lost = 0
    earliest = math.inf
    for i in range(len(sent) - 1, -1, -1):
        n = first + i
        if n in seen:
            earliest = min(earliest, seen[n])
        elif earliest < math.inf:
            merged += 1
        if earliest == math.inf:
            lost += 1
        else:
            latencies.append(earliest - sent[i])
    return latencies, merged, lost


class Probe:
    """Unique descriptions (``<marker> <n>``, n growing across phases) written on one VM through
    XAPI every 100 ms; when each call was sent (the change happens before the call returns)."""

    def __init__(self, xapi: Xapi, vm_ref: str, marker: str) -> None:
        self.xapi = xapi
        self.vm_ref = vm_ref
        self.marker = marker
        self.number = 0
        self.failures = 0
        self.calls: list[float] = []

    async def run(self, seconds: float) -> tuple[int, list[float]]:
        """(the first probe's number, when each probe of this run was sent)."""
        first, sent = self.number + 1, []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.number += 1
            started = time.time()
            try:
                await self.xapi.call(
                    "VM.set_name_description", self.vm_ref, f"{self.marker} {self.number}"
                )
            except XapiError:
                self.failures += 1
            sent.append(started)
            self.calls.append(time.time() - started)
            await asyncio.sleep(PROBE_EVERY)
        return first, sent


# -- one client reading every event ---------------------------------------------------------


class EventTap:
    """One SSE client in this process that reads every event whole: the probes' arrival, the
    events by kind, and (when `classify` is on) the metric-only patches and their size."""

    def __init__(self, url: str, token: str, marker: str) -> None:
        self.url = url
        self.token = token
        self.pattern = re.compile(re.escape(marker) + r" (\d+)\"")
        self.connected = asyncio.Event()
        self.seen: dict[int, float] = {}
        self.classify = False
        self.counts: dict[str, int] = {}
        self.bytes = 0
        self.metric_patches: list[tuple[str, str, int, bool]] = []  # type, id, size, had id
        self.ended: str | None = None

    def reset(self, *, classify: bool) -> None:
        self.classify = classify
        self.counts, self.bytes = {}, 0

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        timeout = httpx.Timeout(None, connect=30)
        try:
            async with (
                httpx.AsyncClient(timeout=timeout) as http,
                http.stream("GET", f"{self.url}/api/v1/events", headers=headers) as response,
            ):
                response.raise_for_status()
                self.connected.set()
                async for frame in sse_frames(response.aiter_lines()):
                    self._event(frame.event, frame.data, frame.has_id, frame.size)
            self.ended = "the stream ended"
        except (httpx.HTTPError, OSError) as e:
            self.ended = repr(e)
            raise

    def _event(self, name: str, data: str, has_id: bool, size: int) -> None:
        now = time.time()
        self.counts[name] = self.counts.get(name, 0) + 1
        self.bytes += size
        found = self.pattern.search(data)
        if found:
            self.seen.setdefault(int(found.group(1)), now)
        if self.classify and name == "patch":
            body = orjson.loads(data)
            patch = body.get("patch") or {}
            if patch and set(patch) <= METRIC_KEYS:
                self.metric_patches.append((body["type"], body["id"], size, has_id))


# -- fan-out clients, in worker processes -----------------------------------------------------


class LightClient:
    """One SSE stream read as bytes: events counted (blank lines), the probe's text searched."""

    def __init__(self, host: str, port: int, request: bytes, pattern: re.Pattern[bytes]) -> None:
        self.host, self.port, self.request, self.pattern = host, port, request, pattern
        self.connected = asyncio.Event()
        self.done = asyncio.Event()
        self.seen: dict[int, float] = {}
        self.events = self.bytes = 0
        self.error: str | None = None

    async def run(self, gate: asyncio.Semaphore) -> None:
        writer = None
        try:
            async with gate:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(self.request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
                self.connected.set()
            tail = b""
            while chunk := await reader.read(1 << 16):
                now = time.time()
                self.bytes += len(chunk)
                self.events += (tail[-1:] + chunk).count(b"\n\n")
                scanned = tail + chunk
                for found in self.pattern.finditer(scanned):
                    self.seen.setdefault(int(found.group(1)), now)
                tail = scanned[-64:]
            self.error = "the stream ended"
        except (OSError, RuntimeError, asyncio.IncompleteReadError) as e:
            self.error = repr(e)
        finally:
            self.done.set()
            if writer is not None:
                writer.close()


def fanout_worker(conn: Connection, url: str, token: str, count: int, marker: str) -> None:
    """A worker process: ``count`` clients, driven by the benchmark over ``conn``."""
    raise_nofile()
    asyncio.run(_fanout(conn, url, token, count, marker))


async def _fanout(conn: Connection, url: str, token: str, count: int, marker: str) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    request = (
        f"GET /api/v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\nConnection: close\r\n\r\n"
    ).encode()
    pattern = re.compile(re.escape(marker.encode()) + rb" (\d+)\"")
    clients = [LightClient(host, int(port), request, pattern) for _ in range(count)]
    gate = asyncio.Semaphore(50)  # connections being set up at once
    tasks = [asyncio.create_task(c.run(gate)) for c in clients]
    waits = [asyncio.create_task(_either(c.connected, c.done)) for c in clients]
    await asyncio.wait(waits, timeout=300)
    errors = [c.error for c in clients if not c.connected.is_set()]
    conn.send(("connected", sum(c.connected.is_set() for c in clients), errors[:3]))
    marks: tuple[float, int, int] = (time.time(), 0, 0)
    while True:
        command, arg = await asyncio.to_thread(conn.recv)
        if command == "begin":
            marks = (time.time(), sum(c.events for c in clients), sum(c.bytes for c in clients))
        elif command == "mark":
            conn.send((time.time() - marks[0], sum(c.events for c in clients) - marks[1],
                       sum(c.bytes for c in clients) - marks[2]))  # fmt: skip
        elif command == "status":  # how many clients have seen probe `arg` or a later one
            conn.send(sum(1 for c in clients if c.seen and max(c.seen) >= arg))
        elif command == "quit":
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            conn.send([(c.seen, c.error) for c in clients])
            return


async def _either(a: asyncio.Event, b: asyncio.Event) -> None:
    waits = [asyncio.create_task(a.wait()), asyncio.create_task(b.wait())]
    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()


async def ask(conn: Connection, message: tuple[str, Any] | None, timeout: float = 120) -> Any:
    """Send ``message`` to a worker (if any) and its answer."""
    if message is not None:
        conn.send(message)
    if not await asyncio.to_thread(conn.poll, timeout):
        raise TimeoutError("a fan-out worker did not answer")
    return conn.recv()


# -- the pipeline -----------------------------------------------------------------------------


async def streams_closed(api_url: str, timeout: float = 300) -> dict[str, float] | None:
    """Until the gateway has let go of every SSE stream (it notices a gone client late); its
    metrics then (None: it did not within ``timeout``)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                metrics = await gateway_metrics(api_url)
                if metrics["sse_clients"] == 0:
                    return metrics
                await asyncio.sleep(0.5)
    except (TimeoutError, httpx.HTTPError):
        return None


class HealthWatch:
    """``GET /healthz`` every half second while it runs: how long the gateway takes to answer
    a request that does nothing (what a liveness probe sees)."""

    def __init__(self, api_url: str, patience: float = 5.0) -> None:
        self.api_url = api_url
        self.patience = patience
        self.times: list[float] = []
        self.unanswered = 0
        self.asked: float | None = None  # when the request in flight was sent

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self.patience) as http:
            while True:
                self.asked = time.perf_counter()
                try:
                    (await http.get(f"{self.api_url}/healthz")).raise_for_status()
                    self.times.append(time.perf_counter() - self.asked)
                except httpx.HTTPError:
                    self.unanswered += 1
                self.asked = None
                await asyncio.sleep(0.5)

    def figures(self) -> dict[str, Any]:
        """Answer times; ``waiting_s``: how long the request in flight when it stopped had
        waited (a lower bound of its answer time)."""
        waiting = None if self.asked is None else round(time.perf_counter() - self.asked, 1)
        return {"answered_ms": percentiles(self.times), "unanswered": self.unanswered,
                "waiting_s": waiting, "patience_s": self.patience}  # fmt: skip


# -- the measurements -------------------------------------------------------------------------


async def bench_list(api_url: str, token: str, repeats: int = 5) -> dict[str, Any]:
    """``GET /api/v1/vms`` of the whole pool: plain, gzip, NDJSON."""
    auth = {"Authorization": f"Bearer {token}"}
    variants = {
        "json": ("limit=10000", "identity"),
        "json+gzip": ("limit=10000", "gzip"),
        "ndjson": ("ndjson=true", "identity"),
    }
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=300) as http:
        for label, (query, encoding) in variants.items():
            times, body = [], b""
            for _ in range(repeats):
                started = time.perf_counter()
                headers = {**auth, "Accept-Encoding": encoding}
                async with http.stream("GET", f"{api_url}/api/v1/vms?{query}",
                                       headers=headers) as response:  # fmt: skip
                    response.raise_for_status()
                    chunks = [chunk async for chunk in response.aiter_raw()]
                times.append(time.perf_counter() - started)
                body = b"".join(chunks)
            plain = gzip.decompress(body) if encoding == "gzip" else body
            if label == "ndjson":
                items = plain.count(b"\n") - 1
                more = None
            else:
                decoded = orjson.loads(plain)
                items, more = len(decoded["items"]), decoded["next"]
            out[label] = {
                "median_s": round(statistics.median(times), 3),
                "min_s": round(min(times), 3),
                "wire_bytes": len(body),
                "json_bytes": len(plain),
                "items": items,
                "next": more,
            }
            print(f"  list {label}: {out[label]}")
    return out


async def bench_latency(
    tap: EventTap,
    probe: Probe,
    control_url: str,
    api_url: str,
    pids: dict[str, int],
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    await set_activity(control_url, rate)
    await asyncio.sleep(1.0)  # the rate settles
    tap.reset(classify=rate == 100)
    before = await gateway_metrics(api_url)
    meter = CpuMeter(pids)
    wall = time.perf_counter()
    first, sent = await probe.run(seconds)
    wall = time.perf_counter() - wall
    cpu = meter.shares()
    counts, size = dict(tap.counts), tap.bytes
    tap.classify = False
    after = await gateway_metrics(api_url)
    last = first + len(sent) - 1
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(PROBE_PATIENCE):
            while not tap.seen or max(tap.seen) < last:  # noqa: ASYNC110 - a computed state
                await asyncio.sleep(0.05)
    latencies, merged, lost = probe_latencies(sent, first, tap.seen)
    events = sum(n for name, n in counts.items() if name != "ping")
    return {
        "activity_rate": rate,
        "seconds": round(wall, 2),
        "events_per_s": round(events / wall, 1),
        "events": counts,
        "avg_event_bytes": round(size / max(sum(counts.values()), 1)),
        "probes": len(sent),
        "merged": merged,
        "lost": lost,
        "probe_failures": probe.failures,
        "latency_ms": percentiles(latencies),
        "probe_call_ms": percentiles(probe.calls[-len(sent) :]),
        "cpu_share": cpu,
        "hub_resyncs": after["hub_resyncs"] - before["hub_resyncs"],
        "tap_ended": tap.ended,
    }


async def whole_put_sizes(
    api_url: str, token: str, patches: list[tuple[str, str, int, bool]]
) -> list[int]:
    """The size of a ``put`` event of each patched object, as the gateway frames it."""
    sizes = []
    wanted = {(t, i): has_id for t, i, _, has_id in patches}
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
        for (type_, id_), has_id in list(wanted.items())[:300]:
            answer = await http.get(f"{api_url}/api/v1/{OBJECT_TYPES[type_]}/{id_}")
            if answer.status_code != 200:
                continue
            item = answer.json()
            body = {"type": type_, "id": id_, "rev": item["rev"], "data": item}
            sizes.append(len(json_frame("put", body, item["rev"] if has_id else None)))
    return sizes


async def bench_fanout(
    clients: int,
    args: argparse.Namespace,
    probe: Probe,
    control_url: str,
    api_url: str,
    token: str,
    pids: dict[str, int],
) -> dict[str, Any]:
    workers = max(1, min(args.workers, math.ceil(clients / 50)))
    shares = [clients // workers + (1 if i < clients % workers else 0) for i in range(workers)]
    context = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for share in shares:
        mine, theirs = context.Pipe()
        process = context.Process(
            target=fanout_worker, args=(theirs, api_url, token, share, probe.marker), daemon=True
        )
        process.start()
        pipes.append(mine)
        processes.append(process)
    try:
        started = time.perf_counter()
        answers = [await ask(pipe, None, 600) for pipe in pipes]
        connect_s = time.perf_counter() - started
        connected = sum(a[1] for a in answers)
        errors = [e for a in answers for e in a[2]]
        print(f"  fan-out {clients}: {connected} connected in {connect_s:.1f} s"
              + (f" (errors: {errors})" if errors else ""))  # fmt: skip
        before = await gateway_metrics(api_url)
        # connected on a still pool: the activity starts once every client is there
        await set_activity(control_url, FANOUT_RATE)
        await asyncio.sleep(2.0)
        meter = CpuMeter(pids | {f"worker{i}": p.pid or 0 for i, p in enumerate(processes)})
        health = HealthWatch(api_url)
        watching = asyncio.create_task(health.run())
        for pipe in pipes:
            pipe.send(("begin", None))
        first, sent = await probe.run(args.seconds)
        marks = [await ask(pipe, ("mark", None)) for pipe in pipes]
        cpu = meter.shares()
        healthz = health.figures()
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        await set_activity(control_url, 0)  # what is queued drains: late, not lost
        last = first + len(sent) - 1
        deadline = time.monotonic() + PROBE_PATIENCE
        while time.monotonic() < deadline:
            caught_up = sum([await ask(pipe, ("status", last)) for pipe in pipes])
            if caught_up >= connected:
                break
            await asyncio.sleep(0.5)
        results = [r for pipe in pipes for r in await ask(pipe, ("quit", None))]
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    wall = max(m[0] for m in marks)
    delivered = sum(m[1] for m in marks)
    received = sum(m[2] for m in marks)
    latencies: list[float] = []
    merged = lost = 0
    for seen, _ in results:
        values, m, missing = probe_latencies(sent, first, seen)
        latencies += values
        merged += m
        lost += missing
    ended = [error for _, error in results if error and "CancelledError" not in error]
    started = time.perf_counter()
    after = await streams_closed(api_url)
    gateway = cpu["gateway"]
    return {
        "clients": clients,
        "workers": workers,
        "connected": connected,
        "connect_s": round(connect_s, 1),
        "seconds": round(wall, 2),
        "delivered_per_s": round(delivered / wall),
        "delivered_per_client_s": round(delivered / wall / max(connected, 1), 1),
        "mb_per_s": round(received / wall / 1e6, 2),
        "probes": len(sent),
        "merged": merged,
        "lost": lost,
        "latency_ms": percentiles(latencies),
        "p99_ms_lost_as_inf": percentiles(latencies + [math.inf] * lost).get("p99", math.inf),
        "cpu_share": cpu,
        "gateway_cpu_us_per_event": round(gateway * 1e6 / max(delivered / wall, 1), 1),
        "healthz": healthz,
        "streams_released_s": round(time.perf_counter() - started, 1),
        "sse_cut": after["sse_cut"] - before["sse_cut"] if after else None,
        "hub_resyncs": after["hub_resyncs"] - before["hub_resyncs"] if after else None,
        "streams_ended": len(ended),
        "stream_errors": sorted(set(ended))[:3],
    }


def limits_at(clients: int) -> dict[str, float]:
    """LIMITS.md's fan-out figures interpolated linearly at ``clients`` (clamped at the ends)."""
    points = sorted(LIMITS_FANOUT.items())
    n = min(max(clients, points[0][0]), points[-1][0])
    for (n0, a), (n1, b) in itertools.pairwise(points):
        if n0 <= n <= n1:
            share = (n - n0) / (n1 - n0)
            cpu, delivered, p50, p99 = (x + (y - x) * share for x, y in zip(a, b, strict=True))
            return {"cpu_us_per_event": round(cpu * 1e6 / delivered, 1), "p50_ms": round(p50, 1),
                    "p99_ms": round(p99, 1)}  # fmt: skip
    raise AssertionError("unreachable")


# -- the run --------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    nofile = raise_nofile()
    started = time.perf_counter()
    with simulator(args.vms, args.hosts) as (process, pool):
        print(f"simulator: {args.vms} VMs on {args.hosts} hosts in {pool['startup_s']:.1f} s")
        results: dict[str, Any] = {"vms": args.vms, "hosts": args.hosts, "nofile": nofile,
                                   "sim_startup_s": round(pool["startup_s"], 2)}  # fmt: skip
        async with nats_with_pool(pool, "bench-api-") as bus:
            with contextlib.ExitStack() as services:
                stack = await start_services(bus, services)
                js, token = bus.js, stack.token
                api_url, projection_url = stack.api_url, stack.projection_url
                results.update(stack.timings)
                print(f"collector synced in {results['collector_synced_s']} s, projection built "
                      f"in {results['projection_built_s']} s, gateway ready in "
                      f"{results['gateway_ready_s']} s")  # fmt: skip
                pids = stack.pids | {"sim": process.pid, "bench": os.getpid()}

                results["list"] = await bench_list(api_url, token)

                vm_ref, vm_uuid = await a_vm(pool)
                marker = f"bench-{secrets.token_hex(4)}"
                tap = EventTap(api_url, token, marker)
                tap_task = asyncio.create_task(tap.run())
                await asyncio.wait_for(tap.connected.wait(), 60)
                async with Xapi(pool["url"], pool["username"], pool["password"]) as xapi:
                    probe = Probe(xapi, vm_ref, marker)
                    latency = []
                    for rate in [float(r) for r in args.rates.split(",")]:
                        latency.append(await bench_latency(
                            tap, probe, pool["control_url"], api_url, pids, rate, args.seconds
                        ))  # fmt: skip
                        print(f"  latency at {rate:.0f}/s: {latency[-1]}")
                    results["latency"] = latency
                    patches = tap.metric_patches
                    whole = await whole_put_sizes(api_url, token, patches)
                    sizes = [size for *_, size, _ in patches]
                    results["metric_only"] = {
                        "count": len(patches),
                        "avg_bytes": round(statistics.fmean(sizes)) if sizes else None,
                        "whole_put_objects": len(whole),
                        "whole_put_avg_bytes": round(statistics.fmean(whole)) if whole else None,
                        "ratio": round(statistics.fmean(sizes) / statistics.fmean(whole), 3)
                        if sizes and whole
                        else None,
                    }
                    tap_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError, OSError):
                        await tap_task
                    await set_activity(pool["control_url"], 0)
                    await settle(js, projection_url, api_url)

                    fanout = []
                    counts = [int(n) for n in args.clients.split(",")]
                    for i, clients in enumerate(counts):
                        fanout.append(await bench_fanout(
                            clients, args, probe, pool["control_url"], api_url, token, pids
                        ))  # fmt: skip
                        print(f"  fan-out {clients}: {fanout[-1]}")
                        if i < len(counts) - 1:
                            fanout[-1]["settled_s"] = await settle(js, projection_url, api_url)
                    results["fanout"] = fanout
                results["probe_vm"] = vm_uuid
                results["logs"] = {name: notable_lines(bus.tmp / f"{name}.log")
                                   for name in ("collector", "projection", "api")}  # fmt: skip
    passing = [f["clients"] for f in results.get("fanout", []) if f["p99_ms_lost_as_inf"] < 1000]
    results["largest_clients_p99_under_1s"] = max(passing, default=None)
    results["run_s"] = round(time.perf_counter() - started, 1)
    return results


def show(result: dict[str, Any]) -> None:
    print()
    print(f"pool: {result['vms']:,} VMs on {result['hosts']} hosts; collector synced in "
          f"{result['collector_synced_s']} s, projection built in "
          f"{result['projection_built_s']} s, gateway ready in {result['gateway_ready_s']} s; "
          f"RLIMIT_NOFILE {result['nofile']}")  # fmt: skip
    print()
    print(
        "GET /api/v1/vms, median of 5 (time to the last byte); LIMITS: 10,000 VM records "
        f"from a fast XAPI stub, httpx + orjson, {LIMITS_LOAD_10K_S} s"
    )
    table(
        [("variant", "<11"), ("items", ">7"), ("median s", ">10.3f"), ("min s", ">8.3f"),
         ("wire MB", ">9.2f"), ("JSON MB", ">9.2f"), ("vs LIMITS", ">11")],
        [(label, r["items"], r["median_s"], r["min_s"], r["wire_bytes"] / 1e6,
          r["json_bytes"] / 1e6, f"{r['median_s'] / LIMITS_LOAD_10K_S:.2f}x")
         for label, r in result["list"].items()],
    )  # fmt: skip
    print()
    print(
        "change→event latency (ms, from the probe's XAPI call to its SSE event at one client; "
        "CPU: share of one core)"
    )
    table(
        [("activity/s", ">10.0f"), ("events/s", ">9.1f"), ("B/event", ">8"), ("probes", ">7"),
         ("merged", ">7"), ("lost", ">5"), ("p50", ">8"), ("p95", ">8"), ("p99", ">8"),
         ("max", ">8"), ("call p50", ">9"), ("gw CPU", ">7.2f"), ("proj CPU", ">9.2f"),
         ("machine", ">8.2f")],
        [(r["activity_rate"], r["events_per_s"], r["avg_event_bytes"], r["probes"], r["merged"],
          r["lost"], *(r["latency_ms"].get(k) for k in ("p50", "p95", "p99", "max")),
          r["probe_call_ms"].get("p50"), r["cpu_share"]["gateway"],
          r["cpu_share"]["projection"], r["cpu_share"]["machine"]) for r in result["latency"]],
    )  # fmt: skip
    m = result["metric_only"]
    print()
    print(f"metric-only patch events at 100 changes/s: {m['count']}, {m['avg_bytes']} B on "
          f"the wire on average, against {m['whole_put_avg_bytes']} B for a put of the whole "
          f"object ({m['whole_put_objects']} objects): ratio {m['ratio']}")  # fmt: skip
    print()
    print(
        "SSE fan-out at 100 changes/s (latency: over every client's probe events, ms; lost: "
        "client×probe pairs not seen in 10 s; CPU: share of one core)"
    )

    def cut(f: dict[str, Any]) -> str:
        return "?" if f["sse_cut"] is None else f"{f['sse_cut'] + f['streams_ended']:.0f}"

    table(
        [("clients", ">7"), ("conn", ">6"), ("wkrs", ">5"), ("events/s", ">10"),
         ("/client", ">8"), ("MB/s", ">6.1f"), ("p50", ">9"), ("p99", ">9"), ("max", ">9"),
         ("lost", ">7"), ("cut", ">5"), ("gw CPU", ">7.2f"), ("clients", ">8.2f"),
         ("machine", ">8.2f")],
        [(f["clients"], f["connected"], f["workers"], f["delivered_per_s"],
          f["delivered_per_client_s"], f["mb_per_s"],
          *(f["latency_ms"].get(k) for k in ("p50", "p99", "max")), f["lost"], cut(f),
          f["cpu_share"]["gateway"],
          sum(v for k, v in f["cpu_share"].items() if k.startswith("worker")),
          f["cpu_share"]["machine"]) for f in result["fanout"]],
    )  # fmt: skip
    print()
    print(
        "fan-out against LIMITS (plain StreamingResponse on uvloop, interpolated at N): gateway "
        "CPU per delivered event; /healthz answer time during the run (5 s patience); seconds "
        "until the gateway let go of the streams and its live view caught up afterwards "
        "(waiting: a /healthz still unanswered at the end, for so many seconds)"
    )
    rows = []
    for f in result["fanout"]:
        limits = limits_at(f["clients"])
        p99 = f["latency_ms"].get("p99")
        hz = f["healthz"]
        rows.append((
            f["clients"], f["gateway_cpu_us_per_event"], limits["cpu_us_per_event"],
            f["gateway_cpu_us_per_event"] / limits["cpu_us_per_event"],
            f"{p99 / limits['p99_ms']:.0f}x" if p99 is not None else None,
            hz["answered_ms"].get("p50"), hz["answered_ms"].get("max"), hz["unanswered"],
            hz["waiting_s"] or None, f["streams_released_s"], f.get("settled_s"),
        ))  # fmt: skip
    table(
        [("clients", ">7"), ("µs/event", ">9"), ("LIMITS", ">8"), ("ratio", ">7.2f"),
         ("p99/LIM", ">9"), ("hz p50", ">8"), ("hz max", ">8"), ("hz >5s", ">7"),
         ("waiting", ">8"), ("released", ">9"), ("settled", ">8")],
        rows,
    )  # fmt: skip
    best = result["largest_clients_p99_under_1s"]
    print(f"largest N with p99 < 1 s (lost probes counted as late): {best}")
    for name, log in result["logs"].items():
        if log["notable"]:
            print(f"{name} logged {log['notable']} warnings/errors, e.g.: {log['first']}")
    print(f"run time: {result['run_s']} s")


def main() -> None:
    parser = arguments(__doc__, "api")
    parser.add_argument("--vms", type=int, help="VMs in the pool (10000; --quick: 500)")
    parser.add_argument("--hosts", type=int, help="hosts in the pool (16; --quick: 4)")
    parser.add_argument("--rates", default="100,1000", help="activity rates for the latency")
    parser.add_argument("--seconds", type=float, help="of each measurement (15; --quick: 5)")
    parser.add_argument("--clients", help="fan-out client counts (100,300,1000; --quick: 20,50)")
    parser.add_argument("--workers", type=int, default=2, help="processes for fan-out clients")
    parser.add_argument("--quick", action="store_true", help="a small run, for development")
    args = parser.parse_args()
    defaults = (500, 4, 5.0, "20,50") if args.quick else (10_000, 16, 15.0, "100,300,1000")
    for name, value in zip(("vms", "hosts", "seconds", "clients"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, value)
    report(asyncio.run(run(args)), show, args.out)


if __name__ == "__main__":
    main()
