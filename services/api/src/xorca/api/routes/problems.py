"""``GET /api/v1/problems/{code}``: what a problem ``type`` names (the types are
``/api/v1/problems/<CODE>``, RFC 9457 §3.1.1): the code's title and the status it gets."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path
from starlette.responses import Response

from xorca.api.core.problems import status_for_xapi, title_for
from xorca.xapi.codes import VM_BAD_POWER_STATE

__all__ = ["router"]

router = APIRouter(tags=["problems"])


@router.get("/problems/{code}", summary="What an error code means")
async def problem_page(
    code: Annotated[str, Path(pattern=r"^[A-Z0-9_]{1,128}$", examples=[VM_BAD_POWER_STATE])],
) -> Response:
    body = {"code": code, "title": title_for(code), "status": status_for_xapi(code)}
    return Response(orjson.dumps(body), media_type="application/json")
