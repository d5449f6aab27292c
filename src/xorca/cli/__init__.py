"""The ``xorca`` command line: one subcommand per service, and ``demo`` that runs them all."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated

import orjson
import typer

from xorca.cli.api import api
from xorca.cli.collector import collector
from xorca.cli.demo import DemoInfo, demo_line, run_demo
from xorca.cli.pool import pool_app
from xorca.cli.projection import projection_app
from xorca.cli.token import token_app
from xorca.xapi_sim.http.control import ControlEndpoint
from xorca.xapi_sim.run import serve
from xorca.xapi_sim.simulator import SimOptions, Simulator
from xorca.xapi_sim.state.pool import SimConfig

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(pool_app, name="pool")
app.command()(collector)
app.command()(api)
app.add_typer(projection_app, name="projection")
app.add_typer(token_app, name="token")

Pools = Annotated[int, typer.Option(help="Number of simulated pools.", min=1, max=50)]
Hosts = Annotated[int, typer.Option(help="Hosts in each pool.", min=1, max=64)]
Vms = Annotated[int, typer.Option(help="VMs in each pool.", min=0, max=100_000)]
Seed = Annotated[int, typer.Option(help="Seed: the same seed gives the same pools.")]
Activity = Annotated[float, typer.Option(help="Changes per second per pool (0: still).", min=0)]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON lines when ready.")]


def _print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value).decode() + "\n")
    sys.stdout.flush()


@app.command()
def sim(
    pools: Pools = 1,
    hosts_per_pool: Hosts = 3,
    vms_per_pool: Vms = 50,
    seed: Seed = 1,
    activity: Activity = 0.0,
    base_port: Annotated[
        int, typer.Option(help="Pool i listens on BASE_PORT+i-1 (0: free ports).")
    ] = 0,
    control_port: Annotated[int, typer.Option(help="Port of the fault-injection endpoint.")] = 0,
    login_delay: Annotated[
        float, typer.Option(help="Seconds before a failed login answers.")
    ] = 5.0,
    operation_seconds: Annotated[float, typer.Option(help="Duration of a VM operation.")] = 1.0,
    tls: Annotated[
        bool, typer.Option("--tls", help="Serve HTTPS with self-signed certificates.")
    ] = False,
    json: Json = False,
) -> None:
    """Run simulated XAPI pools (one HTTP endpoint per host) until Ctrl-C."""
    options = SimOptions(
        pools=pools,
        hosts_per_pool=hosts_per_pool,
        vms_per_pool=vms_per_pool,
        seed=seed,
        activity_rate=activity,
        base_port=base_port,
        tls=tls,
        config=SimConfig(failed_login_delay=login_delay, operation_seconds=operation_seconds),
    )

    def announce(sim: Simulator, control: ControlEndpoint) -> None:
        for pool in sim.describe():
            if json:
                _print_json({**pool, "control_url": control.url})
            else:
                _describe_pool(pool)
        if not json:
            typer.echo(f"fault injection: {control.url}/pools   (Ctrl-C stops)")

    _run(serve(options, control_port, announce))


@app.command()
def demo(json: Json = False) -> None:
    """Run everything built so far: NATS with JetStream, two living simulated pools, a
    collector publishing them, the projection keeping the state store, and the API gateway on
    http://127.0.0.1:8080 with the web UI (built first when web/dist is missing or stale;
    progress on stderr). Ctrl-C stops it all."""
    options = SimOptions(pools=2, hosts_per_pool=3, vms_per_pool=60, activity_rate=2.0)

    def announce(info: DemoInfo) -> None:
        if json:
            _print_json(demo_line(info))
            return
        typer.echo("xorca demo is running. Simulated XAPI pools:")
        for pool in info.sim.describe():
            _describe_pool(pool)
        typer.echo(f"NATS (JetStream): {info.nats_url}   objects on xorca.v1.obj.>, "
                   "deltas on xorca.v1.delta.>")  # fmt: skip
        if info.collector_url:
            typer.echo(f"collector: {info.collector_url}/readyz  {info.collector_url}/metrics")
        if info.projection_url:
            typer.echo(f"projection: {info.projection_url}/readyz  {info.projection_url}/metrics")
        typer.echo(f"state store: {info.database_url}")
        if info.web_ui:
            typer.echo(f"web UI: {info.api_url}/  (log in with the API token below)")
        else:
            typer.echo(f"web UI: not built ({info.api_url}/ says how; why: above)")
        typer.echo(f"API: {info.api_url}/api/v1  (docs: {info.api_url}/api/v1/docs)")
        typer.echo(f"API token (shown once): {info.token}")
        typer.echo(f"fault injection: {info.control.url}/pools   (Ctrl-C stops)")

    _run(run_demo(options, announce))


def _describe_pool(pool: dict[str, object]) -> None:
    typer.echo(
        f"  {pool['name']}: {pool['url']}  user {pool['username']}  password {pool['password']}"
    )
    members = pool.get("members") or []
    if members:
        typer.echo(f"    members: {', '.join(str(m) for m in members)}")  # type: ignore[attr-defined]


def _run(coro: object) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(coro)  # type: ignore[arg-type]


def main() -> None:
    app()
