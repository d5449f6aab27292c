"""``GET /api/v1/vms/{id}/console`` (WebSocket): the VM's graphical console, as noVNC expects it.

Binary WebSocket frames carry raw RFB both ways (subprotocol ``binary`` when the client asks for
it). The gateway logs in to the VM's pool with the credentials of its registry entry (it needs
``XORCA_SECRET_KEY``, like the collectors) and opens the console tunnel on the host running the VM
with the XAPI client (``CONNECT /console`` with the session), then copies bytes until either side
closes. The token comes as ``?access_token=`` (browsers cannot set headers on a WebSocket).

Close codes: 4401 no valid token, 4403 not allowed, 4404 no such VM, 4409 the VM has no console
now (not running), 4502 the pool could not be reached or refused, 4503 the gateway has no key to
read pool credentials: each refusal is an `ApiProblem` as over HTTP, closed with 4000 + its
status (`close_code`) and its detail as the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated

from fastapi import APIRouter, Path, WebSocket
from starlette.websockets import WebSocketDisconnect

from xorca.api.core.acl import can
from xorca.api.core.errors import ApiProblem, close_code
from xorca.api.state import ApiState
from xorca.bus.registry import Registry
from xorca.contracts.errors import ContractError
from xorca.contracts.registry import PoolEntry
from xorca.runtime.aio import cancel_and_wait
from xorca.xapi import TlsPolicy, Xapi
from xorca.xapi.client.console import ConsoleStream
from xorca.xapi.errors import XapiError

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["console"])

_CHUNK = 64 * 1024
#: longest close reason sent (RFC 6455 allows 123 bytes)
_REASON = 120


@router.websocket("/vms/{id}/console")
async def console(websocket: WebSocket, id: Annotated[str, Path(max_length=256)]) -> None:
    api: ApiState = websocket.app.state.api
    token = websocket.query_params.get("access_token", "")
    scheme, _, bearer = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and bearer.strip():
        token = bearer.strip()
    principal = api.tokens.principal(token) if token else None
    subprotocol = "binary" if "binary" in websocket.scope.get("subprotocols", []) else None
    await websocket.accept(subprotocol=subprotocol)
    if principal is None:
        await _close(websocket, ApiProblem(401, "a valid API token is required"))
        return
    try:
        async with api.store.reader() as reader:
            row = await reader.get("vm", id)
            statuses = await reader.list("pool-status") if row is not None else []
        if row is None or row.deleted or row.data is None or not can(principal, "read", row.data):
            raise ApiProblem(404, f"no vm {id!r}")
        if not can(principal, "operate", row.data):
            raise ApiProblem(403, "you may not use this VM's console")
        if row.data.get("power_state") != "Running" or row.ref is None:
            raise ApiProblem(409, f"the VM is {row.data.get('power_state', 'unknown')}: no console")
        entry = await _pool_entry(api, row.pool, [s.id for s in statuses if s.pool == row.pool])
        tls = entry.tls
        async with Xapi(
            entry.url,
            entry.username,
            entry.password.get_secret_value(),
            tls=TlsPolicy.of(tls.mode, ca_pem=tls.ca_pem, fingerprints=tls.fingerprints),
            timeout=api.settings.command_timeout,
            originator="xorca-api-console",
        ) as xapi:
            try:
                stream = await xapi.console(row.ref)
            except XapiError as e:
                raise ApiProblem(409, f"no console: {e}") from e
            async with stream:
                log.info("console of vm %s opened for %s", id, principal.id)
                await _pump(websocket, stream)
    except ApiProblem as refused:
        await _close(websocket, refused)
        return
    except (XapiError, OSError) as e:
        await _close(websocket, ApiProblem(502, f"the pool: {e}"))
        return
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(1000, "console closed")


async def _close(websocket: WebSocket, refused: ApiProblem) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # the client may be gone
        await websocket.close(close_code(refused), refused.detail[:_REASON])


async def _pool_entry(api: ApiState, pool: str | None, registry_ids: list[str]) -> PoolEntry:
    key = api.settings.secret_key
    if key is None or not key.get_secret_value().strip():
        raise ApiProblem(503, "the gateway has no XORCA_SECRET_KEY to reach the pool")
    try:
        registry = await Registry.open(api.bus.js, key.get_secret_value())
        for registry_id in registry_ids:
            return await registry.get(registry_id)
    except ContractError as e:
        raise ApiProblem(502, f"the pool's registry entry: {e}") from e
    raise ApiProblem(502, f"no registry entry serves pool {pool}")


async def _pump(websocket: WebSocket, stream: ConsoleStream) -> None:
    """Bytes both ways until one side closes."""

    async def upstream() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or (message.get("text") or "").encode()
            if data:
                stream.writer.write(data)
                await stream.writer.drain()

    async def downstream() -> None:
        while True:
            data = await stream.reader.read(_CHUNK)
            if not data:
                return
            await websocket.send_bytes(data)

    tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            await cancel_and_wait(task)
        for task in tasks:
            if task.done() and not task.cancelled():
                error = task.exception()
                if error is not None and not isinstance(
                    error, WebSocketDisconnect | ConnectionError
                ):
                    log.warning("console: %r", error)
