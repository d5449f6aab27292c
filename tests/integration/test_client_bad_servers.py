"""Servers that misbehave on a real socket: every answer is a typed error naming the call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from xorca.xapi.client import (
    ConnectionFailed,
    PoolUnreachable,
    ProtocolError,
    RetryPolicy,
    TlsPolicy,
    Transport,
    TransportError,
    Xapi,
)

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def server(reply: Reply) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await reply(reader, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}"


def answer(head: bytes, body: bytes) -> Reply:
    async def reply(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head + body)

    return reply


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


async def rpc(url: str, method: str = "VM.clone") -> object:
    transport = Transport(tls=TlsPolicy.verified())
    try:
        return await transport.rpc(url, method, ["OpaqueRef:s"], protocol="jsonrpc", timeout=5)
    finally:
        await transport.aclose()


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        # the body stops after 10 of 100 promised bytes
        (answer(OK + b"Content-Length: 100\r\n\r\n", b'{"jsonrpc"'), ConnectionFailed),
        # not UTF-8
        (answer(OK + b"Content-Length: 6\r\n\r\n", b"\xff\xfe\xfd{}]"), ProtocolError),
        # well-formed JSON, not JSON-RPC
        (answer(OK + b"Content-Length: 2\r\n\r\n", b"{}"), ProtocolError),
        # not HTTP at all
        (answer(b"SSH-2.0-OpenSSH_9.6\r\n", b""), ConnectionFailed),
        # the connection closes without a word
        (answer(b"", b""), ConnectionFailed),
    ],
)
async def test_bad_answers_on_the_wire(reply: Reply, kind: type[TransportError]) -> None:
    async with server(reply) as url:
        with pytest.raises(kind) as info:
            await rpc(url)
    assert info.value.method == "VM.clone"


async def test_a_server_that_never_answers_jsonrpc_properly_fails_login_cleanly() -> None:
    garbage = answer(OK + b"Content-Length: 5\r\n\r\n", b"nope!")
    async with server(garbage) as url:
        xapi = Xapi(url, "root", "pw", retry=RetryPolicy(attempts=1, backoff=0.01))
        with pytest.raises(ProtocolError) as info:
            await xapi.login()
        assert info.value.method == "session.login_with_password"
        await xapi.close()
    silent = answer(b"", b"")
    async with server(silent) as url:
        xapi = Xapi(url, "root", "pw", retry=RetryPolicy(attempts=1, backoff=0.01))
        with pytest.raises(PoolUnreachable):  # login is idempotent: retried, then given up
            await xapi.login()
        await xapi.close()
