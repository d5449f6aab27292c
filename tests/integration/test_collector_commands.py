"""Commands over real NATS to a collector serving a simulated pool: a task that runs end to end
and comes back through the log, a synchronous call, XAPI's own refusal, the audit of each, bad
commands that never reach XAPI, and a command that reaches the replica which does not own its
pool (forwarded to the one that does)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from tests.support.nats import NatsServer
from tests.support.objects_log import log_state, settled, wait_status
from tests.support.registry import entry_of, register
from tests.support.replica import Replica, settings_for
from tests.support.simthread import SimThread, on_sim, simulated, uuid_of
from tests.support.waiting import eventually
from xorca.collector.service import Collector
from xorca.contracts.audit import CommandAudited, decode_audit
from xorca.contracts.commands import Command, CommandAccepted, CommandFailed, parse_reply
from xorca.contracts.subjects import audit_subject, command_subject, object_subject
from xorca.xapi.errors import HandleInvalid


def halted_vm(sim: SimThread) -> tuple[str, str]:
    """A halted guest VM of pool 1: its ref and uuid."""
    for ref, vm in sim.pool(1).pool.db.records("VM"):
        guest = not (vm["is_a_template"] or vm["is_control_domain"] or vm["is_a_snapshot"])
        if guest and vm["power_state"] == "Halted":
            return ref, str(vm["uuid"])
    raise AssertionError("no halted VM in the pool")


async def send(nc: Client, pool: str, body: bytes | Command) -> CommandAccepted | CommandFailed:
    data = body.to_json() if isinstance(body, Command) else body
    answer = await nc.request(command_subject(pool), data, timeout=10)
    return parse_reply(answer.data)


def command(method: str, *args: Any, request_id: str = "req-1") -> Command:
    return Command(method=method, args=list(args), actor="user:alice", request_id=request_id)


async def audited(js: JetStreamContext, pool: str) -> list[CommandAudited]:
    sub = await js.subscribe(audit_subject(pool), ordered_consumer=True)
    out: list[CommandAudited] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(0.5)
            except TimeoutError:
                return out
            out.append(decode_audit(msg.subject, msg.data))
    finally:
        await sub.unsubscribe()


async def in_log(
    js: JetStreamContext, subject: str, test: Callable[[dict[str, Any]], bool], timeout: float = 10
) -> dict[str, Any]:
    """Wait until the newest message of ``subject`` is a record that passes ``test``; it."""

    async def passing() -> dict[str, Any]:
        op, record = (await log_state(js, subject.split(".")[3])).get(subject, ("", {}))
        assert op in ("add", "mod") and test(record), f"{op} {record!r:.300}"
        return record

    return await eventually(passing, what=subject, timeout=timeout, interval=0.1)


async def test_a_command_runs_end_to_end(
    nats_server: NatsServer, nc: Client, js: JetStreamContext
) -> None:
    with simulated() as sim:
        await register(js, entry_of(sim, 1))
        pool = uuid_of(sim)
        async with Replica(settings_for(nats_server)):
            await wait_status(js, "pool-1", "synced")
            vm, _ = halted_vm(sim)

            reply = await send(nc, pool, command("VM.clone", vm, "made by a command"))
            assert isinstance(reply, CommandAccepted) and reply.request_id == "req-1"
            assert reply.task is not None and reply.task.startswith("OpaqueRef:")
            # the task runs in XAPI and comes back through the log, with its result
            task_uuid = await on_sim(sim, lambda p: p.db.get("task", reply.task)["uuid"])
            assert reply.task_uuid == task_uuid  # what clients know the task by
            task = await in_log(
                js, object_subject(pool, "task", task_uuid), lambda r: r["status"] == "success"
            )
            new_vm = task["result"].removeprefix("<value>").removesuffix("</value>")
            clone = await on_sim(sim, lambda p: p.db.get("VM", new_vm))
            await in_log(
                js,
                object_subject(pool, "vm", clone["uuid"]),
                lambda r: r["name_label"] == "made by a command",
            )

            renamed = await send(nc, pool, command("VM.set_name_label", vm, "web", request_id="r2"))
            assert renamed == CommandAccepted(request_id="r2", result="")

            gone = "OpaqueRef:00000000-0000-0000-0000-000000000000"
            refused = await send(nc, pool, command("VM.set_name_label", gone, "x", request_id="r3"))
            assert isinstance(refused, CommandFailed)
            assert refused.error.code == "HANDLE_INVALID"  # XAPI's own refusal

        records = {r.request_id: r for r in await audited(js, pool)}
        assert (records["req-1"].actor, records["req-1"].outcome, records["req-1"].task) == (
            "user:alice", "accepted", reply.task)  # fmt: skip
        assert records["req-1"].collector == "c1"
        assert (records["r2"].outcome, records["r3"].outcome) == ("accepted", "failed")
        assert records["r3"].error is not None
        assert records["r3"].error.code == "HANDLE_INVALID"


async def test_a_task_whose_uuid_cannot_be_read_is_still_accepted(
    nats_server: NatsServer, nc: Client, js: JetStreamContext
) -> None:
    """``task.get_uuid`` failing after XAPI started the task leaves ``task_uuid`` out: the task
    runs, so the command must not be reported as failed."""
    with simulated() as sim:
        await register(js, entry_of(sim, 1))
        pool = uuid_of(sim)
        async with Replica(settings_for(nats_server)) as replica:
            await wait_status(js, "pool-1", "synced")
            assert replica.collector is not None
            link = replica.collector.runners()["pool-1"].link
            assert link is not None
            call = link.xapi.call

            async def failing(method: str, *params: Any, **kw: Any) -> Any:
                if method == "task.get_uuid":
                    raise HandleInvalid("HANDLE_INVALID", ["task", str(params[0])])
                return await call(method, *params, **kw)

            link.xapi.call = failing  # type: ignore[method-assign]
            vm, _ = halted_vm(sim)
            reply = await send(nc, pool, command("VM.clone", vm, "uuid unread"))
            assert isinstance(reply, CommandAccepted)
            assert reply.task is not None and reply.task_uuid is None
            status = await on_sim(sim, lambda p: p.db.get("task", reply.task)["status"])
            assert status in ("pending", "success")


def bodies(vm: str) -> list[tuple[str, bytes, str, bool]]:
    """(case, body, error code, audited) — the pool is the served one unless said. A body that
    is not a command is not audited (no actor to hold to account), but its request id is still
    echoed when it can be read."""

    def raw(method: str, *args: Any) -> bytes:
        return command(method, *args).to_json()

    return [
        ("unknown method", raw("VM.get_record", vm), "MESSAGE_METHOD_UNKNOWN", True),
        ("a destroy of a host", raw("host.destroy", vm), "MESSAGE_METHOD_UNKNOWN", True),
        ("too few arguments", raw("VM.start", vm), "MESSAGE_PARAMETER_COUNT_MISMATCH", True),
        ("a wrong type", raw("VM.start", vm, "yes", False), "FIELD_TYPE_ERROR", True),
        ("not a ref", raw("VM.hard_shutdown", "web-01"), "FIELD_TYPE_ERROR", True),
        ("foreign pool", raw("VM.start", vm, False, False), "XORCA_POOL_NOT_MANAGED", True),
        ("malformed JSON", b'{"method": "VM.start", "args": [', "XORCA_MALFORMED_COMMAND", False),
        ("an extra field", orjson.dumps({**orjson.loads(raw("VM.start", vm, False, False)),
                                         "sudo": True}), "XORCA_MALFORMED_COMMAND", False),
    ]  # fmt: skip


@pytest.mark.parametrize("case", [b[0] for b in bodies("OpaqueRef:x")])
async def test_bad_commands_get_clear_errors_and_never_reach_xapi(
    nats_server: NatsServer, nc: Client, js: JetStreamContext, case: str
) -> None:
    with simulated() as sim:
        await register(js, entry_of(sim, 1))
        pool = uuid_of(sim)
        async with Replica(settings_for(nats_server)) as replica:
            await wait_status(js, "pool-1", "synced")
            calls = spy_on_xapi(replica.collector)
            vm, _ = halted_vm(sim)
            _, body, code, audits = next(b for b in bodies(vm) if b[0] == case)
            target = str(uuid.uuid4()) if case == "foreign pool" else pool
            generation = await on_sim(sim, lambda p: p.db.generation)

            reply = await send(nc, target, body)
            assert isinstance(reply, CommandFailed)
            assert reply.error.code == code
            assert reply.request_id == (None if case == "malformed JSON" else "req-1")

            assert calls == []  # nothing was sent to XAPI…
            assert await on_sim(sim, lambda p: p.db.generation) == generation  # …or done
        records = await audited(js, target)
        assert [(r.outcome, r.error.code if r.error else None) for r in records] == (
            [("rejected", code)] if audits else []
        )


def spy_on_xapi(collector: Collector | None) -> list[str]:
    """Every call the collector's client makes to the pool, but the watcher's ``event.from``."""
    assert collector is not None
    link = collector.runners()["pool-1"].link
    assert link is not None
    calls: list[str] = []
    xapi = link.xapi
    call, call_async = xapi.call, xapi.call_async

    async def spied_call(method: str, *params: Any, **kw: Any) -> Any:
        if method != "event.from":
            calls.append(method)
        return await call(method, *params, **kw)

    async def spied_async(method: str, *params: Any, **kw: Any) -> Any:
        calls.append(method)
        return await call_async(method, *params, **kw)

    xapi.call = spied_call  # type: ignore[method-assign]
    xapi.call_async = spied_async  # type: ignore[method-assign]
    return calls


async def test_any_replica_answers_for_any_pool(
    nats_server: NatsServer, nc: Client, js: JetStreamContext
) -> None:
    """Commands land on either replica (one queue group); the one that does not serve the pool
    forwards them to the one that does."""
    with simulated(pools=2) as sim:
        await register(js, entry_of(sim, 1), entry_of(sim, 2))
        a = Replica(settings_for(nats_server, "a", lease_period=6.0))
        b = Replica(settings_for(nats_server, "b", lease_period=6.0))
        async with a, b:
            for key in ("pool-1", "pool-2"):
                await wait_status(js, key, "synced")
            await eventually(
                lambda: len(a.held) == 1 and len(b.held) == 1, what="a pool each", interval=0.05
            )
            vm, _ = halted_vm(sim)
            pool = uuid_of(sim)
            describe = [command("VM.set_name_description", vm, f"n{i}", request_id=f"r{i}")
                        for i in range(30)]  # fmt: skip
            replies = await asyncio.gather(*(send(nc, pool, c) for c in describe))
            assert all(isinstance(r, CommandAccepted) for r in replies)
            metrics = [r.collector.metrics for r in (a, b) if r.collector is not None]
            forwarded = sum(m.value("xorca_collector_commands_total", outcome="forwarded")
                            for m in metrics)  # fmt: skip
            accepted = sum(m.value("xorca_collector_commands_total", outcome="accepted")
                           for m in metrics)  # fmt: skip
            assert accepted == 30 and 0 < forwarded < 30
        assert len(await audited(js, pool)) == 30  # audited once each, by the owner


async def test_a_pool_that_stops_answering(
    nats_server: NatsServer, nc: Client, js: JetStreamContext
) -> None:
    """Reported ``disconnected`` (its objects stale), its commands refused without trying, and
    followed again once it answers."""
    with simulated() as sim:
        await register(js, entry_of(sim, 1))
        pool = uuid_of(sim)
        async with Replica(settings_for(nats_server)):
            await wait_status(js, "pool-1", "synced")
            await control(sim, "stop")
            down = await wait_status(js, "pool-1", "disconnected", timeout=30)
            assert down.error is not None and down.error.code.startswith("XORCA_")
            vm, _ = halted_vm(sim)
            reply = await send(nc, pool, command("VM.start", vm, False, False))
            assert isinstance(reply, CommandFailed)
            assert (reply.error.code, reply.error.params) == (
                "XORCA_POOL_UNAVAILABLE", [pool, "disconnected"])  # fmt: skip
            await control(sim, "start")
            await wait_status(js, "pool-1", "synced", timeout=30)
            await on_sim(sim, lambda p: p.db.update("VM", vm, name_label="after the outage"))
            await settled(js, sim)


async def control(sim: SimThread, action: str) -> None:
    assert sim.control is not None
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{sim.control.url}/pools/1/{action}")
    assert answer.status_code == 200, answer.text
