"""The web UI at ``/``: the built files of ``web/`` (``XORCA_WEB_ROOT``, ``web/dist`` for the
demo), or, while that folder holds no ``index.html``, a page saying the UI is not built and how
to build it (other paths are 404s then). Which one is decided at each request, so a gateway
started before the build finished serves the UI from the moment it is there (``xorca demo``
builds it while the rest starts)."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from xorca.api.core.index import ICON

__all__ = ["NOT_BUILT", "WebUi"]

NOT_BUILT = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="{ICON}">
<title>xorca: the web UI is not built</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d2430; }}
pre {{ background: #eef1f5; padding: 0.75rem 1rem; border-radius: 4px; }}
</style>
</head>
<body>
<h1 data-testid="web-not-built">The web UI is not built</h1>
<p>This xorca gateway serves the web UI from its built files, and there are none yet.
The API works meanwhile: <a href="api/v1"><code>/api/v1</code></a>
(explorer: <a href="api/v1/docs"><code>/api/v1/docs</code></a>).</p>
<p>To build the UI you need Node.js and npm (Debian: <code>apt-get install nodejs npm</code>;
the version <code>web/package.json</code> asks for under <code>engines</code>). Then, in the
repository:</p>
<pre>cd web
npm ci
npm run build</pre>
<p>and reload this page. <code>./xorca demo</code> does this by itself when it starts and finds
<code>web/dist</code> missing or older than its sources: restart it once Node.js and npm are
there (it prints why the build failed, if it does).</p>
</body>
</html>
"""


class WebUi:
    """An ASGI app serving the built UI in ``root``, or `NOT_BUILT` at ``/`` until it is."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: StaticFiles | None = None

    @property
    def built(self) -> bool:
        return (self.root / "index.html").is_file()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.built:
            if self._files is None:
                self._files = StaticFiles(directory=self.root, html=True)
            await self._files(scope, receive, send)
            return
        if scope["type"] != "http":
            raise HTTPException(404)
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        path, root = scope["path"], scope.get("root_path", "")
        if path.startswith(root):  # behind a proxy that strips a prefix
            path = path[len(root) :] or "/"
        if path not in ("/", "/index.html"):
            raise HTTPException(404)
        # 503: the page is there to be had, once built (no cache: it goes away then)
        page = HTMLResponse(NOT_BUILT, 503, headers={"Cache-Control": "no-store"})
        await page(scope, receive, send)
