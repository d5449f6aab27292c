"""``/healthz``, ``/readyz``, ``/metrics`` (outside ``/api/v1``, no token: for probes and
Prometheus; they say nothing about the pools)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from xorca.api.state import ApiDep, ApiState

__all__ = ["readiness", "router"]

router = APIRouter(include_in_schema=False)


async def readiness(api: ApiState) -> tuple[bool, dict[str, Any]]:
    reasons = []
    if not api.bus.connected:
        reasons.append("nats: disconnected")
    if not api.hub.ready:
        reasons.append("live view: not loaded")
    if not api.tokens.ready.is_set():
        reasons.append("tokens: not loaded")
    body: dict[str, Any] = {"revision": api.hub.position, "sse_clients": api.hub.clients}
    try:
        async with api.store.reader() as reader:
            body["store_revision"] = reader.revision
        lag = max(0, reader.revision - api.hub.position)
        api.metrics.hub_lag.set(lag)
        body["lag"] = lag
    except Exception as e:  # a store failure is a reason not to be ready, not an error here
        reasons.append(f"store: {e}")
    api.metrics.hub_position.set(api.hub.position)
    if reasons:
        body["reasons"] = reasons
    return not reasons, body


@router.get("/healthz")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/readyz")
async def readyz(api: ApiDep) -> Response:
    ready, body = await readiness(api)
    return Response(
        orjson.dumps({"ready": ready, **body}),
        status_code=200 if ready else 503,
        media_type="application/json",
    )


@router.get("/metrics")
async def metrics(api: ApiDep) -> Response:
    await readiness(api)
    return Response(api.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
