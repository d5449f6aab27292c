"""The client against a running simulator: calls over both protocols, tasks, metrics, consoles,
and the server's refusals as typed errors."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.support.rfb_client import MiniRfbClient
from tests.support.simthread import FAST, SimThread
from tests.support.waiting import eventually
from xorca.xapi.client import (
    BadPowerState,
    ConsoleUnavailable,
    HandleInvalid,
    MethodUnknown,
    Protocol,
    RetryPolicy,
    SeriesKey,
    Task,
    TaskCancelled,
    Xapi,
)
from xorca.xapi_sim.simulator import SimOptions
from xorca.xapi_sim.state.pool import SimConfig

QUICK = RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.1, probe_timeout=2)


def connect(sim: SimThread, **options: Any) -> Xapi:
    described = sim.pool(1).describe()
    options.setdefault("retry", QUICK)
    return Xapi(described["url"], described["username"], described["password"], **options)


@pytest.fixture(params=["jsonrpc", "xmlrpc"])
async def xapi(sim: SimThread, request: pytest.FixtureRequest) -> AsyncIterator[Xapi]:
    protocol: Protocol = request.param
    async with connect(sim, protocol=protocol) as client:
        yield client


async def guests(xapi: Xapi, power_state: str) -> list[str]:
    records = await xapi.VM.get_all_records()
    return [
        ref
        for ref, r in records.items()
        if r["power_state"] == power_state
        and not r["is_a_template"]
        and not r["is_a_snapshot"]
        and not r["is_control_domain"]
    ]


async def test_calls_and_values_per_protocol(xapi: Xapi, sim: SimThread) -> None:
    assert xapi.protocol in ("jsonrpc", "xmlrpc")
    assert len(xapi.hosts) == 3
    pool = (await xapi.pool.get_all())[0]
    master = await xapi.call("pool.get_master", pool)
    assert xapi.url_for(await xapi.host.get_address(master)) == xapi.master_url
    record = await xapi.VM.get_record((await guests(xapi, "Halted"))[0])
    if xapi.protocol == "jsonrpc":
        assert isinstance(record["memory_static_max"], int)  # JSON-RPC: native ints
    else:
        assert isinstance(record["memory_static_max"], str)  # XML-RPC: untyped decimal text
    assert isinstance(record["VCPUs_at_startup"], int | str)
    assert isinstance(record["is_a_template"], bool)
    assert "VM.get_all" in await xapi.call("system.listMethods")
    consoles = await xapi.api.console.get_all()  # the class the console() method hides
    assert isinstance(consoles, list)


async def test_the_servers_refusals_are_typed(xapi: Xapi) -> None:
    with pytest.raises(HandleInvalid) as handle:
        await xapi.VM.get_record("OpaqueRef:00000000-0000-0000-0000-000000000000")
    assert handle.value.cls == "VM" and handle.value.method == "VM.get_record"
    with pytest.raises(MethodUnknown):
        await xapi.Nonsense.get_all()
    with pytest.raises(MethodUnknown):
        await xapi.VM.no_such_message()
    with pytest.raises(MethodUnknown):  # wrong parameter count
        await xapi.VM.get_record()
    with pytest.raises(HandleInvalid):
        await xapi.VM.get_by_uuid("not-a-uuid")


async def test_tasks_give_decoded_results_and_raise_their_errors(xapi: Xapi) -> None:
    halted = (await guests(xapi, "Halted"))[0]
    task = await xapi.Async.VM.clone(halted, f"client copy {xapi.protocol}")
    assert isinstance(task, Task) and task.method == "Async.VM.clone"
    copy = await task.result(timeout=30)
    assert isinstance(copy, str) and copy.startswith("OpaqueRef:")
    assert await xapi.VM.get_name_label(copy) == f"client copy {xapi.protocol}"
    assert await task.progress() == 1.0 and await task.status() == "success"
    await task.destroy()
    with pytest.raises(HandleInvalid):
        await asyncio.wait_for(task.result(), 5)  # gone: said at once, not after a poll

    running = (await guests(xapi, "Running"))[0]
    task = await xapi.call("Async.VM.start", running, False, False)
    with pytest.raises(BadPowerState) as info:
        await task.result(timeout=30)
    assert info.value.actual == "running" and info.value.method == "Async.VM.start"


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[SimThread]:
    """Operations that last long enough to watch and cancel."""
    config = SimConfig(
        failed_login_delay=0.2,
        operation_seconds=2.0,
        event_batching_delay=FAST.event_batching_delay,
    )
    with SimThread(
        SimOptions(pools=1, hosts_per_pool=1, vms_per_pool=6, seed=5, config=config)
    ) as s:
        yield s


async def test_progress_and_cancellation(slow_sim: SimThread) -> None:
    async with connect(slow_sim) as xapi:
        running = await guests(xapi, "Running")
        task = await xapi.Async.VM.hard_shutdown(running[0])
        assert await eventually(task.progress, what="progress", interval=0.05) > 0
        await task.cancel()
        with pytest.raises(TaskCancelled):
            await task.result(timeout=10)
        assert await xapi.VM.get_power_state(running[0]) == "Running"

        task = await xapi.Async.VM.hard_shutdown(running[1])
        await task.result(timeout=10, poll=5)
        assert await xapi.VM.get_power_state(running[1]) == "Halted"


async def test_rrd_updates_json_and_xml(xapi: Xapi) -> None:
    records = await xapi.VM.get_all_records()
    by_host: dict[str, list[str]] = {}
    for r in records.values():
        if r["power_state"] == "Running" and not r["is_control_domain"]:
            by_host.setdefault(r["resident_on"], []).append(r["uuid"])
    host_ref, vm_uuids = next(iter(by_host.items()))
    resident = {r["uuid"] for r in records.values() if r["resident_on"] == host_ref}
    host_uuid = await xapi.host.get_uuid(host_ref)
    as_json = await xapi.rrd_updates(host_ref, start=-300, interval=5)
    address = xapi.hosts[host_ref]
    as_xml = await xapi.rrd_updates(address, start=-300, interval=5, json=False)
    for updates in (as_json, as_xml):
        assert updates.step == 5 and updates.start <= updates.end
        cpu = SeriesKey("AVERAGE", "host", host_uuid, "cpu0")
        points = updates.series[cpu]
        assert [t for t, _ in points] == sorted(t for t, _ in points)  # oldest first
        assert all(isinstance(v, float) for _, v in points)
        assert set(vm_uuids) <= {k.uuid for k in updates.series if k.kind == "vm"} <= resident
    assert set(as_json.series) == set(as_xml.series)
    only_host = await xapi.rrd_updates(host_ref, vm_uuids=[], cf="MAX")
    assert {k.kind for k in only_host.series} == {"host"} and {k.cf for k in only_host.series} == {
        "MAX"
    }
    one_vm = await xapi.rrd_updates(host_ref, host=False, vm_uuids=vm_uuids[:1])
    assert {k.uuid for k in one_vm.series} == {vm_uuids[0]}
    assert not math.isnan(one_vm.latest(next(iter(one_vm.series))))


async def test_console_tunnel_carries_rfb(xapi: Xapi) -> None:
    running = (await guests(xapi, "Running"))[0]
    async with await xapi.console(running) as console:
        client = MiniRfbClient(console.reader, console.writer)
        await asyncio.wait_for(client.handshake(), 10)
        assert client.width > 0 and client.name == await xapi.VM.get_name_label(running)
        assert console.location.startswith("https://")
    halted = (await guests(xapi, "Halted"))[0]
    with pytest.raises(ConsoleUnavailable) as info:
        await xapi.console(halted)
    assert info.value.vm == halted
