"""``GET /api/v1``: the index of the API (core/index.py), JSON or, for a browser, HTML. No
token: it says nothing about the pools, only where things are (as the OpenAPI document does)."""

from __future__ import annotations

from importlib import metadata

import orjson
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from xorca.api.core.index import api_index, index_html, prefers_html
from xorca.contracts.deltas import OBJECT_TYPES

__all__ = ["router"]

router = APIRouter(tags=["index"])


def _release() -> str | None:
    try:
        return metadata.version("xorca-api")
    except metadata.PackageNotFoundError:  # run from sources without the distribution
        return None


RELEASE = _release()


@router.get(
    "",
    summary="The index of the API: collections, events, docs, version",
    response_description="JSON; an HTML page when the client prefers HTML (a browser)",
)
async def index(request: Request) -> Response:
    body = api_index(OBJECT_TYPES, version=request.app.version, gateway=RELEASE)
    headers = {"Vary": "Accept"}
    if prefers_html(request.headers.get("accept", "")):
        return HTMLResponse(index_html(body), headers=headers)
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


# ``/api/v1/`` too: the web UI's mount at ``/`` would otherwise answer it with a 404
router.add_api_route("/", index, methods=["GET"], include_in_schema=False)
