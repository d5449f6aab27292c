"""``GET /api/v1/docs``: the API explorer (Swagger UI), served whole by the gateway.

FastAPI's own page loads Swagger UI from a CDN (and its favicon from fastapi.tiangolo.com), so
it is a blank page wherever the browser cannot reach the internet. The same page is made here
with `get_swagger_ui_html`, pointing at copies served under ``/api/v1/docs/assets/``: Swagger UI
5 (the first to read OpenAPI 3.1, which FastAPI writes), as the PyPI package ``fastapi-offline``
ships it (its ``static/`` folder; only those files are used, not its app factory). The online
validator badge is off too, so the page asks nothing of any other host. ReDoc stays disabled.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from xorca.api.core.index import API

__all__ = ["ASSETS", "DOCS", "install_docs"]

DOCS = f"{API}/docs"
ASSETS = f"{DOCS}/assets"
#: where the files are: the package and its folder (swagger-ui-bundle.js, swagger-ui.css,
#: favicon.png)
PACKAGE = ("fastapi_offline", "static")
#: FastAPI's default place for it, kept where it was
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def install_docs(app: FastAPI) -> None:
    """Add the explorer, its OAuth2 redirect page and its assets to ``app`` (made with
    ``docs_url=None``). Call it before the routers: ``/api/v1/{collection}`` would take
    ``/api/v1/docs`` otherwise."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT,
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_api_route(DOCS, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT, oauth2_redirect, methods=["GET"], include_in_schema=False)
    app.mount(ASSETS, StaticFiles(packages=[PACKAGE]), name="docs-assets")
