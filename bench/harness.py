"""What the benchmarks share, so that each bench_*.py holds only its measurement.

- **processes**: the simulator (`simulator`: ``xorca sim --json`` in a process of its own, the
  pool it prints), any ``xorca <service>`` (`service_process`), NATS with the bench pool
  registered (`nats_with_pool`), the whole stack behind the gateway (`start_services`, `settle`),
  a throwaway PostgreSQL database (`postgres_database`);
- **the pool**: its activity (`set_activity`), a guest VM to probe (`a_vm`);
- **figures**: `percentiles`, CPU seconds of a process from ``/proc`` (`process_cpu`, `CpuMeter`);
- **the gateway**: readiness (`ready_json`), its metrics (`gateway_metrics`), SSE frames read
  from a stream (`sse_frames`);
- **output**: the command line (`arguments`, with ``--out``), the table printer (`table`), the
  JSON writer (`write_json`) and both at the end of a run (`report`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import resource
import secrets
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
import nats
import orjson
from nats.aio.client import Client
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from xorca.bus.registry import Registry
from xorca.bus.setup import ensure_streams
from xorca.bus.tokens import Tokens
from xorca.cli.demo import NatsProcess, wait_synced
from xorca.contracts.passwords import generate_secret_key
from xorca.contracts.registry import PoolEntry
from xorca.contracts.subjects import OBJECTS_STREAM
from xorca.xapi.client import Xapi

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
XORCA = str(Path(sys.executable).parent / "xorca")
#: the registry's secret key, given to every service a bench starts
KEY = generate_secret_key()
CLK_TCK = os.sysconf("SC_CLK_TCK")

Pool = dict[str, Any]


# -- processes ----------------------------------------------------------------------------------


def start_sim(vms: int, hosts: int) -> tuple[subprocess.Popen[str], Pool]:
    """``xorca sim --json`` with one pool of ``hosts`` hosts and ``vms`` VMs; the process and the
    pool it printed (url, credentials, control_url…), with ``startup_s`` added."""
    args = [XORCA, "sim", "--json", "--pools", "1", "--hosts-per-pool", str(hosts),
            "--vms-per-pool", str(vms), "--operation-seconds", "0.5"]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 600)
    if not ready:
        process.kill()
        raise SystemExit("simulator did not start")
    pool = json.loads(process.stdout.readline())
    pool["startup_s"] = time.monotonic() - started
    return process, pool


@contextlib.contextmanager
def simulator(vms: int, hosts: int) -> Iterator[tuple[subprocess.Popen[str], Pool]]:
    """`start_sim`, the process stopped on exit."""
    process, pool = start_sim(vms, hosts)
    try:
        yield process, pool
    finally:
        process.terminate()
        process.wait(30)


@contextlib.contextmanager
def service_process(
    command: str, env: dict[str, str], log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``xorca <command>`` in a process of its own (``env`` added to this one's), its output in
    ``log`` (None: this process' own); stopped on exit."""
    with contextlib.ExitStack() as files:
        out = files.enter_context(log.open("ab")) if log is not None else None
        process = subprocess.Popen([XORCA, command], env=os.environ | env, stdout=out, stderr=out)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def raise_nofile() -> int:
    """The soft limit of open files raised to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class Nats:
    """The wheel's ``nats-server`` (file storage in ``tmp``), a connection to it, and ``tmp``."""

    url: str
    nc: Client
    js: JetStreamContext
    tmp: Path


@contextlib.asynccontextmanager
async def nats_with_pool(pool: Pool, prefix: str) -> AsyncIterator[Nats]:
    """NATS in a temporary directory, its streams made and ``pool`` registered as ``bench``."""
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as tmp,
        NatsProcess(Path(tmp)) as server,
    ):
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            await ensure_streams(js)
            registry = await Registry.open(js, KEY, create=True)
            await registry.put(
                PoolEntry(id="bench", name="bench", url=pool["url"], username=pool["username"],
                          password=SecretStr(pool["password"]))
            )  # fmt: skip
            yield Nats(server.url, nc, js, Path(tmp))
        finally:
            await nc.close()


@contextlib.asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """A database ``xorca_bench_<hex>`` of its own on the server of ``admin_url``: its URL (with
    the driver ``admin_url`` names); dropped on exit."""
    name = f"xorca_bench_{secrets.token_hex(4)}"
    admin = make_url(admin_url)
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(plain, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    await execute(f"CREATE DATABASE {name}")
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        await execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# -- the pool -----------------------------------------------------------------------------------


async def set_activity(control_url: str, rate: float) -> None:
    """The simulated pool's activity: ``rate`` changes a second (0 stops it)."""
    async with httpx.AsyncClient(timeout=120) as http:  # a saturated simulator answers late
        answer = await http.post(f"{control_url}/pools/1/activity", json={"rate": rate})
        answer.raise_for_status()


async def a_vm(pool: Pool) -> tuple[str, str]:
    """A guest VM for a probe (ref, uuid): one the activity does not destroy."""
    async with Xapi(pool["url"], pool["username"], pool["password"]) as xapi:
        records = await xapi.VM.get_all_records()
    for ref, vm in records.items():
        if not (vm["is_a_template"] or vm["is_control_domain"] or vm["is_a_snapshot"]):
            return ref, vm["uuid"]
    raise SystemExit("no guest VM in the pool")


# -- the whole stack ----------------------------------------------------------------------------


@dataclass
class Services:
    """Every service of a stack, each ``xorca <service>`` in a process of its own."""

    token: str
    api_url: str
    projection_url: str
    pids: dict[str, int]
    timings: dict[str, float]


async def start_services(
    bus: Nats,
    services: contextlib.ExitStack,
    *,
    api_env: dict[str, str] | None = None,
) -> Services:
    """Make a token, then start the collector (until the pool is in the stream), the projection
    (on SQLite in ``bus.tmp``, until it applied the stream) and the gateway (until ready). Logs
    go to ``<tmp>/<service>.log``; the processes stop with ``services``."""
    js, tmp = bus.js, bus.tmp
    token, _ = await (await Tokens.open(js, create=True)).create("bench")
    common = {"XORCA_NATS_URL": bus.url, "XORCA_LOG_LEVEL": "WARNING", "XORCA_LOG_JSON": "false",
              "XORCA_DATABASE_URL": f"sqlite:///{tmp / 'state.db'}"}  # fmt: skip
    timings: dict[str, float] = {}
    started = time.perf_counter()
    collector = services.enter_context(service_process(
        "collector",
        common | {"XORCA_SECRET_KEY": KEY, "XORCA_COLLECTOR_ID": "bench",
                  "XORCA_WATCH_POLL": "5", "XORCA_HTTP_PORT": "-1"},
        tmp / "collector.log",
    ))  # fmt: skip
    await wait_synced(js, {"bench"}, timeout=900)
    timings["collector_synced_s"] = round(time.perf_counter() - started, 2)
    projection_port = free_port()
    projection_url = f"http://127.0.0.1:{projection_port}"
    started = time.perf_counter()
    projection = services.enter_context(service_process(
        "projection",
        common | {"XORCA_HTTP_HOST": "127.0.0.1", "XORCA_HTTP_PORT": str(projection_port)},
        tmp / "projection.log",
    ))  # fmt: skip
    end = (await js.stream_info(OBJECTS_STREAM)).state.last_seq
    await ready_json(f"{projection_url}/readyz", 900, lambda b: b["position"] >= end)
    timings["projection_built_s"] = round(time.perf_counter() - started, 2)
    api_url = f"http://127.0.0.1:{free_port()}"
    started = time.perf_counter()
    gateway = services.enter_context(service_process(
        "api",
        common | {"XORCA_API_HOST": "127.0.0.1", "XORCA_API_PORT": api_url.rsplit(":")[-1],
                  "XORCA_SECRET_KEY": KEY, **(api_env or {})},
        tmp / "api.log",
    ))  # fmt: skip
    await ready_json(f"{api_url}/readyz", 300)
    timings["gateway_ready_s"] = round(time.perf_counter() - started, 2)
    pids = {"gateway": gateway.pid, "projection": projection.pid, "collector": collector.pid}
    return Services(token, api_url, projection_url, pids, timings)


async def ready_json(url: str, timeout: float, check: Any = None) -> dict[str, Any]:
    """``GET url`` until it answers 200 (and ``check(body)`` holds); its body."""
    async with httpx.AsyncClient(timeout=10) as http, asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(httpx.HTTPError):
                answer = await http.get(url)
                if answer.status_code == 200:
                    body: dict[str, Any] = answer.json()
                    if check is None or check(body):
                        return body
            await asyncio.sleep(0.2)


async def settle(js: Any, projection_url: str, api_url: str, timeout: float = 300) -> float:
    """Until the projection has applied the whole stream and the gateway's live view has
    everything the store holds (and answers again); the seconds that took."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            for _ in range(3):  # the stream keeps growing a little after the activity stops
                end = (await js.stream_info(OBJECTS_STREAM)).state.last_seq
                await ready_json(
                    f"{projection_url}/readyz", timeout, lambda b, end=end: b["position"] >= end
                )
                await ready_json(f"{api_url}/readyz", timeout, lambda b: b.get("lag") == 0)
                await asyncio.sleep(1)
    except TimeoutError:
        print(f"  (the pipeline did not settle in {timeout} s: going on)")
    return round(time.perf_counter() - started, 1)


def gateway_metric(text: str, name: str) -> float:
    """The sum of a metric's samples in Prometheus' text format."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


async def gateway_metrics(api_url: str, timeout: float = 300) -> dict[str, float]:
    """A few of the gateway's metrics (a gateway busy with a backlog answers late)."""
    async with httpx.AsyncClient(timeout=timeout) as http:
        text = (await http.get(f"{api_url}/metrics")).text
    return {
        "sse_clients": gateway_metric(text, "xorca_api_sse_clients"),
        "sse_events": gateway_metric(text, "xorca_api_sse_events_total"),
        "sse_cut": gateway_metric(text, "xorca_api_sse_cut_total"),
        "hub_resyncs": gateway_metric(text, "xorca_api_hub_resyncs_total"),
    }


def notable_lines(log: Path) -> dict[str, Any]:
    """How many warnings and errors a service logged, and the first few distinct ones."""
    lines = notable = 0
    first: list[str] = []
    with contextlib.suppress(FileNotFoundError), log.open(errors="replace") as text:
        for line in text:
            lines += 1
            if any(word in line for word in ("WARNING", "ERROR", "Traceback")):
                notable += 1
                shape = re.sub(r"\d+", "N", line.rstrip().split(" ", 2)[-1])[:200]
                if len(first) < 5 and shape not in first:
                    first.append(shape)
    return {"lines": lines, "notable": notable, "first": first}


@dataclass(frozen=True)
class Frame:
    """One SSE event as it came: its name, its ``data`` (not decoded), whether it set an id, and
    its bytes on the wire (``event:``, ``id:``, ``data:`` lines and the blank line)."""

    event: str
    data: str
    has_id: bool
    size: int


async def sse_frames(lines: AsyncIterator[str]) -> AsyncIterator[Frame]:
    """The events of a ``text/event-stream`` read line by line (the gateway writes one ``data``
    line per event; comments and events without data are skipped)."""
    name, data, has_id, size = "message", "", False, 0
    async for line in lines:
        size += len(line.encode()) + 1
        if line == "":
            if data:
                yield Frame(name, data, has_id, size)
            name, data, has_id, size = "message", "", False, 0
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line.startswith("id: "):
            has_id = True


# -- figures ------------------------------------------------------------------------------------


def percentiles(
    values: Sequence[float],
    *,
    scale: float = 1000.0,
    method: Literal["linear", "nearest"] = "linear",
) -> dict[str, float]:
    """p50, p95, p99 and max of ``values`` times ``scale`` (seconds to milliseconds by default),
    rounded to 0.1: interpolated linearly between the two nearest ranks (an ``inf``, a lost
    probe, is the answer wherever it is one of them), or the nearest rank."""
    if not values:
        return {}
    ordered = sorted(v * scale for v in values)

    def at(q: float) -> float:
        if method == "nearest":
            return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]
        rank = q * (len(ordered) - 1)
        low, high = math.floor(rank), math.ceil(rank)
        if math.isinf(ordered[high]):
            return ordered[high]
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

    return {"p50": round(at(0.5), 1), "p95": round(at(0.95), 1), "p99": round(at(0.99), 1),
            "max": round(ordered[-1], 1)}  # fmt: skip


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all the machine's CPUs so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


class CpuMeter:
    """CPU shares (of one core) of named processes, and the machine's busy share, over a span."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.wall = time.perf_counter()
        self.cpu = {name: process_cpu(pid) for name, pid in pids.items()}
        self.machine = machine_ticks()

    def shares(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        out = {name: round((process_cpu(pid) - self.cpu[name]) / wall, 3)
               for name, pid in self.pids.items()}  # fmt: skip
        busy, total = machine_ticks()
        out["machine"] = round((busy - self.machine[0]) / max(total - self.machine[1], 1), 3)
        return out


# -- output -------------------------------------------------------------------------------------


def arguments(doc: str | None, name: str) -> argparse.ArgumentParser:
    """The command line of a bench: its docstring as help, and ``--out`` (where its JSON goes,
    ``bench/results/<name>.json`` by default)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=RESULTS / f"{name}.json")
    return parser


#: a column: its title and the format of its values (``">8.1f"``, ``"<12"``…); a value that is
#: None or missing is shown as ``-``
Column = tuple[str, str]


def table(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> None:
    """Print the titles, then one line a row, each value in its column's format and width."""

    def width(spec: str) -> tuple[str, int]:
        found = re.match(r"([<>^]?)(\d+)", spec)
        assert found is not None, f"a column's format starts with its width: {spec!r}"
        return found.group(1) or ">", int(found.group(2))

    def cell(value: Any, spec: str) -> str:
        if value is None or value == "":
            align, size = width(spec)
            return f"{'-' if value is None else '':{align}{size}}"
        return format(value, spec)

    print("".join(f"{title:{''.join(map(str, width(spec)))}}" for title, spec in columns))
    for row in rows:
        print("".join(cell(v, spec) for v, (_, spec) in zip(row, columns, strict=True)))


def write_json(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"wrote {out}")


def report(result: dict[str, Any], show: Callable[[dict[str, Any]], None], out: Path) -> None:
    """The end of every run: the table, then the JSON."""
    show(result)
    write_json(result, out)
