"""The API's index (core/index.py): what it lists, and when a client gets it as HTML."""

from __future__ import annotations

import pytest

from xorca.api.core.index import api_index, index_html, prefers_html
from xorca.contracts.deltas import OBJECT_TYPES

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER, True),
        ("text/html", True),
        ("", False),  # no Accept: JSON, the default
        ("*/*", False),  # curl, httpx, fetch
        ("application/json", False),
        ("application/json, text/html", False),  # as high: JSON wins
        ("text/html;q=0.5, application/json", False),
        ("application/json;q=0.1, text/html", True),
        ("text/html;q=oops, */*", False),
        ("TEXT/HTML", True),
    ],
)
def test_a_client_gets_html_only_when_it_prefers_it(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


def test_the_index_lists_every_collection_and_where_the_rest_is() -> None:
    index = api_index(OBJECT_TYPES, version="1.0.0", gateway="0.1.0")
    assert [c["name"] for c in index["collections"]] == sorted(OBJECT_TYPES.values())
    assert {"name": "vms", "type": "vm", "href": "/api/v1/vms"} in index["collections"]
    assert index["events"] == "/api/v1/events"
    assert index["docs"] == "/api/v1/docs"
    assert index["openapi"] == "/api/v1/openapi.json"
    assert (index["version"], index["gateway"]) == ("1.0.0", "0.1.0")


def test_the_index_page_links_every_collection_and_escapes_what_it_shows() -> None:
    index = api_index({"vm": "vms", "x": "<x>"}, version="1<2", gateway=None)
    page = index_html(index)
    assert '<a href="/api/v1/vms">' in page
    assert "&lt;x&gt;" in page and "<x>" not in page
    assert "1&lt;2" in page
