"""What ``GET /api/v1`` answers: an index of the API (its collections, the event stream, the
docs), as JSON for programs or as a small HTML page for a person who opened the URL the demo
prints. Pure: the route hands in the versions and the client's ``Accept``.

Links are absolute paths (``/api/v1/vms``), as ``Location`` and problem types are: they stay
right behind a proxy that changes the host.
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["API", "ICON", "api_index", "index_html", "prefers_html"]

API = "/api/v1"
#: the web UI's icon (web/index.html), inline: the gateway's own pages ask for no /favicon.ico
ICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E"
    "%3Ccircle cx='16' cy='16' r='14' fill='%231864c8'/%3E"
    "%3Ccircle cx='11' cy='13' r='3' fill='white'/%3E"
    "%3Ccircle cx='21' cy='13' r='3' fill='white'/%3E"
    "%3Ccircle cx='16' cy='22' r='3' fill='white'/%3E%3C/svg%3E"
)


def api_index(collections: dict[str, str], *, version: str, gateway: str | None) -> dict[str, Any]:
    """The index: ``collections`` maps each object type to its collection (``vm`` → ``vms``);
    ``version`` is the API's (OpenAPI ``info.version``), ``gateway`` the xorca-api release."""
    return {
        "title": "xorca API",
        "version": version,
        "gateway": gateway,
        "docs": f"{API}/docs",
        "openapi": f"{API}/openapi.json",
        "events": f"{API}/events",
        "collections": [
            {"name": name, "type": type_, "href": f"{API}/{name}"}
            for type_, name in sorted(collections.items(), key=lambda item: item[1])
        ],
        "tasks": f"{API}/tasks/{{id}}",
        "actions": f"{API}/{{collection}}/actions",
        "problems": f"{API}/problems/{{code}}",
        "authentication": "Authorization: Bearer <token> (xorca token create); "
        "?access_token=<token> where headers cannot be set",
    }


def prefers_html(accept: str) -> bool:
    """Whether a client sending ``Accept: accept`` would rather have HTML than JSON: a browser
    (``text/html,…,*/*;q=0.8``) does; curl, httpx and ``fetch`` (``*/*``) do not, nor does a
    client that names JSON at least as high. Wildcards count for JSON, the default."""
    html = json = 0.0
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media == "text/html":
            html = max(html, quality)
        elif media in ("application/json", "application/*", "*/*"):
            json = max(json, quality)
    return html > json


def index_html(index: dict[str, Any]) -> str:
    """The index as a page a person can read and click through."""

    def link(path: str) -> str:
        return f'<a href="{escape(path)}"><code>{escape(path)}</code></a>'

    rows = "\n".join(
        f"<li>{link(c['href'])} <small>({escape(c['type'])})</small></li>"
        for c in index["collections"]
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="{ICON}">
<title>{escape(index["title"])} {escape(index["version"])}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d2430; }}
code {{ font-size: 0.95em; }}
ul {{ columns: 2; padding-left: 1.2rem; }}
</style>
</head>
<body>
<h1 data-testid="api-index">{escape(index["title"])} <small>{escape(index["version"])}</small></h1>
<p>REST snapshots of every object at a revision, server-sent events of every change after one,
actions that become XAPI tasks. Send <code>{escape(index["authentication"])}</code>.
This page is also JSON: ask for <code>Accept: application/json</code>.</p>
<ul style="columns: 1">
<li>Explorer: {link(index["docs"])} (OpenAPI: {link(index["openapi"])})</li>
<li>Events (SSE): {link(index["events"])}<code>?since=0</code></li>
<li>Tasks: <code>{escape(index["tasks"])}</code>; actions: <code>{escape(index["actions"])}</code>;
error codes: <code>{escape(index["problems"])}</code></li>
</ul>
<h2>Collections</h2>
<ul>
{rows}
</ul>
</body>
</html>
"""
