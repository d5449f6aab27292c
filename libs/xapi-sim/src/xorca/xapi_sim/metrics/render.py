"""The documents of xcp-rrdd's metrics handlers: `/rrd_updates` exports and full RRD dumps.

Clients parse these documents with hand-written code (XenCenter's XML reader, XO's JSON5 call, our
own collector), so the element order, the string form of every number and the choice of archive
must be xapi's (`rrd_updates.ml`, `rrd.ml` `xml_to_output` and `Json`):

- numbers are strings, as `%0.15g`, with `0.0`, `NaN`, `Infinity`, `-Infinity` for the special
  cases; in `/rrd_updates` JSON the meta numbers and `t` are JSON numbers (XO compares `step`
  with `!==`), in full dumps everything is a string;
- XML starts with `<?xml version="1.0" encoding="UTF-8"?>` and a newline, then one line;
- full dumps list rows oldest first, `/rrd_updates` newest first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from xorca.xapi_sim.metrics.rrd import Archive, Cf, NoRraAvailable, Ring, Rrd

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
MIME_XML = "text/xml"
MIME_JSON = "application/json"


def format_value(x: float) -> str:
    """xapi's `Rrd_utils.f_to_s`: C `%0.15g`, except for zero, NaN and infinities."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0.0"
    return f"{x:0.15g}"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# -- /rrd_updates ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Updates:
    """The `/rrd_updates` answer before rendering (upstream `Rrd_updates.t`)."""

    start: int
    step: int
    end: int
    legend: list[str]
    rows: list[tuple[int, list[float]]]
    """(timestamp, one value per legend entry), newest first."""


def find_best_archives(rrd: Rrd, pdp_interval: int, cf: Cf | None, start: int) -> list[Archive]:
    """The archives of the first resolution, at least `pdp_interval` PDPs a row, reaching back
    to `start`; failing that, those reaching furthest back (upstream `find_best_rras`)."""
    archives = [a for a in rrd.archives if cf is None or a.spec.cf is cf]
    if not archives:
        raise NoRraAvailable(f"no archive with CF {cf}")
    last_pdp_time = int(rrd.last_updated // rrd.step) * rrd.step

    def reaches(t: int, a: Archive) -> bool:
        oldest = last_pdp_time - rrd.step * a.spec.rows * a.spec.pdp_per_row
        return a.spec.pdp_per_row >= pdp_interval and t > oldest

    first = next((a for a in archives if reaches(start, a)), None)
    if first is None:
        widest = archives[-1].spec
        start = 1 + last_pdp_time - rrd.step * widest.rows * widest.pdp_per_row
        return [a for a in archives if reaches(start, a)]
    shape = (first.spec.pdp_per_row, first.spec.rows)
    return [a for a in archives if (a.spec.pdp_per_row, a.spec.rows) == shape]


def export_updates(
    sources: Sequence[tuple[str, Rrd]], start: int, interval: int, cf: Cf | None
) -> Updates:
    """Rows of several RRDs side by side; legend entries are `CF:<prefix><ds>`.

    `start < 0` is relative to the last update. The first RRD sets the clock and the archive
    shape; archives of other shapes are dropped, as upstream does (`create_multi`).
    """
    if not sources:
        raise NoRraAvailable("no RRD selected")
    step, last_updated = sources[0][1].step, sources[0][1].last_updated
    sources = [(p, r) for p, r in sources if r.step == step]
    if start < 0:
        start = min(start + int(r.last_updated) for _, r in sources)
    chosen = [find_best_archives(r, interval // step, cf, start) for _, r in sources]
    first = next((a[0] for a in chosen if a), None)
    if first is None:
        raise NoRraAvailable("no archive reaches that far")
    shape = (first.spec.pdp_per_row, first.spec.rows)
    chosen = [[a for a in arcs if (a.spec.pdp_per_row, a.spec.rows) == shape] for arcs in chosen]

    legend = [
        f"{a.spec.cf}:{prefix}{ds.name}"
        for (prefix, rrd), arcs in zip(sources, chosen, strict=True)
        for a in arcs
        for ds in rrd.dss
    ]
    rings = [ring for arcs in chosen for a in arcs for ring in a.rings]
    row_step = step * first.spec.pdp_per_row
    last_cdp_time = int(last_updated // row_step) * row_step
    first_cdp_time = (start // row_step) * row_step + row_step
    rows: list[tuple[int, list[float]]] = []
    for i in range(first.spec.rows):
        t = last_cdp_time - i * row_step
        if t < start:
            break
        rows.append((t, [ring.peek(i) for ring in rings]))
    return Updates(first_cdp_time, row_step, last_cdp_time, legend, rows)


def updates_xml(u: Updates) -> bytes:
    parts = [
        XML_DECL,
        f"<xport><meta><start>{u.start}</start><step>{u.step}</step><end>{u.end}</end>",
        f"<rows>{len(u.rows)}</rows><columns>{len(u.legend)}</columns><legend>",
        *(f"<entry>{_esc(e)}</entry>" for e in u.legend),
        "</legend></meta><data>",
    ]
    for t, values in u.rows:
        parts.append(f"<row><t>{t}</t>")
        parts.extend(f"<v>{format_value(v)}</v>" for v in values)
        parts.append("</row>")
    parts.append("</data></xport>")
    return "".join(parts).encode()


def updates_json(u: Updates) -> bytes:
    return _dumps(
        {
            "meta": {
                "start": u.start,
                "step": u.step,
                "end": u.end,
                "rows": len(u.rows),
                "columns": len(u.legend),
                "legend": u.legend,
            },
            "data": [{"t": t, "values": [format_value(v) for v in vs]} for t, vs in u.rows],
        }
    )


# -- full dumps ---------------------------------------------------------------------------------


def rrd_xml(rrd: Rrd, *, internal: bool = False) -> bytes:
    """The rrdtool-style dump. `internal` adds each DS's `last_updated`, as in xapi's on-disk
    archives (and `flip_flop.xml`); the HTTP handlers leave it out."""
    parts = [
        XML_DECL,
        f"<rrd><version>0003</version><step>{rrd.step}</step>",
        f"<lastupdate>{int(rrd.last_updated)}</lastupdate>",
    ]
    for ds in rrd.dss:
        parts.append(
            f"<ds><name>{_esc(ds.name)}</name><type>{ds.spec.type}</type>"
            f"<minimal_heartbeat>{format_value(ds.spec.heartbeat)}</minimal_heartbeat>"
            f"<min>{format_value(ds.spec.min)}</min><max>{format_value(ds.spec.max)}</max>"
            f"<last_ds>{_last_ds(ds.last)}</last_ds><value>{format_value(ds.value)}</value>"
            f"<unknown_sec>{int(ds.unknown_sec)}</unknown_sec>"
        )
        if internal:
            parts.append(f"<last_updated>{format_value(rrd.last_updated)}</last_updated>")
        parts.append("</ds>")
    for a in rrd.archives:
        parts.append(
            f"<rra><cf>{a.spec.cf}</cf><pdp_per_row>{a.spec.pdp_per_row}</pdp_per_row>"
            f"<params><xff>{format_value(a.spec.xff)}</xff></params><cdp_prep>"
        )
        for value, unknown in zip(a.cdp_value, a.cdp_unknown, strict=True):
            parts.append(
                "<ds><primary_value>0.0</primary_value><secondary_value>0.0</secondary_value>"
                f"<value>{format_value(value)}</value>"
                f"<unknown_datapoints>{unknown}</unknown_datapoints></ds>"
            )
        parts.append("</cdp_prep><database>")
        for row in _rows_oldest_first(a.rings):
            parts.append("<row>")
            parts.extend(f"<v>{format_value(v)}</v>" for v in row)
            parts.append("</row>")
        parts.append("</database></rra>")
    parts.append("</rrd>")
    return "".join(parts).encode()


def rrd_json(rrd: Rrd) -> bytes:
    """The JSON dump: every scalar is a string, as xapi's `Rrd.Json` makes it."""
    f = format_value
    return _dumps(
        {
            "version": "0003",
            "step": str(rrd.step),
            "lastupdate": f(rrd.last_updated),
            "ds": [
                {
                    "name": ds.name,
                    "type": str(ds.spec.type),
                    "minimal_heartbeat": f(ds.spec.heartbeat),
                    "min": f(ds.spec.min),
                    "max": f(ds.spec.max),
                    "last_ds": _last_ds(ds.last),
                    "value": f(ds.value),
                    "unknown_sec": f(ds.unknown_sec),
                    "last_updated": f(rrd.last_updated),
                }
                for ds in rrd.dss
            ],
            "rra": [
                {
                    "cf": str(a.spec.cf),
                    "pdp_per_row": str(a.spec.pdp_per_row),
                    "params": {"xff": f(a.spec.xff)},
                    "cdp_prep": {
                        "ds": [
                            {
                                "primary_value": "0.0",
                                "secondary_value": "0.0",
                                "value": f(v),
                                "unknown_datapoints": str(u),
                            }
                            for v, u in zip(a.cdp_value, a.cdp_unknown, strict=True)
                        ]
                    },
                    "database": [[f(v) for v in row] for row in _rows_oldest_first(a.rings)],
                }
                for a in rrd.archives
            ],
        }
    )


def _last_ds(last: float | None) -> str:
    return "0.0" if last is None else format_value(last)


def _rows_oldest_first(rings: Sequence[Ring]) -> list[list[float]]:
    columns = [r.oldest_first() for r in rings]
    return [list(row) for row in zip(*columns, strict=True)]
