"""xapi's own database dumps (``state.db``) as the raw records the projection receives.

A dump is ``<database><table name="VM"><row ref=… uuid=… name__label=… …/></table>…``: one
attribute per field, every value as text. Field names write the datamodel's ``_`` in nested names
as ``__`` (``name__label`` is ``name_label``, ``memory__static_max`` is ``memory_static_max``);
sets and maps are S-expressions, ``('a' 'b')`` and ``(('k' 'v') ('k2' 'v2'))``, with either quote
and backslash escapes. xapi protects some characters of every value with ``%``: ``%_`` is two
spaces (runs of spaces would not survive XML), ``%n`` a newline and ``%%`` a ``%``.

`load_statedb` types every field from the datamodel (``xorca.xapi.datamodel``) as XAPI's JSON-RPC
would give it: ints and floats as numbers, bools, lists, objects; refs, enums, datetimes and
strings stay text. Fields the datamodel no longer has stay text too.

Older dumps (``state.db.xml``) store only one side of each one-to-many relation (``VBD.VM``, not
``VM.VBDs``): xapi rebuilds the sets when it loads them, and so does `load_statedb`, for every set
a row lacks (``xorca.xapi_sim.state.relations`` names the pairs).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from xorca.projection.core.records import Raw
from xorca.xapi.datamodel import ClassDef, Datamodel, MapOf, OptionOf, Prim, SetOf, Type, datamodel
from xorca.xapi_sim.state.relations import pointers_of, sets_of

__all__ = ["StateDb", "load_statedb", "parse_sexp", "unprotect"]

Sexp = str | list["Sexp"]

_PROTECTED = re.compile(r"%([_n%])")
_UNPROTECT = {"_": "  ", "n": "\n", "%": "%"}
Value = str | int | float | bool | list["Value"] | dict[str, "Value"]


@dataclass(frozen=True)
class StateDb:
    """One dump: its pool's uuid and every row as a `Raw`, by ref."""

    pool: str
    records: dict[str, Raw]

    def lookup(self, pool: str, ref: str) -> Raw | None:
        return self.records.get(ref) if pool == self.pool else None

    def of_class(self, cls: str) -> list[Raw]:
        return [raw for raw in self.records.values() if raw.cls == cls]


def parse_sexp(text: str) -> Sexp:
    """``('a' ('b' "c\\"d"))`` as nested lists of strings; a bare word is a string."""
    value, end = _parse(text, _skip(text, 0))
    if _skip(text, end) != len(text):
        raise ValueError(f"trailing text after S-expression: {text[end:]!r}")
    return value


def unprotect(text: str) -> str:
    """A value as xapi stored it (``CPU%_%_ X3450`` → ``CPU     X3450``)."""
    return _PROTECTED.sub(lambda m: _UNPROTECT[m.group(1)], text)


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _parse(text: str, i: int) -> tuple[Sexp, int]:
    if i >= len(text):
        raise ValueError("unexpected end of S-expression")
    ch = text[i]
    if ch == "(":
        items: list[Sexp] = []
        i = _skip(text, i + 1)
        while i < len(text) and text[i] != ")":
            item, i = _parse(text, i)
            items.append(item)
            i = _skip(text, i)
        if i >= len(text):
            raise ValueError("unclosed S-expression")
        return items, i + 1
    if ch in "'\"":
        out: list[str] = []
        i += 1
        while i < len(text) and text[i] != ch:
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            out.append(text[i])
            i += 1
        if i >= len(text):
            raise ValueError("unclosed string in S-expression")
        return "".join(out), i + 1
    start = i
    while i < len(text) and not text[i].isspace() and text[i] not in "()":
        i += 1
    return text[start:i], i


def _convert(t: Type, node: Sexp) -> Value:
    match t:
        case SetOf(item):
            items = node if isinstance(node, list) else [node]
            return [_convert(item, element) for element in items]
        case MapOf(_, value):
            pairs = node if isinstance(node, list) else []
            out: dict[str, Value] = {}
            for pair in pairs:
                if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str):
                    out[pair[0]] = _convert(value, pair[1])
            return out
    if isinstance(node, list):
        return [_convert(Prim("string"), element) for element in node]
    return _scalar(t, node)


def _scalar(t: Type, text: str) -> Value:
    try:
        match t:
            case Prim("int"):
                return int(text)
            case Prim("float"):
                return float(text)
            case Prim("bool"):
                return text == "true"
    except ValueError:
        return text
    return text


def _field(cdef: ClassDef | None, name: str, text: str) -> Value:
    fdef = cdef.fields.get(name) if cdef else None
    if fdef is None or isinstance(fdef.type, OptionOf):
        return text
    if isinstance(fdef.type, SetOf | MapOf):
        return _convert(fdef.type, parse_sexp(text))
    return _scalar(fdef.type, text)


def load_statedb(path: Path) -> StateDb:
    dm = datamodel()
    root = ET.parse(path).getroot()
    rows: list[tuple[ClassDef | None, str, dict[str, Value]]] = []
    for table in root.iter("table"):
        cls = table.get("name", "")
        cdef = dm.lookup(cls)
        for row in table.iter("row"):
            record: dict[str, Value] = {}
            for attribute, text in row.attrib.items():
                if attribute in ("ref", "_ref"):
                    continue
                name = attribute.replace("__", "_")
                record[name] = _field(cdef, name, unprotect(text))
            rows.append((cdef, row.get("ref", ""), record))
    _rebuild_sets(dm, rows)
    pools = [record for cdef, _, record in rows if cdef is not None and cdef.name == "pool"]
    if len(pools) != 1:
        raise ValueError(f"{path.name}: {len(pools)} pool rows")
    pool = str(pools[0]["uuid"])
    records = {
        ref: Raw(pool, cdef.lower, ref, str(record["uuid"]), record)
        for cdef, ref, record in rows
        if cdef is not None
    }
    return StateDb(pool, records)


def _rebuild_sets(dm: Datamodel, rows: list[tuple[ClassDef | None, str, dict[str, Value]]]) -> None:
    """Fill the relation sets the rows lack from the pointers of the other side."""
    by_ref = {ref: (cdef, record) for cdef, ref, record in rows if cdef is not None}
    rebuilt: set[tuple[str, str]] = set()
    for cdef, ref, record in rows:
        for relation in sets_of(dm, cdef.name) if cdef else ():
            if relation.one_field not in record:
                record[relation.one_field] = []
                rebuilt.add((ref, relation.one_field))
    for cdef, ref, record in rows:
        for relation in pointers_of(dm, cdef.name) if cdef else ():
            target = record.get(relation.many_field)
            if isinstance(target, str) and (target, relation.one_field) in rebuilt:
                one_cdef, one = by_ref[target]
                members = one[relation.one_field]
                if one_cdef is not None and one_cdef.name == relation.one_cls:
                    assert isinstance(members, list)
                    members.append(ref)
