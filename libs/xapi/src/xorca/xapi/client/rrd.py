"""``/rrd_updates`` documents (XAPI.md §5) as typed series, from JSON or XML. Pure: no I/O.

The two formats carry the same thing: ``meta`` (start, step, end, a legend of
``CF:kind:uuid:data_source`` entries) and rows of one value per legend entry, newest first,
each value a string in C's ``%0.15g`` or ``NaN``/``Infinity``/``-Infinity``. Here every legend
entry becomes a `SeriesKey` and its column a list of ``(timestamp, value)`` pairs, **oldest
first**, since that is how every consumer (a chart, a store) wants them.

Hosts before xapi 23.31 wrote JSON that is not JSON (bare ``NaN`` tokens, unquoted keys, as XO
notes); the parser accepts those too rather than lose a host's metrics to a syntax detail.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

import orjson

__all__ = ["RrdFormatError", "RrdUpdates", "SeriesKey", "parse_legend_entry", "parse_rrd_updates"]


class RrdFormatError(ValueError):
    """A document that is not an ``/rrd_updates`` export; the message says what was wrong."""


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """A legend entry: ``AVERAGE:vm:<uuid>:cpu0`` is ``SeriesKey("AVERAGE", "vm", uuid,
    "cpu0")``."""

    cf: str
    kind: str  # host, vm or sr
    uuid: str
    name: str

    def __str__(self) -> str:
        return f"{self.cf}:{self.kind}:{self.uuid}:{self.name}"


Point = tuple[int, float]


@dataclass(frozen=True)
class RrdUpdates:
    start: int
    end: int
    step: int
    #: legend entry → (timestamp, value) pairs, oldest first; NaN marks an unknown value
    series: dict[SeriesKey, list[Point]] = field(default_factory=dict)

    def of(self, uuid: str) -> dict[SeriesKey, list[Point]]:
        """The series of one host, VM or SR."""
        return {k: v for k, v in self.series.items() if k.uuid == uuid}

    def latest(self, key: SeriesKey) -> float:
        """The newest value of a series (NaN when it has none)."""
        points = self.series.get(key)
        return points[-1][1] if points else math.nan


def parse_legend_entry(text: str) -> SeriesKey:
    parts = text.split(":", 3)
    if len(parts) != 4 or not all(parts):
        raise RrdFormatError(f"legend entry {text!r} is not CF:kind:uuid:name")
    return SeriesKey(*parts)


def parse_rrd_updates(body: bytes, content_type: str = "") -> RrdUpdates:
    """Parse either format; the content type decides, else the first non-blank byte."""
    media = content_type.split(";")[0].strip().lower()
    head = body.lstrip()[:1]
    if media.endswith("json") or (not media.endswith("xml") and head == b"{"):
        return _from_json(body)
    return _from_xml(body)


# ----------------------------------------------------------------------------------- building


def _build(
    start: object, end: object, step: object, legend: Sequence[object], rows: Sequence[Any]
) -> RrdUpdates:
    keys = []
    for entry in legend:
        if not isinstance(entry, str):
            raise RrdFormatError(f"legend entry {entry!r} is not a string")
        keys.append(parse_legend_entry(entry))
    columns: list[list[Point]] = [[] for _ in keys]
    for t, values in rows:
        when = _int(t, "t")
        if len(values) != len(keys):
            raise RrdFormatError(f"row at {when} has {len(values)} values for {len(keys)} columns")
        for column, value in zip(columns, values, strict=True):
            column.append((when, _float(value)))
    for column in columns:
        column.sort(key=lambda point: point[0])  # the wire is newest first
    return RrdUpdates(
        start=_int(start, "start"),
        end=_int(end, "end"),
        step=_int(step, "step"),
        series=dict(zip(keys, columns, strict=True)),
    )


def _int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise RrdFormatError(f"{what} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise RrdFormatError(f"{what} is not an integer: {value!r:.40}")


def _float(value: object) -> float:
    """``"0.0282"``, ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, a bare number, or null."""
    if value is None:
        return math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # float() reads NaN, Infinity and -Infinity (any case)
        except ValueError:
            pass
    raise RrdFormatError(f"not a number: {value!r:.40}")


# --------------------------------------------------------------------------------------- JSON

# a bare key after { or , (older hosts): quoted before a second attempt
_BARE_KEY = re.compile(rb"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*:)")


def _load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RrdFormatError(f"not UTF-8: {e}") from e
    try:
        return json.loads(text)  # bare NaN / Infinity / -Infinity tokens
    except RecursionError as e:
        raise RrdFormatError("JSON nested too deeply") from e
    except ValueError:
        pass
    try:
        return json.loads(_BARE_KEY.sub(rb'\1"\2"\3', body).decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise RrdFormatError(f"malformed JSON: {e}") from e


def _from_json(body: bytes) -> RrdUpdates:
    document = _load_json(body)
    if not isinstance(document, dict):
        raise RrdFormatError(f"expected a JSON object, got {type(document).__name__}")
    meta, data = document.get("meta"), document.get("data")
    if not isinstance(meta, dict) or not isinstance(data, list):
        raise RrdFormatError("expected 'meta' (an object) and 'data' (an array)")
    legend = meta.get("legend")
    if not isinstance(legend, list):
        raise RrdFormatError("meta has no 'legend' array")
    rows = []
    for row in data:
        values = row.get("values") if isinstance(row, dict) else None
        if not isinstance(values, list):
            raise RrdFormatError(f"data row {row!r:.60} has no 'values' array")
        rows.append((row.get("t"), values))
    return _build(meta.get("start"), meta.get("end"), meta.get("step"), legend, rows)


# ---------------------------------------------------------------------------------------- XML


def _from_xml(body: bytes) -> RrdUpdates:
    """Read ``<xport>`` with expat callbacks: the document is flat and regular, and refusing
    DOCTYPE outright rules out entity expansion attacks."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    meta: dict[str, str] = {}
    legend: list[str] = []
    rows: list[tuple[str, list[str]]] = []
    path: list[str] = []
    text: list[str] = []

    def start(tag: str, _attrs: object) -> None:
        if not path and tag != "xport":
            raise RrdFormatError(f"expected <xport>, got <{tag}>")
        path.append(tag)
        text.clear()
        if tag == "row":
            rows.append(("", []))

    def end(tag: str) -> None:
        content = "".join(text)
        text.clear()
        parent = path[-2] if len(path) > 1 else ""
        path.pop()
        if parent == "meta":
            meta[tag] = content
        elif tag == "entry" and parent == "legend":
            legend.append(content)
        elif parent == "row" and rows:
            if tag == "t":
                rows[-1] = (content, rows[-1][1])
            elif tag == "v":
                rows[-1][1].append(content)

    def refuse(*_: object) -> None:
        raise RrdFormatError("DOCTYPE and entity declarations are not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text.append
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(body, True)
    except expat.ExpatError as e:
        raise RrdFormatError(f"malformed XML: {expat.ErrorString(e.code)} (line {e.lineno})") from e
    if "start" not in meta:
        raise RrdFormatError("<xport> has no <meta> with a <start>")
    return _build(meta.get("start"), meta.get("end"), meta.get("step"), legend, rows)
