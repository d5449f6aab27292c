"""``POST /api/v1/{collection}/{id}/actions/{name}``: an action becomes a command to the pool's
collector, and XAPI runs it as a task: ``202`` with ``Location: /api/v1/tasks/<id>`` (follow it
there, or in the event stream). Setters and ``cancel`` run at once: ``200`` with the result.
``POST /api/v1/{collection}/actions/{name}`` with ``{"ids": [...], "args": {...}}`` does the same
for each id, each with its own task.

The caller must be allowed to operate the object (`can`); objects the arguments name (a host to
migrate to) must exist and be in the same pool. XAPI's refusals come back as problems with its
code and params (``VM_BAD_POWER_STATE`` → 409…).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path
from starlette.responses import Response

from xorca.api.adapters.commands import send_command
from xorca.api.core.acl import Principal, can
from xorca.api.core.actions import (
    MAX_BULK,
    ActionError,
    actions_of,
    find_action,
    parse_body,
    references,
)
from xorca.api.core.actions import command_for as build_command
from xorca.api.core.errors import ApiProblem
from xorca.api.routes.objects import CollectionPath, type_of
from xorca.api.state import ApiDep, ApiState, CallerDep
from xorca.contracts.commands import CommandAccepted, CommandFailed
from xorca.contracts.deltas import collection_type
from xorca.store import ObjectRow

__all__ = ["router"]

router = APIRouter(tags=["actions"])

#: bulk actions sent at once
_PARALLEL = 16

NamePath = Annotated[str, Path(max_length=64, description="the action, e.g. start, migrate")]
Args = Annotated[
    dict[str, Any] | None,
    Body(description="the action's arguments (see GET /api/v1/{collection}/actions)"),
]


@router.get("/{collection}/actions", summary="The actions of a collection, with their arguments")
async def list_actions(caller: CallerDep, collection: CollectionPath) -> Response:
    type_of(collection)
    body = [
        {
            "name": action.name,
            "summary": action.summary,
            "destructive": action.destructive,
            "task": action.asynchronous,
            "xapi": action.method,
            "arguments": action.body.model_json_schema(),
        }
        for action in actions_of(collection).values()
    ]
    return Response(orjson.dumps(body), media_type="application/json")


@router.post(
    "/{collection}/{id}/actions/{name}",
    summary="Run an action on one object",
    status_code=202,
    responses={
        202: {"description": "a task runs it: `{task: {id, status}}`, Location of the task"},
        200: {"description": "done at once: `{result}`"},
    },
)
async def run_action(
    api: ApiDep,
    caller: CallerDep,
    collection: CollectionPath,
    id: Annotated[str, Path(max_length=256)],
    name: NamePath,
    args: Args = None,
) -> Response:
    status, body, headers = await _run_one(api, caller, collection, id, name, args)
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


@router.post(
    "/{collection}/actions/{name}",
    summary="Run an action on several objects (each gets its own task)",
    status_code=202,
)
async def run_bulk(
    api: ApiDep,
    caller: CallerDep,
    collection: CollectionPath,
    name: NamePath,
    body: Annotated[dict[str, Any], Body(description='{"ids": [...], "args": {...}}')],
) -> Response:
    type_of(collection)
    if find_action(collection, name) is None:
        raise _no_action(collection, name)
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ApiProblem(400, "ids: a non-empty list of object ids is required")
    if len(ids) > MAX_BULK:
        raise ApiProblem(400, f"ids: at most {MAX_BULK} at once")
    unknown = set(body) - {"ids", "args"}
    if unknown:
        raise ApiProblem(400, f"unknown fields: {', '.join(sorted(unknown))}")
    args = body.get("args")
    gate = asyncio.Semaphore(_PARALLEL)

    async def one(object_id: str) -> dict[str, Any]:
        async with gate:
            try:
                status, result, _ = await _run_one(api, caller, collection, object_id, name, args)
            except ApiProblem as e:
                return {"id": object_id, "status": e.status, "problem": e.brief()}
        return {"id": object_id, "status": status, **result}

    results = await asyncio.gather(*(one(i) for i in dict.fromkeys(ids)))
    return Response(orjson.dumps({"results": results}), 202, media_type="application/json")


async def _run_one(
    api: ApiState,
    caller: Principal,
    collection: str,
    object_id: str,
    name: str,
    args: dict[str, Any] | None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) of one action; `ApiProblem` when it is refused, before XAPI
    (by the gateway, the collector) or by XAPI at once (a synchronous call)."""
    type_ = type_of(collection)
    action = find_action(collection, name)
    if action is None:
        raise _no_action(collection, name)
    async with api.store.reader() as reader:
        row = await reader.get(type_, object_id)
        if row is None or row.deleted or row.data is None or not can(caller, "read", row.data):
            raise ApiProblem(404, f"no {type_} {object_id!r}")
        if not can(caller, "operate", row.data):
            raise ApiProblem(403, f"you may not operate {type_} {object_id}")
        body = parse_body(action, args)
        linked: dict[tuple[str, str], ObjectRow | None] = {}
        for linked_collection, linked_id in references(action, body):
            linked_type = collection_type(linked_collection) or linked_collection
            linked[(linked_collection, linked_id)] = await reader.get(linked_type, linked_id)
    if row.ref is None or row.pool is None:
        raise ApiProblem(409, f"{type_} {object_id} has no XAPI reference yet; try again")

    def resolve(linked_collection: str, linked_id: str) -> str:
        found = linked.get((linked_collection, linked_id))
        if found is None or found.deleted or found.ref is None:
            raise ActionError.not_found(linked_collection, linked_id)
        if found.pool != row.pool:
            raise ActionError.other_pool(linked_collection, linked_id)
        return found.ref

    command = build_command(
        action, row.ref, body, resolve, actor=caller.id, request_id=uuid.uuid4().hex
    )
    reply = await send_command(api.bus, row.pool, command, api.settings.command_timeout)
    if isinstance(reply, CommandFailed):
        api.metrics.commands.labels("failed").inc()
        raise ActionError(reply.error.code, reply.error.params)
    assert isinstance(reply, CommandAccepted)
    api.metrics.commands.labels("accepted").inc()
    if reply.task is None:
        return 200, {"result": reply.result}, {}
    task: dict[str, Any] = {"ref": reply.task, "status": "pending"}
    headers = {}
    if reply.task_uuid:
        task = {"id": reply.task_uuid, **task}
        headers["Location"] = f"/api/v1/tasks/{reply.task_uuid}"
    return 202, {"task": task, "request_id": command.request_id}, headers


def _no_action(collection: str, name: str) -> ApiProblem:
    names = ", ".join(actions_of(collection)) or "none"
    return ApiProblem(404, f"{collection} have no action {name!r} (actions: {names})")
