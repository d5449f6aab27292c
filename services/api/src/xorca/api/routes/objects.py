"""``GET /api/v1/{collection}`` and ``GET /api/v1/{collection}/{id}``: snapshots of the store.

A list is read in one store transaction, so it is the store at one revision (``revision`` in the
answer, and the ``X-Xorca-Revision`` header): a client that then follows ``GET /events?since=
<revision>`` misses nothing. Pages (``limit``, ``cursor``) are each a snapshot of their own; use
the first page's revision to follow (the events after it replay what later pages already show,
harmlessly). ``ndjson=true`` streams one object per line instead, after a first line with the
revision: no page size, no memory held for a 10,000-VM list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query
from starlette.responses import Response, StreamingResponse

from xorca.api.core.acl import Principal, can
from xorca.api.core.errors import ApiProblem
from xorca.api.core.fields import Fields, parse_fields
from xorca.api.core.query import Query as Filter
from xorca.api.core.query import parse_query
from xorca.api.state import ApiDep, CallerDep
from xorca.contracts.deltas import OBJECT_TYPES, collection_type
from xorca.store import ObjectRow, StoreReader

__all__ = ["router"]

router = APIRouter(tags=["objects"])

#: rows read from the store at a time while filtering a list
_SCAN = 1000
COLLECTIONS = sorted(OBJECT_TYPES.values())

CollectionPath = Annotated[
    str,
    Path(description=f"one of: {', '.join(COLLECTIONS)}", examples=["vms"]),
]
FilterParam = Annotated[
    str | None,
    Query(
        description="query language (docs/filter.md), e.g. `power_state:Running tags:prod`",
        max_length=2000,
    ),
]
FieldsParam = Annotated[
    str | None,
    Query(description="comma-separated fields (dotted paths); id and type always come"),
]


def type_of(collection: str) -> str:
    type_ = collection_type(collection)
    if type_ is None:
        raise ApiProblem(
            404, f"no collection {collection!r} (collections: {', '.join(COLLECTIONS)})"
        )
    return type_


def filter_of(text: str | None) -> Filter:
    """The ``filter`` parameter read (absent: everything); a `QueryError` is the answer."""
    return parse_query(text or "")


def fields_of(text: str | None) -> Fields:
    """The ``fields`` parameter read (absent: all); a `FieldsError` is the answer."""
    return parse_fields(text or "")


def item(row: ObjectRow, fields: Fields) -> dict[str, Any]:
    assert row.data is not None
    out = dict(row.data) if fields.is_all else fields.project(row.data)
    out["rev"] = row.rev
    return out


async def matching(
    reader: StoreReader,
    type_: str,
    caller: Principal,
    query: Filter,
    *,
    after: str | None,
    pool: str | None,
    limit: int | None,
) -> AsyncIterator[ObjectRow]:
    """The live rows of ``type_`` the caller may read and the filter keeps, in id order."""
    found = 0
    while limit is None or found < limit:
        rows = await reader.list(type_, after=after, limit=_SCAN, pool=pool)
        for row in rows:
            assert row.data is not None
            if query.matches(row.data) and can(caller, "read", row.data):
                yield row
                found += 1
                if limit is not None and found >= limit:
                    return
        if len(rows) < _SCAN:
            return
        after = rows[-1].id


@router.get(
    "/{collection}",
    summary="List a collection",
    responses={200: {"description": "`{revision, items, next}`, or NDJSON lines"}},
)
async def list_objects(
    api: ApiDep,
    caller: CallerDep,
    collection: CollectionPath,
    filter: FilterParam = None,
    fields: FieldsParam = None,
    limit: Annotated[int | None, Query(ge=1, description="items per page")] = None,
    cursor: Annotated[
        str | None, Query(max_length=256, description="`next` of the previous page")
    ] = None,
    pool: Annotated[str | None, Query(max_length=64, description="only this pool's")] = None,
    ndjson: Annotated[bool, Query(description="stream one object per line")] = False,
) -> Response:
    type_ = type_of(collection)
    query, selected = filter_of(filter), fields_of(fields)
    settings = api.settings
    if limit is not None and limit > settings.page_max:
        raise ApiProblem(400, f"limit: at most {settings.page_max}")
    if ndjson:
        return StreamingResponse(
            _ndjson(api, caller, type_, query, selected, cursor, pool, limit),
            media_type="application/x-ndjson",
        )
    page = limit or settings.page_size
    async with api.store.reader() as reader:
        rows = [
            row
            async for row in matching(
                reader, type_, caller, query, after=cursor, pool=pool, limit=page + 1
            )
        ]
        revision = reader.revision
    more = len(rows) > page
    rows = rows[:page]
    body = {
        "revision": revision,
        "items": [item(row, selected) for row in rows],
        "next": rows[-1].id if more else None,
    }
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"X-Xorca-Revision": str(revision)},
    )


async def _ndjson(
    api: Any,
    caller: Principal,
    type_: str,
    query: Filter,
    selected: Fields,
    cursor: str | None,
    pool: str | None,
    limit: int | None,
) -> AsyncIterator[bytes]:
    async with api.store.reader() as reader:
        yield orjson.dumps({"revision": reader.revision}) + b"\n"
        chunk: list[bytes] = []
        async for row in matching(
            reader, type_, caller, query, after=cursor, pool=pool, limit=limit
        ):
            chunk.append(orjson.dumps(item(row, selected)))
            if len(chunk) >= 200:
                yield b"\n".join(chunk) + b"\n"
                chunk = []
        if chunk:
            yield b"\n".join(chunk) + b"\n"


@router.get("/{collection}/{id}", summary="One object")
async def get_object(
    api: ApiDep,
    caller: CallerDep,
    collection: CollectionPath,
    id: Annotated[str, Path(max_length=256)],
    fields: FieldsParam = None,
) -> Response:
    type_ = type_of(collection)
    selected = fields_of(fields)
    async with api.store.reader() as reader:
        row = await reader.get(type_, id)
        revision = reader.revision
    if row is None or row.deleted or row.data is None or not can(caller, "read", row.data):
        raise ApiProblem(404, f"no {type_} {id!r}")
    return Response(
        orjson.dumps(item(row, selected)),
        media_type="application/json",
        headers={"X-Xorca-Revision": str(revision), "ETag": f'W/"{row.rev}"'},
    )
