"""Commands over real NATS, as docs/nats.md shows them: a requester, and a stand-in for the
collector that refuses bad commands before "XAPI" and audits every command it decoded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from xorca.bus.setup import ensure_streams
from xorca.contracts.audit import CommandAudited, decode_audit, encode_audit
from xorca.contracts.base import ErrorBody
from xorca.contracts.commands import (
    CommandAccepted,
    CommandFailed,
    allowed_method,
    ensure_managed,
    failed,
    parse_command,
    parse_reply,
    request_id_of,
    validate,
)
from xorca.contracts.errors import CommandRejected
from xorca.contracts.subjects import command_subject, parse_command_subject

# the real NATS server fixtures (nats_server, nc, js)

POOL = "3a1c5e0e-9c8f-4f8e-b1a4-2b7d6f0c9e11"
VM = "OpaqueRef:5e2a7c1d-0b9f-4d3e-8a6c-7f1e2d3c4b5a"


@pytest.fixture
async def collector(js: JetStreamContext, nc: Client) -> AsyncIterator[list[tuple[str, Any]]]:
    """Serves ``xorca.v1.cmd.*`` for POOL; records what would have reached XAPI."""
    await ensure_streams(js)
    sent_to_xapi: list[tuple[str, Any]] = []

    async def handle(msg: Msg) -> None:
        pool = parse_command_subject(msg.subject)
        command = None
        try:
            ensure_managed(pool, {POOL})
            command = parse_command(msg.data)
            args = validate(command)
        except CommandRejected as e:
            await msg.respond(failed(request_id_of(msg.data), e).to_json())
            outcome: dict[str, Any] = {"outcome": "rejected", "error": ErrorBody(code=e.code)}
        else:
            sent_to_xapi.append((command.method, args))
            method = allowed_method(command.method)
            reply = CommandAccepted(
                request_id=command.request_id,
                task="OpaqueRef:task-1" if method.asynchronous else None,
            )
            await msg.respond(reply.to_json())
            outcome = {"outcome": "accepted", "task": reply.task}
        if command is not None:  # a body too broken to name its actor is not audited
            record = CommandAudited(
                request_id=command.request_id,
                actor=command.actor,
                method=command.method,
                args=command.args,
                pool=pool,
                at=datetime.now(UTC),
                **outcome,
            )
            audit = encode_audit(record)
            await js.publish(audit.subject, audit.body, headers=audit.headers)

    sub = await nc.subscribe("xorca.v1.cmd.*", cb=handle)
    yield sent_to_xapi
    await sub.unsubscribe()


async def request(nc: Client, body: dict[str, Any] | bytes, pool: str = POOL) -> Any:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    reply = await nc.request(command_subject(pool), data, timeout=5)
    return parse_reply(reply.data)


def command(method: str, *args: Any, request_id: str = "req-1") -> dict[str, Any]:
    return {"method": method, "args": list(args), "actor": "user:alice", "request_id": request_id}


async def test_accepted_command_and_its_audit(
    nc: Client, js: JetStreamContext, collector: list[tuple[str, Any]]
) -> None:
    reply = await request(nc, command("VM.start", VM, False, False))
    assert reply == CommandAccepted(request_id="req-1", task="OpaqueRef:task-1")
    assert collector == [("VM.start", (VM, False, False))]
    stored = await js.get_msg("XORCA_AUDIT", subject=f"xorca.v1.audit.{POOL}")
    audited = decode_audit(stored.subject or "", stored.data or b"")
    assert (audited.actor, audited.outcome, audited.task) == ("user:alice", "accepted", reply.task)


@pytest.mark.parametrize(
    ("body", "pool", "code"),
    [
        (command("VM.get_record", VM), POOL, "MESSAGE_METHOD_UNKNOWN"),
        (command("VM.start", VM), POOL, "MESSAGE_PARAMETER_COUNT_MISMATCH"),
        (command("VM.start", VM, "no", False), POOL, "FIELD_TYPE_ERROR"),
        (command("VM.start", VM, False, False), "another-pool", "XORCA_POOL_NOT_MANAGED"),
        (b'{"method": "VM.start", "request_id": "req-1"', POOL, "XORCA_MALFORMED_COMMAND"),
    ],
)
async def test_bad_commands_never_reach_xapi(
    nc: Client,
    collector: list[tuple[str, Any]],
    body: dict[str, Any] | bytes,
    pool: str,
    code: str,
) -> None:
    reply = await request(nc, body, pool)
    assert isinstance(reply, CommandFailed)
    assert reply.error.code == code
    assert collector == []
