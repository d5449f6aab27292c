"""VM consoles: the ``CONNECT /console`` tunnel to the host a VM runs on (XAPI.md §6).

The console record's ``location`` (``https://<host address>/console?uuid=<console uuid>``) names
the host; we connect to that address on this client's scheme and port (the location always says
https on port 443, which is right for real hosts and wrong for anything behind a port map, the
simulator included), with this client's TLS policy, send ``CONNECT <path>?…&session_id=<ref>``,
and after ``200`` the socket carries raw RFB. This is a raw asyncio stream rather than httpx
because the connection stops being HTTP after the status line.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import quote, urlsplit

from xorca.xapi.client.tls import ssl_failure
from xorca.xapi.errors import (
    CallTimeout,
    ConnectionFailed,
    ConsoleUnavailable,
    ProtocolError,
    TlsError,
    TransportError,
)

if TYPE_CHECKING:
    from xorca.xapi.client.client import Xapi

__all__ = ["ConsoleStream", "open_console"]

WHAT = "CONNECT /console"


@dataclass
class ConsoleStream:
    """An open console: ``reader``/``writer`` carry raw RFB (the server speaks first,
    ``RFB 003.008\\n``). Close it, or use it as an async context manager."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    vm: str
    console: str
    #: the console record's location, as XAPI gave it
    location: str

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
            await self.writer.wait_closed()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def open_console(xapi: Xapi, vm_ref: str, *, timeout: float) -> ConsoleStream:
    console, location = await _rfb_console(xapi, vm_ref)
    parts = urlsplit(location)
    if not parts.hostname:
        raise ProtocolError("console.get_record", f"console location {location!r} has no host")
    address = parts.hostname
    path, query = parts.path or "/console", f"{parts.query}&" if parts.query else ""
    url = xapi.url_for(address)
    for attempt in (1, 2):
        session = await xapi.session_id()
        request = (
            f"CONNECT {path}?{query}session_id={quote(session, safe=':')} HTTP/1.0\r\n"
            f"Host: {address}\r\n\r\n"
        ).encode()
        reader, writer = await _connect(xapi, url, timeout)
        try:
            status, head = await _exchange(reader, writer, request, url, timeout)
        except BaseException:
            writer.close()
            raise
        if status == 200:
            return ConsoleStream(reader, writer, vm_ref, console, location)
        writer.close()
        if status == 401 and attempt == 1:
            await xapi.renew_session(session)  # expired: once more with a fresh session
            continue
        if status == 404:
            raise ConsoleUnavailable(vm_ref, f"{url} has no console for it: {head!r:.120}")
        raise ProtocolError(WHAT, f"HTTP {status}: {head!r:.120}", url=url, status=status)
    raise AssertionError("unreachable")


async def _rfb_console(xapi: Xapi, vm_ref: str) -> tuple[str, str]:
    """(console ref, location) of the VM's rfb console; ConsoleUnavailable if it has none."""
    consoles = await xapi.call("VM.get_consoles", vm_ref)
    if not isinstance(consoles, list):
        raise ProtocolError("VM.get_consoles", f"expected a list, got {type(consoles).__name__}")
    for ref in consoles:
        record = await xapi.call("console.get_record", ref)
        if not isinstance(record, dict):
            raise ProtocolError("console.get_record", "expected a console record")
        location = record.get("location")
        if record.get("protocol") == "rfb" and isinstance(location, str) and location:
            return str(ref), location
    raise ConsoleUnavailable(vm_ref, "the VM has no rfb console (is it running?)")


async def _connect(
    xapi: Xapi, url: str, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    try:
        return await asyncio.wait_for(
            asyncio.open_connection(
                host,
                port,
                ssl=xapi.transport.ssl_context if tls else None,
                server_hostname=host if tls else None,
            ),
            timeout=min(timeout, xapi.transport.connect_timeout),
        )
    except TimeoutError as e:
        raise CallTimeout(WHAT, "could not connect in time", url=url, sent=False) from e
    except (OSError, ssl.SSLError) as e:
        raise _translate(e, url) from e


def _translate(error: BaseException, url: str) -> TransportError:
    cause = ssl_failure(error)
    if cause is not None:
        return TlsError(WHAT, f"TLS refused: {cause}", url=url)
    return ConnectionFailed(WHAT, f"cannot connect: {error}", url=url, sent=False)


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    request: bytes,
    url: str,
    timeout: float,
) -> tuple[int, bytes]:
    """Send the CONNECT and read the answer's head, leaving what follows in ``reader``."""
    try:
        writer.write(request)
        await asyncio.wait_for(writer.drain(), timeout)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except TimeoutError as e:
        raise CallTimeout(WHAT, "no answer in time", url=url) from e
    except asyncio.IncompleteReadError as e:
        raise ConnectionFailed(WHAT, f"closed after {len(e.partial)} bytes", url=url) from e
    except asyncio.LimitOverrunError as e:
        raise ProtocolError(WHAT, "answer head too long", url=url) from e
    except (OSError, ssl.SSLError) as e:
        raise ConnectionFailed(WHAT, f"connection lost: {e}", url=url) from e
    line = head.split(b"\r\n", 1)[0]
    fields = line.split(b" ", 2)
    if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
        raise ProtocolError(WHAT, f"not an HTTP status line: {line!r:.80}", url=url)
    return int(fields[1]), head
