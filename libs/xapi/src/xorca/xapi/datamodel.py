"""The XenAPI datamodel, read from the shipped ``xenapi.json`` (see ``data/README.md``).

Everything the simulator knows about classes, fields, types, defaults and messages comes from here,
never from hand-written lists. Types are parsed once into a small algebra (`Prim`, `Ref`, `Enum`,
`SetOf`, `MapOf`, `RecordOf`, `OptionOf`) that the dispatcher uses to check and coerce parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson

from xorca.xapi.values import DateTime, Value

EPOCH = DateTime("19700101T00:00:00Z")
#: classes (lowercase) whose entry in xapi's ``ocaml/idl/datamodel*.ml`` says ``gen_events=false``
#: (``diagnostics`` too, which this datamodel lacks): they never produce events, whether subscribed
#: by name or by ``*``
EVENTLESS = frozenset(
    {
        "session",
        "auth",
        "event",
        "sr_stat",
        "probe_result",
        "user",
        "data_source",
        "secret",
        "vdi_nbd_server_info",
    }
)
#: classes that may produce events but whose table xapi never writes: ``role``'s records are the
#: static RBAC list (``xapi_role.ml``), thousands of them, answered by ``role.get_all_records`` and
#: never changed, so nothing a watcher needs to mirror (XenCenter reads them once)
STATIC_CLASSES = frozenset({"role"})
NULL_REF = "OpaqueRef:NULL"


@dataclass(frozen=True, slots=True)
class Prim:
    name: str  # string | int | float | bool | datetime


@dataclass(frozen=True, slots=True)
class Ref:
    cls: str


@dataclass(frozen=True, slots=True)
class Enum:
    name: str


@dataclass(frozen=True, slots=True)
class SetOf:
    item: Type


@dataclass(frozen=True, slots=True)
class MapOf:
    key: Type
    value: Type


@dataclass(frozen=True, slots=True)
class RecordOf:
    cls: str


@dataclass(frozen=True, slots=True)
class OptionOf:
    inner: Type


Type = Prim | Ref | Enum | SetOf | MapOf | RecordOf | OptionOf

#: results the datamodel describes in words instead of a type
_DESCRIPTIVE: dict[str, Type] = {"an event batch": RecordOf("event batch")}


def _split_arrow(inner: str) -> tuple[str, str]:
    depth = 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and inner.startswith(" -> ", i):
            return inner[:i], inner[i + 4 :]
    raise ValueError(f"not a map type: ({inner}) map")


@cache
def parse_type(text: str) -> Type:
    """Parse a datamodel type such as ``(string -> enum vm_operations) map`` or ``VM ref set``."""
    text = text.strip()
    if text.startswith("(") and text.endswith(") map"):
        key, value = _split_arrow(text[1 : -len(") map")])
        return MapOf(parse_type(key), parse_type(value))
    if text in _DESCRIPTIVE:
        return _DESCRIPTIVE[text]
    if text.endswith(" set"):
        return SetOf(parse_type(text[: -len(" set")]))
    if text.endswith(" option"):
        return OptionOf(parse_type(text[: -len(" option")]))
    if text.endswith(" record"):
        return RecordOf(text[: -len(" record")])
    if text.endswith(" ref"):
        return Ref(text[: -len(" ref")])
    if text.startswith("enum "):
        return Enum(text[len("enum ") :])
    if text in ("string", "int", "float", "bool", "datetime", "void"):
        return Prim(text)
    raise ValueError(f"unknown datamodel type {text!r}")


def type_name(t: Type) -> str:
    """The datamodel spelling of a parsed type."""
    match t:
        case Prim(name):
            return name
        case Ref(cls):
            return f"{cls} ref"
        case Enum(name):
            return f"enum {name}"
        case SetOf(item):
            return f"{type_name(item)} set"
        case MapOf(key, value):
            return f"({type_name(key)} -> {type_name(value)}) map"
        case RecordOf(cls):
            return f"{cls} record"
        case OptionOf(inner):
            return f"{type_name(inner)} option"


def empty_value(t: Type) -> Value:
    """The value XAPI gives a field of this type when nothing set it."""
    match t:
        case Prim("string") | Prim("void"):
            return ""
        case Prim("int"):
            return 0
        case Prim("float"):
            return 0.0
        case Prim("bool"):
            return False
        case Prim("datetime"):
            return EPOCH
        case Ref():
            return NULL_REF
        case Enum(name):
            return enum_values(name)[0]
        case SetOf():
            return []
        case MapOf() | RecordOf():
            return {}
        case OptionOf():
            return []
    raise AssertionError(t)


_SEXP_ATOM = re.compile(r'"((?:[^"\\]|\\.)*)"|([^\s{},>"-][^\s{},]*)|(->)|([{},])')


def parse_default(t: Type, text: str) -> Value:
    """Parse a datamodel default (``"{}"``, ``'{"a" -> "b"}'``, ``'"UTC"'``, ``1.``, ``Null``)."""
    match t:
        case Prim("string"):
            return text[1:-1] if text.startswith('"') and text.endswith('"') else text
        case Prim("int"):
            return int(text)
        case Prim("float"):
            return float(text)
        case Prim("bool"):
            return text == "true"
        case Prim("datetime"):
            return DateTime(text)
        case Ref():
            return NULL_REF if text in ("Null", "") else text
        case Enum():
            return text
        case SetOf(item):
            atoms = _atoms(text)
            return [parse_default(item, a) for a in atoms if a not in "{},"]
        case MapOf(key, value):
            atoms = [a for a in _atoms(text) if a not in "{},"]
            out: dict[str, Value] = {}
            for i in range(0, len(atoms) - 2, 3):
                k, arrow, v = atoms[i : i + 3]
                assert arrow == "->", text
                out[str(parse_default(key, k))] = parse_default(value, v)
            return out
    return empty_value(t)


def _atoms(text: str) -> list[str]:
    out: list[str] = []
    for m in _SEXP_ATOM.finditer(text):
        quoted, bare, arrow, punct = m.groups()
        if quoted is not None:
            out.append(f'"{quoted}"')
        else:
            out.append(bare or arrow or punct)
    return out


@dataclass(frozen=True, slots=True)
class FieldDef:
    name: str
    type: Type
    qualifier: str  # RO/runtime | RO/constructor | RW
    default: Value
    has_default: bool
    lifecycle: str  # Published_s | Prototyped_s | Deprecated_s | Removed_s

    @property
    def writable(self) -> bool:
        return self.qualifier == "RW"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: Type
    required: bool


@dataclass(frozen=True, slots=True)
class MessageDef:
    cls: str
    name: str
    params: tuple[Param, ...]  # session_id first where the message takes one
    result: Type
    implicit: bool
    errors: tuple[str, ...]
    lifecycle: str

    @property
    def wire_name(self) -> str:
        return f"{self.cls}.{self.name}"

    @property
    def takes_session(self) -> bool:
        return bool(self.params) and self.params[0].name == "session_id"


@dataclass(frozen=True, slots=True)
class ClassDef:
    name: str
    fields: dict[str, FieldDef]
    messages: dict[str, MessageDef]
    lifecycle: str
    description: str = field(compare=False)

    @property
    def lower(self) -> str:
        return self.name.lower()

    def new_record(self, **values: Value) -> dict[str, Value]:
        """A whole record: every field of the class at its default, then ``values``."""
        immutable, mutable = _defaults(self)
        record = dict(immutable)
        for name, default in mutable:
            if name not in values:
                record[name] = _copy(default)
        if not values.keys() <= record.keys():
            unknown = sorted(set(values) - record.keys())
            raise KeyError(f"{self.name} has no field(s) {unknown}")
        record.update(values)
        return record


_DEFAULTS: dict[str, tuple[dict[str, Value], tuple[tuple[str, Value], ...]]] = {}


def _defaults(cdef: ClassDef) -> tuple[dict[str, Value], tuple[tuple[str, Value], ...]]:
    """A class's defaults split once: shared immutable ones, and lists/dicts each record copies."""
    cached = _DEFAULTS.get(cdef.name)
    if cached is None:
        immutable: dict[str, Value] = {}
        mutable: list[tuple[str, Value]] = []
        for name, f in cdef.fields.items():
            if isinstance(f.default, list | dict):
                immutable[name] = []  # placeholder keeps the datamodel's field order
                mutable.append((name, f.default))
            else:
                immutable[name] = f.default
        cached = _DEFAULTS[cdef.name] = (immutable, tuple(mutable))
    return cached


def _copy(v: Value) -> Value:
    if isinstance(v, list):
        return list(v)
    if isinstance(v, dict):
        return dict(v)
    return v


@dataclass(frozen=True, eq=False)
class Datamodel:
    classes: dict[str, ClassDef]
    enums: dict[str, tuple[str, ...]]
    #: lowercase name -> datamodel spelling ("vm" -> "VM")
    by_lower: dict[str, str]

    def cls(self, name: str) -> ClassDef:
        return self.classes[name]

    def lookup(self, name: str) -> ClassDef | None:
        spelled = self.by_lower.get(name.lower())
        return self.classes[spelled] if spelled else None


def _load_json(name: str) -> Any:
    return orjson.loads(resources.files("xorca.xapi").joinpath("data", name).read_bytes())


@cache
def datamodel() -> Datamodel:
    raw: list[dict[str, Any]] = _load_json("xenapi.json")
    enums: dict[str, tuple[str, ...]] = {}
    for c in raw:
        for e in c.get("enums", []):
            enums[e["name"]] = tuple(v["name"] for v in e["values"])
    _ENUMS.update(enums)
    classes: dict[str, ClassDef] = {}
    for c in raw:
        fields: dict[str, FieldDef] = {}
        for f in c["fields"]:
            t = parse_type(f["type"])
            has_default = "default" in f
            default = parse_default(t, f["default"]) if has_default else empty_value(t)
            fields[f["name"]] = FieldDef(
                f["name"], t, f["qualifier"], default, has_default, f["lifecycle"]["state"]
            )
        messages: dict[str, MessageDef] = {}
        for m in c["messages"]:
            params = tuple(
                Param(p["name"], parse_type(p["type"]), bool(p.get("required", True)))
                for p in m["params"]
            )
            result = parse_type(m["result"][0]) if m["result"] else Prim("void")
            messages[m["name"]] = MessageDef(
                c["name"],
                m["name"],
                params,
                result,
                bool(m.get("implicit")),
                tuple(e["name"] for e in m.get("errors", [])),
                m["lifecycle"]["state"],
            )
        classes[c["name"]] = ClassDef(
            c["name"], fields, messages, c["lifecycle"]["state"], c.get("description", "")
        )
    return Datamodel(classes, enums, {name.lower(): name for name in classes})


_ENUMS: dict[str, tuple[str, ...]] = {}


def enum_values(name: str) -> tuple[str, ...]:
    if not _ENUMS:
        datamodel()
    return _ENUMS[name]


@dataclass(frozen=True)
class ErrorDef:
    code: str
    params: tuple[str, ...]
    doc: str


@cache
def errors() -> dict[str, ErrorDef]:
    """Every XAPI error code with its declared parameter names."""
    raw = _load_json("xapi-errors.json")
    return {e["code"]: ErrorDef(e["code"], tuple(e["params"] or ()), e["doc"]) for e in raw}


@cache
def vm_operation_rules() -> dict[str, Any]:
    """``vm_operation_power_states.json``: power states, template and snapshot rules."""
    rules: dict[str, Any] = _load_json("vm_operation_power_states.json")
    return rules
