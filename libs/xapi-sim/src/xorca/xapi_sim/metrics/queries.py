"""Query handling of xcp-rrdd's HTTP handlers (`rrdd_http_handler.ml`), without the HTTP.

The server parses the request, checks the session, then calls `rrd_updates_response` or
`rrd_dump_response` and sends back the (content type, body) pair. Errors are the `RrdError` tree:
`RrdQueryError` is a 400, `RrdNotFound` a 404, `NoRraAvailable` a 500.

Parameters follow xapi: `host` must be the literal `true`; `vm_uuid` defaults to every VM the
host knows and `sr_uuid` to none, each also accepting `all` and `none` (and, here, repetition);
`interval` defaults to 0 (the finest archive that reaches back to `start`). Where xapi silently
ignores a malformed `cf`, `start` or `interval`, we answer 400, which is what a careful client
expects and what makes client bugs visible.

JSON or XML: the `Accept` header decides when it names either type (JSON wins ties, so `*/*` gets
JSON, as xapi does since 23.17); otherwise a `json` parameter asks for JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from xorca.xapi_sim.metrics.render import (
    MIME_JSON,
    MIME_XML,
    export_updates,
    rrd_json,
    rrd_xml,
    updates_json,
    updates_xml,
)
from xorca.xapi_sim.metrics.rrd import Cf, OwnerKind, Rrd, RrdNotFound, RrdQueryError, RrdStore

Query = Mapping[str, Sequence[str]]


def accept_prefers_json(accept: str | None) -> bool | None:
    """xapi's `client_prefers_json` on an Accept header; None when it accepts neither type."""
    if not accept:
        return None
    ranges: list[tuple[str, float]] = []
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if "/" not in media:
            continue
        q = 1.0
        for p in params:
            name, _, value = p.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    return None  # xapi ignores an unparsable header
        ranges.append((media.lower(), q))

    def quality(mime: str) -> float:
        kind = mime.split("/")[0]
        for pattern in (mime, f"{kind}/*", "*/*"):  # the most specific range decides
            for media, q in ranges:
                if media == pattern:
                    return q
        return 0.0

    q_json, q_xml = quality(MIME_JSON), quality(MIME_XML)
    if q_json <= 0 and q_xml <= 0:
        return None
    return q_json >= q_xml


def wants_json(query: Query, accept: str | None) -> bool:
    preferred = accept_prefers_json(accept)
    return ("json" in query) if preferred is None else preferred


def _one(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _int(query: Query, name: str, default: int | None) -> int:
    raw = _one(query, name)
    if raw is None:
        if default is None:
            raise RrdQueryError(f"missing the '{name}' parameter")
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise RrdQueryError(f"the '{name}' parameter must be an integer, not {raw!r}") from None


def _cf(query: Query) -> Cf | None:
    """None, when absent, exports every CF of the chosen resolution, as xapi does."""
    raw = _one(query, "cf")
    if raw is None:
        return None
    try:
        return Cf(raw)
    except ValueError:
        raise RrdQueryError(f"cf must be AVERAGE, MIN or MAX, not {raw!r}") from None


def _owned(
    store: RrdStore,
    kind: OwnerKind,
    requested: Sequence[str] | None,
    known: Iterable[str] | None,
    default_all: bool,
) -> list[tuple[str, Rrd]]:
    present = [uuid for _, uuid in store.owners(kind)]
    if known is not None:
        allowed = set(known)
        present = [u for u in present if u in allowed]
    if requested is None:
        chosen = present if default_all else []
    elif "all" in requested:
        chosen = present
    else:
        wanted = set(requested)
        chosen = [u for u in present if u in wanted]
    result: list[tuple[str, Rrd]] = []
    for uuid in chosen:
        rrd = store.get((kind, uuid))
        if rrd is not None:
            result.append((f"{kind}:{uuid}:", rrd))
    return result


def rrd_updates_response(
    store: RrdStore,
    query: Query,
    *,
    host_uuid: str,
    vm_uuids: Iterable[str] | None = None,
    sr_uuids: Iterable[str] | None = None,
    accept: str | None = None,
) -> tuple[str, bytes]:
    """Answer `GET /rrd_updates` on host `host_uuid`: (content type, body).

    `vm_uuids`/`sr_uuids` are the VMs and SRs this host knows (its resident VMs, its SRs), for a
    store shared by several hosts; None means every VM or SR owner in `store`.
    """
    start = _int(query, "start", None)
    interval = _int(query, "interval", 0)
    cf = _cf(query)
    sources: list[tuple[str, Rrd]] = []
    host_rrd = store.get(("host", host_uuid))
    if _one(query, "host") == "true" and host_rrd is not None:
        sources.append((f"host:{host_uuid}:", host_rrd))
    sources += _owned(store, "vm", query.get("vm_uuid"), vm_uuids, default_all=True)
    sources += _owned(store, "sr", query.get("sr_uuid"), sr_uuids, default_all=False)
    updates = export_updates(sources, start, interval, cf)
    if wants_json(query, accept):
        return MIME_JSON, updates_json(updates)
    return MIME_XML, updates_xml(updates)


def rrd_dump_response(
    store: RrdStore,
    kind: OwnerKind,
    query: Query,
    *,
    host_uuid: str,
    accept: str | None = None,
) -> tuple[str, bytes]:
    """Answer `/host_rrd` (kind "host", this host), `/vm_rrd?uuid=` or `/sr_rrd?uuid=`."""
    uuid = host_uuid if kind == "host" else _one(query, "uuid")
    if not uuid:
        raise RrdQueryError(f"get_{kind}_rrd: missing the 'uuid' parameter")
    rrd = store.get((kind, uuid))
    if rrd is None:
        raise RrdNotFound(f"no RRD for {kind} {uuid}")
    if wants_json(query, accept):
        return MIME_JSON, rrd_json(rrd)
    return MIME_XML, rrd_xml(rrd)
