"""The FastAPI application: routers, middleware, problem handlers. Built from an `ApiState`
(bootstrap.py makes the real one), so tests run the same app over real sockets."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware

from xorca.api.core.index import API
from xorca.api.http import BodyLimit, RequestLog, problem_handlers
from xorca.api.routes import actions, console, events, health, index, objects, problems, tasks
from xorca.api.routes.docs import install_docs
from xorca.api.state import ApiState
from xorca.api.web import WebUi

__all__ = ["make_app"]

DESCRIPTION = """\
xorca's REST and SSE API: every object of every managed Xen pool as a snapshot at a revision,
the changes after any revision as server-sent events, and actions that become XAPI tasks.

Authenticate with `Authorization: Bearer <token>` (`xorca token create`), or `?access_token=`
where headers cannot be set (EventSource). Errors are `application/problem+json`, with XAPI's
`code` and `params` when XAPI refused. Filters: see docs/filter.md; objects: docs/objects.md.
"""


def make_app(api: ApiState) -> FastAPI:
    app = FastAPI(
        title="xorca API",
        version="1.0.0",
        description=DESCRIPTION,
        docs_url=None,  # served from a package, not a CDN: routes/docs.py
        openapi_url=f"{API}/openapi.json",
        redoc_url=None,
        exception_handlers=problem_handlers(),
    )
    app.state.api = api
    app.include_router(health.router)
    # order matters: the fixed paths before /{collection}/{id}
    install_docs(app)
    app.include_router(index.router, prefix=API)
    app.include_router(problems.router, prefix=API)
    app.include_router(events.router, prefix=API)
    app.include_router(console.router, prefix=API)
    app.include_router(actions.router, prefix=API)  # /tasks/actions before /tasks/{id}
    app.include_router(tasks.router, prefix=API)
    app.include_router(objects.router, prefix=API)
    if api.settings.web_root is not None:
        app.mount("/", WebUi(api.settings.web_root), name="web")

    def observe(method: str, route: str, status: int, seconds: float) -> None:
        api.metrics.requests.labels(method, route, str(status)).inc()
        api.metrics.request_time.labels(route).observe(seconds)

    # level 5: most of level 9's gain (JSON of objects compresses ~7:1) for a fraction of its CPU
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    if api.settings.origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=api.settings.origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "X-Request-ID"],
            expose_headers=["Location", "X-Request-ID", "X-Xorca-Revision", "ETag"],
        )
    app.add_middleware(BodyLimit, limit=api.settings.max_body)
    app.add_middleware(RequestLog, observe=observe)
    return app
