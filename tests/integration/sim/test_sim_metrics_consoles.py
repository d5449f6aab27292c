"""Metrics and consoles through a running simulator's hosts (XAPI.md §5, §6)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import orjson
import pytest
import websockets

from tests.support.rfb_client import MiniRfbClient
from tests.support.sdk import sdk_session
from tests.support.simthread import SimThread


def topology(sim: SimThread) -> dict[str, Any]:
    """Each host's record, URL and resident running VMs."""
    described = sim.pool(1).describe()
    pool = sim.pool(1).pool
    with sdk_session(described["url"]) as session:
        records = session.xenapi.VM.get_all_records()
        hosts = session.xenapi.host.get_all_records()
    endpoints = {ref: ep.url for ref, ep in pool.endpoints.items()}
    running = {
        ref: [
            r["uuid"]
            for r in records.values()
            if r["resident_on"] == ref and r["power_state"] == "Running"
        ]
        for ref in hosts
    }
    return {"hosts": hosts, "urls": endpoints, "running": running}


@pytest.fixture
def session(sim: SimThread) -> str:
    url = sim.pool(1).describe()["url"]
    answer = httpx.post(
        f"{url}/jsonrpc",
        json={
            "jsonrpc": "2.0",
            "method": "session.login_with_password",
            "params": ["root", "xorca"],
            "id": 1,
        },
    )
    return str(answer.json()["result"])


def test_rrd_updates_need_a_session_or_basic_auth(sim: SimThread, session: str) -> None:
    url = sim.pool(1).describe()["url"]
    assert httpx.get(f"{url}/rrd_updates?start=-60").status_code == 401
    assert httpx.get(f"{url}/rrd_updates?start=-60&session_id=OpaqueRef:bad").status_code == 401
    assert httpx.get(f"{url}/rrd_updates?start=-60", auth=("root", "xorca")).status_code == 200
    assert httpx.get(f"{url}/rrd_updates?start=-60", auth=("root", "nope")).status_code == 401
    cookie = httpx.get(f"{url}/rrd_updates?start=-60", cookies={"session_id": session})
    assert cookie.status_code == 200


def test_each_host_reports_itself_and_its_resident_vms_only(sim: SimThread, session: str) -> None:
    top = topology(sim)
    for ref, url in top["urls"].items():
        answer = httpx.get(
            f"{url}/rrd_updates",
            params={"start": "-600", "host": "true", "json": "true", "session_id": session},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        body = orjson.loads(answer.content)
        legend = body["meta"]["legend"]
        owners = {entry.split(":")[2] for entry in legend if entry.split(":")[1] == "vm"}
        host_uuid = top["hosts"][ref]["uuid"]
        assert any(entry.startswith(f"AVERAGE:host:{host_uuid}:cpu") for entry in legend)
        assert set(top["running"][ref]) <= owners
        others = {u for r, uuids in top["running"].items() if r != ref for u in uuids}
        assert not owners & others
        times = [row["t"] for row in body["data"]]
        assert times == sorted(times, reverse=True)  # newest first
        assert all(len(row["values"]) == len(legend) for row in body["data"])


def test_xml_updates_and_full_dumps(sim: SimThread, session: str) -> None:
    top = topology(sim)
    ref, url = next((r, u) for r, u in top["urls"].items() if top["running"][r])
    answer = httpx.get(
        f"{url}/rrd_updates",
        params={"start": "-300", "cf": "AVERAGE", "session_id": session},
        headers={"Accept": "text/xml"},
    )
    root = ET.fromstring(answer.content)
    assert root.tag == "xport"
    assert int(root.findtext("meta/columns") or 0) == len(root.findall("meta/legend/entry"))
    xml = {"Accept": "text/xml"}  # without it, */* prefers JSON as xapi does since 23.17
    dump = httpx.get(f"{url}/host_rrd", params={"session_id": session}, headers=xml)
    assert ET.fromstring(dump.content).tag == "rrd"
    vm_uuid = top["running"][ref][0]
    vm_dump = httpx.get(
        f"{url}/vm_rrd", params={"uuid": vm_uuid, "session_id": session}, headers=xml
    )
    assert vm_dump.status_code == 200
    assert ET.fromstring(vm_dump.content).findtext("step") == "5"
    bad = httpx.get(
        f"{url}/rrd_updates", params={"start": "-60", "cf": "MEDIAN", "session_id": session}
    )
    assert bad.status_code == 400


def console_of(sim: SimThread) -> tuple[str, str, str]:
    """(host URL of a running VM, its rfb console uuid, another host's URL)."""
    top = topology(sim)
    pool = sim.pool(1).pool
    for ref, uuids in top["running"].items():
        for vm_uuid in uuids:
            vm = pool.db.by_uuid_ref("VM", vm_uuid)
            for console in pool.db.ref_set("VM", vm, "consoles"):
                if pool.db.text("console", console, "protocol") == "rfb":
                    other = next(u for r, u in top["urls"].items() if r != ref)
                    return top["urls"][ref], pool.db.text("console", console, "uuid"), other
    raise AssertionError("no running VM with a console")


async def connect_console(
    url: str, target: str
) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = url.split("//")[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"CONNECT {target} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    return head, reader, writer


async def test_connect_console_speaks_rfb(sim: SimThread, session: str) -> None:
    url, console, other = console_of(sim)
    head, reader, writer = await connect_console(
        url, f"/console?uuid={console}&session_id={session}"
    )
    assert head.startswith(b"HTTP/1.1 200")
    client = MiniRfbClient(reader, writer)
    await client.handshake()
    assert client.width > 0 and client.height > 0
    assert client.name
    writer.close()
    await writer.wait_closed()

    head, _, writer = await connect_console(other, f"/console?uuid={console}&session_id={session}")
    # not the host the VM runs on: console.ml raises its Failure, answered as a 500 page
    assert head.startswith(b"HTTP/1.1 500 Internal Error\r\n")
    writer.close()
    head, _, writer = await connect_console(url, f"/console?uuid={console}")
    assert head.startswith(b"HTTP/1.1 401 Unauthorised\r\n")
    assert b'WWW-Authenticate: Basic realm="Connection to VM console"' in head
    writer.close()


async def test_websocket_console(sim: SimThread, session: str) -> None:
    url, console, _ = console_of(sim)
    ws_url = url.replace("http://", "ws://") + f"/console?uuid={console}"
    async with websockets.connect(
        ws_url,
        subprotocols=["binary"],  # type: ignore[list-item]
        additional_headers={"Cookie": f"session_id={session}"},
    ) as ws:
        assert ws.subprotocol == "binary"
        greeting = await asyncio.wait_for(ws.recv(), 5)
        assert greeting == b"RFB 003.008\n"
