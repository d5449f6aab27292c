"""``GET /api/v1/tasks/{id}?wait=true``: a task, once it has ended (or as it is when the wait is
over). The wait follows the live view, so it answers the moment the task's end reaches the
store; it never polls. A failed task carries ``problem``: XAPI's error as a problem (code,
params, and a sentence for people). Cancel is an action like the others:
``POST /api/v1/tasks/{id}/actions/cancel``."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from xorca.api.core.acl import can
from xorca.api.core.errors import ApiProblem
from xorca.api.core.problems import problem_for
from xorca.api.routes.objects import FieldsParam, fields_of, item
from xorca.api.state import ApiDep, CallerDep

__all__ = ["ENDED", "router"]

router = APIRouter(tags=["tasks"])

#: XAPI task statuses that do not change any more
ENDED = frozenset({"success", "failure", "cancelled"})


def _ended(task: dict[str, Any] | None) -> bool:
    return task is not None and task.get("status") in ENDED


@router.get("/tasks/{id}", summary="One task, waiting for its end if asked")
async def get_task(
    api: ApiDep,
    caller: CallerDep,
    id: Annotated[str, Path(max_length=256)],
    wait: Annotated[bool, Query(description="answer once the task has ended")] = False,
    timeout: Annotated[
        float | None, Query(gt=0, description="longest wait, seconds (default: the server's)")
    ] = None,
    fields: FieldsParam = None,
) -> Response:
    selected = fields_of(fields)
    if wait:
        limit = min(timeout or api.settings.task_wait, api.settings.task_wait)
        await api.hub.wait_for("task", id, _ended, limit)
    async with api.store.reader() as reader:
        row = await reader.get("task", id)
        revision = reader.revision
    if row is None or row.data is None or not can(caller, "read", row.data):
        raise ApiProblem(404, f"no task {id!r}")
    body = item(row, selected)
    failure = row.data.get("error_info")
    if row.data.get("status") == "failure" and isinstance(failure, list) and failure:
        code, *params = (str(p) for p in failure)
        body["problem"] = problem_for(code, params).model_dump(exclude_none=True)
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"X-Xorca-Revision": str(revision), "ETag": f'W/"{row.rev}"'},
    )
