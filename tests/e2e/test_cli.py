"""The command line as a user runs it: ``xorca sim --json`` and ``xorca demo --json`` in a process
of their own, read from their one JSON line, used (the demo's pools through XAPI and through the
log on its NATS), then stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tests.support.cli import XORCA, read_line, stop
from tests.support.sdk import sdk_session
from xorca.contracts.objects import decode_object
from xorca.store import Store


@pytest.fixture
def started(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    args: list[str] = request.param
    process = subprocess.Popen(
        [XORCA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process, args
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def login_works(pool: dict[str, Any]) -> None:
    with sdk_session(pool["url"], pool["username"], pool["password"]) as session:
        assert session.xenapi.pool.get_all()


@pytest.mark.parametrize(
    "started", [["sim", "--pools", "2", "--vms-per-pool", "5", "--json"]], indirect=True
)
def test_sim_prints_one_line_per_pool_then_stops_cleanly(
    started: tuple[subprocess.Popen[str], list[str]],
) -> None:
    process, _ = started
    pools = [json.loads(read_line(process)) for _ in range(2)]
    assert [p["name"] for p in pools] == ["Paris DC", "Lyon DR"]
    for pool in pools:
        assert set(pool) >= {"name", "url", "members", "username", "password", "control_url"}
        assert len(pool["members"]) == 2
        login_works(pool)
    assert stop(process) == 0


@pytest.mark.parametrize("started", [["demo", "--json"]], indirect=True)
async def test_demo_json_line_describes_everything_that_runs(
    started: tuple[subprocess.Popen[str], list[str]],
) -> None:
    process, _ = started
    line = json.loads(await asyncio.to_thread(read_line, process, 120))
    assert len(line["pools"]) == 2
    for pool in line["pools"]:
        login_works(pool)
    assert httpx.get(line["control_url"] + "/pools").status_code == 200
    assert httpx.get(line["collector_url"] + "/readyz").status_code == 200
    # printed once both pools are published: a subscriber finds them on xorca.v1.obj.>
    assert {p["uuid"] for p in line["pools"]} == await pools_in_the_log(line["nats_url"])
    # and projected: the state store holds both pools and their VMs, the projection is ready
    ready = httpx.get(line["projection_url"] + "/readyz")
    assert ready.status_code == 200 and ready.json()["position"] > 0
    store = await Store.open(line["database_url"], migrate=False)
    async with store, store.reader() as reader:
        pools = await reader.list("pool")
        vms = await reader.count("vm")
        statuses = await reader.list("pool-status")
    assert {row.id for row in pools} == {p["uuid"] for p in line["pools"]}
    assert vms >= 100
    assert {row.data["state"] for row in statuses if row.data} == {"synced"}
    # and served: the api answers with the token the line gives, and only with it
    auth = {"Authorization": f"Bearer {line['token']}"}
    listed = httpx.get(line["api_url"] + "/api/v1/pools", headers=auth)
    assert listed.status_code == 200
    assert {p["id"] for p in listed.json()["items"]} == {p["uuid"] for p in line["pools"]}
    assert httpx.get(line["api_url"] + "/api/v1/pools").status_code == 401
    assert stop(process) == 0


async def pools_in_the_log(nats_url: str) -> set[str]:
    """The pools whose objects the stream holds (read from the start, as a new consumer would)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            "xorca.v1.obj.>",
            durable=None,
            stream="XORCA_OBJECTS",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
        )
        seen: set[str] = set()
        while (await sub.consumer_info()).num_pending and len(seen) < 2:
            for msg in await sub.fetch(500, timeout=5):
                change = decode_object(msg.subject, msg.headers, msg.data)
                assert change.record["uuid"] == change.uuid
                seen.add(change.pool)
        return seen
    finally:
        await nc.close()
