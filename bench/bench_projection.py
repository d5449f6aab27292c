"""Projection benchmark: a 10,000-VM pool's log rebuilt into the state store, then followed under
activity, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_projection.py [--vms 10000] [--hosts 16] [--rates 100,1000]
                                               [--seconds 15] [--postgres URL] [--batch 1000]

The simulator runs in a process of its own (`harness.start_sim`), NATS is the wheel's
``nats-server``, the collector runs as ``xorca collector`` in a process of its own, and the
projection runs in this process exactly as ``xorca projection`` runs it (this process' CPU is the
projection's). The collector fills the stream first (the pool's whole load) and is stopped; then,
for each store:

- **rebuild**: ``xorca projection rebuild`` on an empty store: the whole stream applied, from
  the first message to the last; messages and rows per second, and the store's objects;
- **follow**: the collector started again and the projection running, at each ``--rates``
  (changes per second the simulator makes) for ``--seconds``: log messages applied per second,
  the lag from a message's arrival in the stream to its commit (p50, p99 from the projection's
  histogram), transactions and their sizes;
- **deltas**: every delta published during the follow, by op, with their average body size;
  *metric-only* patches (those touching only ``memory`` and ``cpus``) against the size of the
  whole object they patch (the ``put`` the projection would have sent otherwise).

PostgreSQL comes from ``--postgres`` or ``XORCA_TEST_POSTGRES_URL`` (a database is created for the
run and dropped after); without either, only SQLite runs. Prints a table and writes
``bench/results/projection.json``. Compare with ../shared/LIMITS.md (SQL upserts of ~4.6 KB rows:
SQLite ~53,000 rows/s, PostgreSQL jsonb ~12,400 rows/s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from harness import (
    KEY,
    arguments,
    nats_with_pool,
    postgres_database,
    report,
    service_process,
    set_activity,
    simulator,
    table,
)
from xorca.cli.demo import wait_synced
from xorca.contracts.deltas import ObjectProjected, encode_delta
from xorca.contracts.subjects import OBJECTS_STREAM
from xorca.projection.bootstrap import rebuild
from xorca.projection.bootstrap import run as run_projection
from xorca.projection.service import Projection
from xorca.projection.settings import ProjectionSettings
from xorca.runtime.inprocess import service_running
from xorca.store import Store

METRIC_KEYS = frozenset({"memory", "cpus"})
LAG = "xorca_projection_lag_seconds"


def histogram_buckets(projection: Projection, name: str) -> list[tuple[float, float]]:
    """A Prometheus histogram's cumulative buckets: (upper bound, count), in order."""
    buckets: list[tuple[float, float]] = []
    for metric in projection.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == f"{name}_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
    return sorted(buckets)


def quantile(
    after: list[tuple[float, float]], before: list[tuple[float, float]], q: float
) -> float | None:
    """The q-quantile of what a histogram observed between two readings of its buckets, by
    linear interpolation inside the bucket it falls in."""
    pairs = zip(after, before, strict=True)
    counts = [(bound, count - earlier) for (bound, count), (_, earlier) in pairs]
    if not counts or counts[-1][1] == 0:
        return None
    rank = q * counts[-1][1]
    low_bound, low_count = 0.0, 0.0
    for bound, count in counts:
        if count >= rank:
            if bound == float("inf"):
                return low_bound
            share = (rank - low_count) / max(count - low_count, 1e-9)
            return low_bound + (bound - low_bound) * share
        low_bound, low_count = bound, count
    return None


class DeltaSizes:
    def __init__(self) -> None:
        self.by_op: dict[str, list[int]] = {"put": [], "patch": [], "del": []}
        self.metric_patches: list[tuple[str, str, int]] = []

    async def handle(self, msg: Msg) -> None:
        body = orjson.loads(msg.data)
        self.by_op[body["op"]].append(len(msg.data))
        if body["op"] == "patch" and body["patch"] and set(body["patch"]) <= METRIC_KEYS:
            self.metric_patches.append((body["type"], body["id"], len(msg.data)))


@contextlib.contextmanager
def collector_process(nats_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """``xorca collector`` in a process of its own (the projection's CPU is measured alone)."""
    env = {
        "XORCA_NATS_URL": nats_url,
        "XORCA_SECRET_KEY": KEY,
        "XORCA_COLLECTOR_ID": "bench",
        "XORCA_WATCH_POLL": "5",
        "XORCA_HTTP_PORT": "-1",
        "XORCA_LOG_LEVEL": "WARNING",
    }
    with service_process("collector", env) as process:
        yield process


async def fill_stream(nats_url: str, nc: Client) -> dict[str, Any]:
    """The collector's cold start: the pool's whole load into the stream."""
    js = nc.jetstream()
    started = time.perf_counter()
    with collector_process(nats_url):
        await wait_synced(js, {"bench"}, timeout=900)
    info = await js.stream_info(OBJECTS_STREAM)
    return {
        "collector_s": round(time.perf_counter() - started, 2),
        "messages": info.state.messages,
        "bytes": info.state.bytes,
    }


async def whole_object_size(store: Store, type_: str, id_: str) -> int | None:
    async with store.reader() as reader:
        row = await reader.get(type_, id_)
    if row is None or row.data is None:
        return None
    put = ObjectProjected(op="put", type=type_, id=id_, pool=row.pool, rev=row.rev, data=row.data)
    return len(encode_delta(put, commit=row.rev, chain="x:1").body)


async def follow_rates(
    projection: Projection,
    control_url: str,
    args: argparse.Namespace,
    follows: list[dict[str, Any]],
    label: str,
) -> None:
    """The projection following the pool at each rate; one line of figures per rate."""
    for rate in [float(r) for r in args.rates.split(",")]:
        before = projection.metrics.value("xorca_projection_messages_total")
        batches = projection.metrics.value("xorca_projection_batch_size_count")
        lag_before = histogram_buckets(projection, LAG)
        wall, cpu = time.perf_counter(), time.process_time()
        await set_activity(control_url, rate)
        await asyncio.sleep(args.seconds)
        await set_activity(control_url, 0)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        applied = projection.metrics.value("xorca_projection_messages_total") - before
        transactions = projection.metrics.value("xorca_projection_batch_size_count") - batches
        follows.append({
            "rate": rate,
            "messages_per_s": round(applied / wall),
            "transactions_per_s": round(transactions / wall, 1),
            "messages_per_transaction": round(applied / max(transactions, 1), 1),
            "lag_p50_ms": _ms(quantile(histogram_buckets(projection, LAG), lag_before, 0.5)),
            "lag_p99_ms": _ms(quantile(histogram_buckets(projection, LAG), lag_before, 0.99)),
            "process_cpu_share": round(cpu / wall, 2),
        })  # fmt: skip
        print(f"  {label}: follow {follows[-1]}")
        await asyncio.sleep(2)


async def bench_store(
    label: str,
    url: str,
    nats_url: str,
    control_url: str,
    nc: Client,
    args: argparse.Namespace,
) -> dict[str, Any]:
    settings = ProjectionSettings(
        nats_url=nats_url,
        database_url=url,
        projection_batch=args.batch,
        projection_wait=0.05,
        http_port=-1,
        log_json=False,
    )
    cpu = time.process_time()
    report = await rebuild(settings)
    cpu = time.process_time() - cpu
    rebuilt = {
        "seconds": round(report.seconds, 2),
        "cpu_s": round(cpu, 2),
        "messages": report.messages,
        "messages_per_s": round(report.messages / report.seconds),
        "objects": sum(report.objects.values()),
        "objects_per_s": round(sum(report.objects.values()) / report.seconds),
        "vms": report.objects.get("vm", 0),
    }
    print(f"  {label}: rebuilt in {rebuilt['seconds']} s ({rebuilt['messages_per_s']} msgs/s)")
    follows = []
    sizes = DeltaSizes()
    sub = await nc.subscribe("xorca.v1.delta.>", cb=sizes.handle)
    with collector_process(nats_url):
        async with service_running(run_projection, settings) as projection:
            started = time.perf_counter()
            while not projection.readiness()[0]:  # noqa: ASYNC110 - a computed state
                await asyncio.sleep(0.05)
            restart_s = round(time.perf_counter() - started, 2)
            print(f"  {label}: restarted on the built store in {restart_s} s")
            # the collector's resynchronisation (the pool changed since it last ran) goes first
            await asyncio.sleep(5)
            while projection.lag:  # noqa: ASYNC110 - a computed state
                await asyncio.sleep(0.1)
            await follow_rates(projection, control_url, args, follows, label)
            await nc.flush()
            await sub.unsubscribe()
            whole = []
            for type_, id_, _ in sizes.metric_patches[:500]:
                size = await whole_object_size(projection.store, type_, id_)
                if size is not None:
                    whole.append(size)
    patches = [size for _, _, size in sizes.metric_patches]
    deltas = {op: {"count": len(v), "avg_bytes": round(statistics.fmean(v)) if v else None}
              for op, v in sizes.by_op.items()}  # fmt: skip
    deltas["metric_only_patch"] = {
        "count": len(patches),
        "avg_bytes": round(statistics.fmean(patches)) if patches else None,
        "whole_object_avg_bytes": round(statistics.fmean(whole)) if whole else None,
        "ratio": round(statistics.fmean(patches) / statistics.fmean(whole), 3)
        if patches and whole
        else None,
    }
    return {"store": label, "rebuild": rebuilt, "restart_s": restart_s, "follow": follows,
            "deltas": deltas}  # fmt: skip


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"vms": args.vms, "hosts": args.hosts, "batch": args.batch}
    with simulator(args.vms, args.hosts) as (_, pool):
        async with nats_with_pool(pool, "bench-projection-") as bus:
            nc, control_url = bus.nc, pool["control_url"]
            results["stream"] = await fill_stream(bus.url, nc)
            print(f"stream filled: {results['stream']}")
            runs = []
            sqlite = f"sqlite:///{bus.tmp / 'state.db'}"
            runs.append(await bench_store("sqlite", sqlite, bus.url, control_url, nc, args))
            postgres = args.postgres or os.environ.get("XORCA_TEST_POSTGRES_URL")
            if postgres:
                async with postgres_database(postgres) as url:
                    runs.append(
                        await bench_store("postgresql", url, bus.url, control_url, nc, args)
                    )
            else:
                print("postgresql: skipped (no --postgres and no XORCA_TEST_POSTGRES_URL)")
            results["runs"] = runs
    return results


def show(result: dict[str, Any]) -> None:
    print()
    print(f"{result['vms']} VMs on {result['hosts']} hosts; stream: {result['stream']}")
    table(
        [("store", "<12"), ("rebuild s", ">9"), ("msgs/s", ">9"), ("objects", ">9"),
         ("objs/s", ">9")],
        [(r["store"], r["rebuild"]["seconds"], r["rebuild"]["messages_per_s"],
          r["rebuild"]["objects"], r["rebuild"]["objects_per_s"]) for r in result["runs"]],
    )  # fmt: skip
    print()
    table(
        [("store", "<12"), ("rate", ">6"), ("msgs/s", ">8"), ("txn/s", ">7"), ("msg/txn", ">8"),
         ("lag p50", ">9"), ("lag p99", ">9"), ("cpu", ">6")],
        [(r["store"], f["rate"], f["messages_per_s"], f["transactions_per_s"],
          f["messages_per_transaction"], f["lag_p50_ms"], f["lag_p99_ms"],
          f["process_cpu_share"]) for r in result["runs"] for f in r["follow"]],
    )  # fmt: skip
    print()
    for r in result["runs"]:
        d = r["deltas"]
        m = d["metric_only_patch"]
        print(f"{r['store']}: deltas put {d['put']} patch {d['patch']} del {d['del']}")
        print(f"  metric-only patches: {m['count']}, {m['avg_bytes']} B on average, against "
              f"{m['whole_object_avg_bytes']} B for the whole object "
              f"(ratio {m['ratio']})")  # fmt: skip


def main() -> None:
    parser = arguments(__doc__, "projection")
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--rates", default="100,1000")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    report(asyncio.run(run(args)), show, args.out)


if __name__ == "__main__":
    main()
