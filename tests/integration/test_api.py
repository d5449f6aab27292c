"""The api gateway with every part real: the simulator, a collector, NATS, the projection, the
state store (SQLite and PostgreSQL), the gateway over HTTP; a client as a browser would be.

- a snapshot at R plus the SSE events after R equals a later snapshot;
- a client that disconnects, misses changes and reconnects with Last-Event-ID gets exactly them;
- a revision older than the horizon gets ``reset``;
- a VM started through the api shows Running in the stream and its task succeeds;
- a bad action yields XAPI's error; bad requests are 4xx problems naming the problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from nats.js import JetStreamContext
from websockets.typing import Subprotocol

from tests.support.control import activity, still
from tests.support.nats import NatsServer
from tests.support.simthread import simulated
from tests.support.sse import Event, events
from tests.support.stack import Stack, running_stack
from tests.support.waiting import eventually
from xorca.api.bootstrap import run as run_api
from xorca.contracts import merge_patch
from xorca.contracts.deltas import OBJECT_TYPES
from xorca.runtime.inprocess import service_running

State = dict[tuple[str, str], dict[str, Any]]


@contextlib.asynccontextmanager
async def stack_on(
    nats_server: NatsServer, js: JetStreamContext, store_url: str, vms: int = 12, **settings: Any
) -> AsyncIterator[Stack]:
    with simulated(vms=vms) as sim:
        async with running_stack(nats_server, js, sim, store_url, **settings) as stack:
            yield stack


async def snapshot(client: httpx.AsyncClient) -> tuple[State, int]:
    """Every object of every collection, and the lowest revision of the answers."""
    state: State = {}
    revisions = []
    for collection in OBJECT_TYPES.values():
        answer = await client.get(f"/{collection}", params={"limit": 10_000})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["next"] is None
        revisions.append(body["revision"])
        for item in body["items"]:
            state[(item["type"], item["id"])] = without_rev(item)
    return state, min(revisions)


def without_rev(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "rev"}


def apply_event(state: State, event: Event) -> None:
    if event.event not in ("put", "patch", "del"):
        return
    key = (event.data["type"], event.data["id"])
    if event.event == "put":
        state[key] = without_rev(event.data["data"])
    elif event.event == "patch":
        state[key] = merge_patch.apply(state[key], event.data["patch"])
    elif event.event == "del":
        state.pop(key, None)


class Listener:
    """An SSE client in a task: every event it received, until stopped."""

    def __init__(self, client: httpx.AsyncClient, **params: Any) -> None:
        self.client = client
        self.params = params
        self.received: list[Event] = []
        self.headers: dict[str, str] = {}
        self.task: asyncio.Task[None] | None = None
        self.status = 0

    async def __aenter__(self) -> Listener:
        opened = asyncio.Event()

        async def run() -> None:
            async with self.client.stream(
                "GET", "/events", params=self.params, headers=self.headers, timeout=None
            ) as response:
                self.status = response.status_code
                opened.set()
                async for event in events(response):
                    self.received.append(event)

        self.task = asyncio.create_task(run())
        await asyncio.wait_for(opened.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self.task

    @property
    def last_id(self) -> int:
        ids = [int(e.id) for e in self.received if e.id is not None]
        return ids[-1]

    async def reached(self, revision: int, timeout: float = 15) -> None:
        """Wait until an event says the client is complete up to ``revision``."""
        await eventually(
            lambda: any(e.id is not None and int(e.id) >= revision for e in self.received),
            what=f"an event complete up to {revision}",
            timeout=timeout,
        )


async def test_a_snapshot_plus_the_events_after_it_is_the_later_snapshot(
    nats_server: NatsServer, js: JetStreamContext, store_url: str
) -> None:
    async with stack_on(nats_server, js, store_url) as stack, stack.client() as client:
        before, revision = await snapshot(client)
        assert sum(1 for t, _ in before if t == "vm") >= 10
        async with Listener(client, since=revision) as listener:
            await activity(stack.sim, 40)
            await asyncio.sleep(2)
            await still(stack.sim)
            end = await stack.settled()
            await listener.reached(end)
        after, _ = await snapshot(client)
    state = dict(before)
    changes = [e for e in listener.received if e.event in ("put", "patch", "del")]
    assert len(changes) > 20
    for event in changes:
        apply_event(state, event)
    assert state == after
    # every id is a revision the client is complete up to: they never go back
    ids = [int(e.id) for e in listener.received if e.id is not None]
    assert ids == sorted(ids)


async def test_a_client_that_reconnects_gets_exactly_what_it_missed(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with stack_on(nats_server, js, url) as stack, stack.client() as client:
        state, revision = await snapshot(client)
        async with Listener(client, since=revision) as first:
            await activity(stack.sim, 30)
            await asyncio.sleep(1)
            await first.reached(revision + 1)
        for event in first.received:
            apply_event(state, event)
        resume = first.last_id
        # disconnected: the pool goes on changing
        await asyncio.sleep(1.5)
        await still(stack.sim)
        end = await stack.settled()
        second = Listener(client)
        second.headers = {"Last-Event-ID": str(resume)}
        async with second:
            await second.reached(end)
        missed = [e for e in second.received if e.event in ("put", "patch", "del")]
        assert missed
        assert all(e.data["rev"] > resume for e in missed)  # nothing it had
        for event in missed:
            apply_event(state, event)
        after, _ = await snapshot(client)
    assert state == after  # and nothing it lacked


async def test_a_revision_older_than_the_horizon_gets_reset(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with stack_on(nats_server, js, url) as stack, stack.client() as client:
        await activity(stack.sim, 30)
        await asyncio.sleep(1.5)
        await still(stack.sim)
        await stack.settled()
        purged = await stack.projection.store.purge_tombstones(datetime.now(UTC) + timedelta(1))
        assert purged > 0
        async with stack.projection.store.reader() as reader:
            horizon = reader.horizon
        async with Listener(client, since=horizon - 1) as listener:
            await eventually(lambda: listener.received, what="an event")
        assert listener.received[0].event == "reset"
        assert listener.received[0].data["horizon"] == horizon
        async with Listener(client, since=horizon) as fine:
            await fine.reached(horizon)
        assert all(e.event != "reset" for e in fine.received)


async def test_a_vm_started_through_the_api_runs_and_its_task_succeeds(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with stack_on(nats_server, js, url) as stack, stack.client() as client:
        halted = (await client.get("/vms", params={"filter": "power_state:Halted"})).json()
        vm = halted["items"][0]
        async with Listener(client, since=halted["revision"], types="vm") as listener:
            answer = await client.post(f"/vms/{vm['id']}/actions/start", json={})
            assert answer.status_code == 202, answer.text
            task_id = answer.json()["task"]["id"]
            assert answer.headers["location"] == f"/api/v1/tasks/{task_id}"
            task = await client.get(f"/tasks/{task_id}", params={"wait": "true", "timeout": 20})
            assert task.status_code == 200, task.text
            assert task.json()["status"] == "success"
            await eventually(
                lambda: any(
                    e.data.get("id") == vm["id"]
                    and (e.data.get("patch") or e.data.get("data") or {}).get("power_state")
                    == "Running"
                    for e in listener.received
                    if e.event in ("put", "patch")
                ),
                what="the VM Running in the stream",
            )
        now = (await client.get(f"/vms/{vm['id']}")).json()
        assert now["power_state"] == "Running"
        # starting it again: XAPI runs the call as a task, which fails with XAPI's error
        again = await client.post(f"/vms/{vm['id']}/actions/start")
        assert again.status_code == 202
        failed = await client.get(again.headers["location"].removeprefix("/api/v1"),
                                  params={"wait": "true", "timeout": 20})  # fmt: skip
        body = failed.json()
        assert body["status"] == "failure"
        assert body["error_info"][0] == "VM_BAD_POWER_STATE"
        assert body["problem"]["code"] == "VM_BAD_POWER_STATE"
        assert "Running" in body["problem"]["detail"]
        # a synchronous call XAPI refuses comes back as a problem at once
        tag = await client.post(f"/vms/{vm['id']}/actions/rename", json={"name_label": ""})
        assert tag.status_code in (200, 400, 409), tag.text


async def test_bad_requests_are_problems_that_say_what_is_wrong(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with stack_on(nats_server, js, url, max_body=4096) as stack, stack.client() as client:
        cases = [
            (await client.get("/spaceships"), 404, "spaceships"),
            (await client.get("/vms/not-a-vm"), 404, "not-a-vm"),
            (await client.get("/vms", params={"filter": "(power_state:Running"}), 400, "filter"),
            (await client.get("/vms", params={"fields": "a..b"}), 400, "fields"),
            (await client.get("/vms", params={"limit": 0}), 400, "limit"),
            (await client.get("/events", params={"types": "vm,spaceship"}), 400, "spaceship"),
            (await client.get("/events", headers={"Last-Event-ID": "x"}), 400, "Last-Event-ID"),
            (await client.post("/vms/x/actions/explode"), 404, "explode"),
            (await client.post("/vms/x/actions/start", content=b"x" * 10_000), 413, "larger"),
        ]
        vm = (await client.get("/vms", params={"limit": 1})).json()["items"][0]
        bad_args = await client.post(f"/vms/{vm['id']}/actions/migrate", json={"hots": "x"})
        cases.append((bad_args, 400, "hots"))
        for answer, status, mention in cases:
            assert answer.status_code == status, (answer.request.url, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert mention in answer.json()["detail"], answer.json()
        async with httpx.AsyncClient(base_url=stack.url) as anonymous:
            refused = await anonymous.get("/vms")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
            wrong = await anonymous.get("/vms", headers={"Authorization": "Bearer xorca_nope"})
            assert wrong.status_code == 401
            # EventSource cannot send headers: the token may come as a parameter
            via_query = await anonymous.get("/vms", params={"access_token": stack.token})
            assert via_query.status_code == 200


async def test_lists_filter_select_page_stream_and_compress(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with stack_on(nats_server, js, url, vms=30) as stack, stack.client() as client:
        everything = (await client.get("/vms")).json()["items"]
        running = (await client.get("/vms", params={"filter": "power_state:Running"})).json()
        assert running["items"]
        assert all(v["power_state"] == "Running" for v in running["items"])
        assert len(running["items"]) == sum(v["power_state"] == "Running" for v in everything)
        slim = (await client.get("/vms", params={"fields": "name_label,memory.actual"})).json()
        assert all(set(v) <= {"id", "type", "rev", "name_label", "memory"} for v in slim["items"])
        pages, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 7}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/vms", params=params)).json()
            pages.extend(page["items"])
            cursor = page["next"]
            if cursor is None:
                break
        assert [v["id"] for v in pages] == sorted(v["id"] for v in everything)
        lines = (await client.get("/vms", params={"ndjson": "true"})).text.splitlines()
        assert len(lines) == 1 + len(everything)
        compressed = await client.get("/vms", headers={"Accept-Encoding": "gzip"})
        assert compressed.headers["content-encoding"] == "gzip"
        cancel = (await client.get("/tasks/actions")).json()  # not taken for a task's id
        assert [a["name"] for a in cancel] == ["cancel"]
        one = await client.get(f"/vms/{everything[0]['id']}")
        assert one.json()["id"] == everything[0]["id"]
        assert one.headers["x-request-id"]


async def test_health_readiness_metrics_and_openapi(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with stack_on(nats_server, js, url) as stack, stack.client() as client:
        base = stack.gateway.url
        async with httpx.AsyncClient() as plain:
            assert (await plain.get(base + "/healthz")).status_code == 200
            ready = await plain.get(base + "/readyz")
            assert ready.status_code == 200 and ready.json()["lag"] == 0
            await client.get("/vms")
            metrics = (await plain.get(base + "/metrics")).text
            assert 'xorca_api_requests_total{method="GET",route="/api/v1/{collection}"' in metrics
            schema = (await plain.get(base + "/api/v1/openapi.json")).json()
            assert "/api/v1/events" in schema["paths"]
            assert (await plain.get(base + "/api/v1/docs")).status_code == 200


async def test_the_index_the_explorer_and_the_ui_are_served_by_the_gateway_alone(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    """``/api/v1`` lists the API (JSON, or HTML for a browser); the explorer's assets come from
    the gateway, not a CDN; ``/`` says the UI is not built until it is, then serves it."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    dist = tmp_path / "dist"  # not there yet
    async with (
        stack_on(nats_server, js, url, vms=2, web_root=dist) as stack,
        httpx.AsyncClient(base_url=stack.gateway.url) as plain,
    ):
        index = await plain.get("/api/v1")
        assert index.status_code == 200, index.text
        body = index.json()
        assert {c["name"] for c in body["collections"]} == set(OBJECT_TYPES.values())
        assert body["events"] == "/api/v1/events" and body["docs"] == "/api/v1/docs"
        assert (await plain.get("/api/v1/")).json() == body
        browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        page = await plain.get("/api/v1", headers=browser)
        assert page.headers["content-type"].startswith("text/html")
        assert 'href="/api/v1/vms"' in page.text and 'href="/api/v1/docs"' in page.text

        docs = await plain.get("/api/v1/docs")
        assert docs.status_code == 200
        assert "http://" not in docs.text and "https://" not in docs.text
        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert len(assets) == 3, assets  # the script, the style sheet, the icon
        for asset in assets:
            assert asset.startswith("/api/v1/docs/assets/")
            assert (await plain.get(asset)).status_code == 200, asset
        assert (await plain.get("/docs/oauth2-redirect")).status_code == 200

        missing = await plain.get("/")
        assert missing.status_code == 503 and "The web UI is not built" in missing.text
        assert (await plain.get("/assets/app.js")).status_code == 404
        dist.mkdir()
        (dist / "index.html").write_text("<!doctype html><title>built</title>")
        built = await plain.get("/")
        assert built.status_code == 200 and "<title>built</title>" in built.text


@pytest.mark.parametrize("origin", ["http://ui.example"])
async def test_cors_lets_a_separately_served_ui_in(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path, origin: str
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with (
        stack_on(nats_server, js, url, cors_origins=origin) as stack,
        httpx.AsyncClient() as plain,
    ):
        answer = await plain.options(
            stack.url + "/vms",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "authorization"},
        )  # fmt: skip
        assert answer.headers["access-control-allow-origin"] == origin


async def test_a_client_that_stops_reading_is_cut_off_and_resumes(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with (
        stack_on(nats_server, js, url, vms=60, sse_queue=10, sse_write_timeout=1) as stack,
        stack.client() as client,
    ):
        metrics = stack.gateway.state.metrics
        # a client with a tiny receive window that reads the first bytes and then nothing
        host, port = stack.gateway.state.settings.api_host, stack.gateway.http.port
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(
            f"GET /api/v1/events?since=0 HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {stack.token}\r\n\r\n".encode()
        )
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        await activity(stack.sim, 100)
        await eventually(
            lambda: metrics.value("xorca_api_sse_cut_total"),
            what="the client cut off",
            timeout=60,
            interval=0.05,
        )
        await still(stack.sim)
        writer.close()
        # nothing kept for it (the stream lets go of its subscriber as it closes)
        await eventually(lambda: stack.gateway.state.hub.clients == 0, what="no client kept")
        end = await stack.settled()
        state, _ = await snapshot(client)
        async with Listener(client, since=0) as again:  # a new stream from the start
            await again.reached(end)
        replayed: State = {}
        for event in again.received:
            apply_event(replayed, event)
        assert replayed == state


async def test_two_gateways_side_by_side_tell_the_same_story(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with stack_on(nats_server, js, url) as stack, stack.client() as one:
        settings = stack.gateway.state.settings.model_copy(update={"api_port": 0})
        async with service_running(run_api, settings) as second:
            headers = {"Authorization": f"Bearer {stack.token}"}
            async with httpx.AsyncClient(base_url=second.url + "/api/v1", headers=headers) as two:
                _, revision = await snapshot(one)
                async with Listener(one, since=revision) as a, Listener(two, since=revision) as b:
                    await activity(stack.sim, 40)
                    await asyncio.sleep(1.5)
                    await still(stack.sim)
                    end = await stack.settled()
                    await eventually(
                        lambda: second.state.hub.position >= end,
                        what="the second gateway's live view",
                        timeout=15,
                        interval=0.05,
                    )
                    await a.reached(end)
                    await b.reached(end)
                assert await snapshot(one) == await snapshot(two)
        states = []
        for listener in (a, b):
            state: State = {}
            for event in listener.received:
                if event.event in ("put", "patch"):
                    state[(event.data["type"], event.data["id"])] = event.data["rev"]
            states.append(state)
        assert states[0] == states[1]


async def test_schemathesis_finds_no_server_error(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    """Generated requests for every operation of the OpenAPI document: never a 5xx."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    # a wait for a task that never comes lasts the longest wait: keep it short here
    async with stack_on(nats_server, js, url, task_wait=2) as stack:
        command = [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{stack.gateway.url}/api/v1/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "20",
            # the event stream never ends by itself: its bad requests are tested above
            "--exclude-path",
            "/api/v1/events",
            "--request-timeout",
            "10",
            "--header",
            f"Authorization: Bearer {stack.token}",
            "--seed",
            "1",
            "--no-color",
        ]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
            cwd=tmp_path,  # its cache (.schemathesis/) stays out of the checkout
        )
        output, _ = await asyncio.wait_for(process.communicate(), 110)
        text = output.decode(errors="replace")
        assert process.returncode == 0, text[-3000:]
        checked = re.search(r"(\d+) passed", text.split("SUMMARY")[-1])
        assert checked is not None and int(checked.group(1)) >= 100, text[-2000:]


async def test_the_console_of_a_running_vm_speaks_rfb_over_a_websocket(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    async with stack_on(nats_server, js, url) as stack, stack.client() as client:
        vms = (await client.get("/vms")).json()["items"]
        running = next(v for v in vms if v["power_state"] == "Running")
        halted = next(v for v in vms if v["power_state"] == "Halted")
        base = stack.gateway.url.replace("http://", "ws://") + "/api/v1/vms"
        address = f"{base}/{running['id']}/console?access_token={stack.token}"
        async with websockets.connect(address, subprotocols=[Subprotocol("binary")]) as ws:
            assert ws.subprotocol == "binary"
            greeting = await asyncio.wait_for(ws.recv(), 10)
            assert isinstance(greeting, bytes) and greeting.startswith(b"RFB 003.")
            await ws.send(greeting)  # the same version back: the handshake goes on
            security = await asyncio.wait_for(ws.recv(), 10)
            assert isinstance(security, bytes) and len(security) >= 1
        refusals = [
            (f"{base}/{running['id']}/console?access_token=xorca_wrong", 4401),
            (f"{base}/{halted['id']}/console?access_token={stack.token}", 4409),
            (f"{base}/nope/console?access_token={stack.token}", 4404),
        ]
        for address, code in refusals:
            async with websockets.connect(address) as ws:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == code
