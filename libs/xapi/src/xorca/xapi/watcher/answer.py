"""Reading an ``event.from`` answer: every shape check between the wire and the mirror.

An answer is accepted whole or refused whole, with a `ProtocolError` naming the call and saying
what was wrong (not a struct, an event without a ref, an unknown class, a record with a field the
datamodel does not have…). Refusing whole is what keeps batches atomic: nothing of a bad answer
reaches the mirror, and the watcher recovers by loading again.

What is checked is what the mirror depends on — the envelope, each event's class, operation and
ref, each snapshot being a struct, and (when `Schema.strict_fields`) each snapshot's field names.
Field *values* are not type-checked: that would cost more than decoding the answer (LIMITS.md:
building Python objects is already the bulk of a load), and a consumer that reads a field checks
what it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from xorca.xapi.datamodel import EVENTLESS, STATIC_CLASSES, Datamodel, datamodel
from xorca.xapi.errors import ProtocolError
from xorca.xapi.watcher.mirror import Event, Op, Record

__all__ = ["EVENTLESS", "METHOD", "Answer", "Schema", "default_classes", "parse_answer"]

METHOD = "event.from"

_OPS: frozenset[str] = frozenset({"add", "mod", "del"})


def default_classes(dm: Datamodel | None = None) -> tuple[str, ...]:
    """Every datamodel class that emits events, ``message`` included (add/del only): the set
    XenCenter's ``event.from(["*"], …)`` covers, but the static ``role`` table."""
    dm = dm or datamodel()
    skip = EVENTLESS | STATIC_CLASSES
    return tuple(name for name in dm.classes if name.lower() not in skip)


@dataclass(frozen=True)
class Answer:
    events: list[Event]
    token: str
    #: ``valid_ref_counts`` by lowercase table name; None if the server sent none
    counts: dict[str, int] | None


@dataclass(frozen=True)
class Schema:
    """The watched classes and the datamodel's field names for each, for checking answers."""

    classes: tuple[str, ...]
    #: refuse records with fields the datamodel does not know (see the package docstring)
    strict_fields: bool = True
    dm: Datamodel = field(default_factory=datamodel, repr=False)
    by_lower: dict[str, str] = field(init=False, repr=False)
    fields: dict[str, frozenset[str]] = field(init=False, repr=False)

    @classmethod
    def for_classes(
        cls, names: Iterable[str] | None, *, strict_fields: bool = True, dm: Datamodel | None = None
    ) -> Schema:
        """``names`` in any case (``"vm"``, ``"VM"``); None means `default_classes`. An unknown
        name is a ValueError: it is the caller's mistake, not the pool's."""
        dm = dm or datamodel()
        resolved: list[str] = []
        for name in default_classes(dm) if names is None else names:
            cdef = dm.lookup(name)
            if cdef is None:
                raise ValueError(f"no XAPI class {name!r} in the datamodel")
            if cdef.name not in resolved:
                resolved.append(cdef.name)
        if not resolved:
            raise ValueError("a watcher needs at least one class to watch")
        return cls(tuple(resolved), strict_fields, dm)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_lower", {c.lower(): c for c in self.classes})
        object.__setattr__(
            self, "fields", {c: frozenset(self.dm.classes[c].fields) for c in self.classes}
        )

    def event(self, raw: object) -> Event:
        """One wire event as an `Event`; `ProtocolError` if it is not one we can use."""
        if type(raw) is not dict:
            raise _bad(f"an event is {type(raw).__name__}, not a struct")
        wire_cls = raw.get("class")
        cls = self.by_lower.get(wire_cls) if type(wire_cls) is str else None
        if cls is None:
            cls = self._class_of(wire_cls)
        op, ref = raw.get("operation"), raw.get("ref")
        if op not in _OPS:
            raise _bad(f"{cls} event with operation {op!r}")
        if type(ref) is not str or not ref:
            raise _bad(f"{cls} event with ref {ref!r:.80}")
        if op == "del":
            return Event("del", cls, ref, None)
        snapshot = raw.get("snapshot")
        if type(snapshot) is not dict:
            raise _bad(f"{cls} {op} event for {ref} has a {type(snapshot).__name__} snapshot")
        if self.strict_fields and not snapshot.keys() <= self.fields[cls]:
            unknown = sorted(str(k) for k in snapshot.keys() - self.fields[cls])
            raise _bad(f"{cls} record {ref} has unknown field(s) {unknown[:5]}")
        return Event(cast(Op, op), cls, ref, cast(Record, snapshot))

    def _class_of(self, wire_cls: object) -> str:
        """The slow path: a class spelled in another case, or an error saying why not."""
        if type(wire_cls) is not str:
            raise _bad(f"an event has class {wire_cls!r:.80}")
        cdef = self.dm.lookup(wire_cls)
        if cdef is None:
            raise _bad(f"unknown class {wire_cls!r:.80}")
        if cdef.name not in self.fields:
            raise _bad(f"an event of class {cdef.name}, which is not subscribed")
        return cdef.name


def parse_answer(value: object, schema: Schema) -> Answer:
    """Check a whole ``event.from`` result and turn it into an `Answer`."""
    if type(value) is not dict:
        raise _bad(f"expected a struct, got {type(value).__name__}")
    answer = cast(dict[str, Any], value)
    token, raw_events = answer.get("token"), answer.get("events")
    if type(token) is not str:
        raise _bad(f"the token is {type(token).__name__}, not a string")
    if type(raw_events) is not list:
        raise _bad(f"'events' is {type(raw_events).__name__}, not an array")
    event = schema.event
    events = [event(raw) for raw in raw_events]
    return Answer(events, token, _counts(answer.get("valid_ref_counts")))


def _counts(raw: object) -> dict[str, int] | None:
    if raw is None:
        return None
    if type(raw) is not dict:
        raise _bad(f"valid_ref_counts is {type(raw).__name__}, not a struct")
    counts: dict[str, int] = {}
    for name, count in cast(Mapping[str, object], raw).items():
        if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            counts[name] = count
        elif isinstance(count, str) and count.isdigit():  # an XML-RPC int arrives as text
            counts[name] = int(count)
        else:
            raise _bad(f"valid_ref_counts[{name!r}] is {count!r:.40}, not a count")
    return counts


def _bad(message: str) -> ProtocolError:
    return ProtocolError(METHOD, message)
