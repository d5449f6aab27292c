"""The filter language's syntax tree and its evaluation over client objects.

Every node is a frozen, hashable dataclass and a `Query`: ``matches(obj)`` evaluates it,
``fields()`` names the top-level keys it reads, ``str()`` writes it back as filter text that
parses to an equal tree. Whatever a node needs at evaluation (compiled regexes, parsed numbers) is
computed once when it is built, so evaluating never parses or compiles anything.

A ``field:value`` term reads the values at a dotted path (`resolve`); its `Predicate`
(`Exists`, `Equals`, `Compare`, `InRange`) then says whether any of them matches. Lists and
objects are searched: a predicate holds for a list when it holds for any element, for an object
when it holds for any of its values.
"""

from __future__ import annotations

import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xorca.api.core.query_values import (
    Number,
    glob_regex,
    literal_text,
    parse_bool,
    parse_number,
    quote_pattern,
    render_number,
)

__all__ = [
    "BARE_FIELDS",
    "MATCH_ALL",
    "AllOf",
    "AnyOf",
    "Bare",
    "Compare",
    "Equals",
    "Exists",
    "FieldTerm",
    "InRange",
    "MatchAll",
    "Not",
    "Predicate",
    "Query",
    "all_of",
    "any_of",
    "resolve",
]

#: the fields a bare word (a term without ``field:``) searches
BARE_FIELDS = ("name_label", "name_description", "id")

_DATE_LIKE = re.compile(r"\d{4}-\d{2}")


def resolve(obj: Mapping[str, Any], path: tuple[str, ...]) -> list[Any]:
    """The values at a dotted path; a list of objects on the way is entered element by element
    (``addresses.ip`` gives every address's ip)."""
    values: list[Any] = [obj]
    for key in path:
        found: list[Any] = []
        for value in values:
            if isinstance(value, list):
                found.extend(item[key] for item in value if _is_mapping(item) and key in item)
            elif _is_mapping(value) and key in value:
                found.append(value[key])
        if not found:
            return found
        values = found
    return values


def _is_mapping(value: Any) -> bool:
    # client objects are dicts, checked first: several times faster than the ABC's check
    return isinstance(value, (dict, Mapping))


def _any(test: Predicate, values: Iterable[Any]) -> bool:
    return any(test.accepts(value) for value in values)


# ---------------------------------------------------------------------------------------------
# Predicates: what a `field:value` term asks of each value at its path


class Predicate(ABC):
    """What a `field:value` term asks of each value found at its path."""

    __slots__ = ()

    @abstractmethod
    def accepts(self, value: Any) -> bool: ...

    @abstractmethod
    def render(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Exists(Predicate):
    """``field:*``: the value is there (and is not an empty list or object)."""

    def accepts(self, value: Any) -> bool:
        if isinstance(value, list) or _is_mapping(value):
            return len(value) > 0
        return True

    def render(self) -> str:
        return "*"


@dataclass(frozen=True, slots=True)
class Equals(Predicate):
    """``field:pattern``: strings by case-insensitive wildcard match, numbers and booleans by
    value when the pattern reads as one (``4G``, ``true``)."""

    pattern: str
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)
    number: Number | None = field(init=False, compare=False, repr=False)
    boolean: bool | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        literal = literal_text(self.pattern)
        object.__setattr__(self, "regex", glob_regex(self.pattern))
        object.__setattr__(self, "number", None if literal is None else parse_number(literal))
        object.__setattr__(self, "boolean", None if literal is None else parse_bool(literal))

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str):
            return self.regex.fullmatch(value) is not None
        if isinstance(value, bool):
            return self.boolean is value
        if isinstance(value, (int, float)):
            return self.number is not None and value == self.number
        if isinstance(value, list):
            return _any(self, value)
        if isinstance(value, Mapping):
            return _any(self, value.values())
        return False

    def render(self) -> str:
        return quote_pattern(self.pattern, bare=False)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _accepts_bound(value: Any, dates: bool, check: Callable[[Any], bool]) -> bool:
    """Applies ``check`` to a datetime string without its ``Z`` (date bounds) or a number
    (numeric bounds), searching lists and objects; any other value does not match."""
    if dates:
        if isinstance(value, str):
            return _DATE_LIKE.match(value) is not None and check(value.removesuffix("Z"))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return check(value)
    if isinstance(value, list):
        return any(_accepts_bound(item, dates, check) for item in value)
    if isinstance(value, Mapping):
        return any(_accepts_bound(item, dates, check) for item in value.values())
    return False


def _bound_check(op: str, bound: Number | str) -> Callable[[Any], bool]:
    """``value op bound``; a datetime is cut to the date's length first, so that it compares at
    the precision written (``<=2026-11-01`` holds all of that day, ``>2026-11`` starts in
    December)."""
    compare = _OPERATORS[op]
    if isinstance(bound, str):
        width = len(bound)
        return lambda value: compare(value[:width], bound)
    return lambda value: compare(value, bound)


def _render_bound(bound: Number | str | None) -> str:
    if bound is None:
        return ""
    return bound if isinstance(bound, str) else render_number(bound)


@dataclass(frozen=True, slots=True)
class Compare(Predicate):
    """``field:>N``, ``>=``, ``<``, ``<=``: against a number, or an ISO date (UTC) for datetime
    strings."""

    op: str
    bound: Number | str
    _check: Callable[[Any], bool] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_check", _bound_check(self.op, self.bound))

    def accepts(self, value: Any) -> bool:
        return _accepts_bound(value, isinstance(self.bound, str), self._check)

    def render(self) -> str:
        return self.op + _render_bound(self.bound)


@dataclass(frozen=True, slots=True)
class InRange(Predicate):
    """``field:N..M``: between two numbers or two dates, both included; one end may be left out
    (None), not both. Each date end compares at its own precision."""

    lo: Number | str | None
    hi: Number | str | None
    _check: Callable[[Any], bool] = field(init=False, compare=False, repr=False)
    _dates: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None and isinstance(lo, str) != isinstance(hi, str):
            raise ValueError("a range is between two numbers or two dates")
        if lo is None:
            if hi is None:
                raise ValueError("a range needs at least one end")
            check = _bound_check("<=", hi)
        elif hi is None:
            check = _bound_check(">=", lo)
        else:
            above, below = _bound_check(">=", lo), _bound_check("<=", hi)
            check = lambda value: above(value) and below(value)  # noqa: E731
        object.__setattr__(self, "_check", check)
        object.__setattr__(self, "_dates", isinstance(lo if lo is not None else hi, str))

    def accepts(self, value: Any) -> bool:
        return _accepts_bound(value, self._dates, self._check)

    def render(self) -> str:
        return f"{_render_bound(self.lo)}..{_render_bound(self.hi)}"


# ---------------------------------------------------------------------------------------------
# Queries: the tree


class Query(ABC):
    """A parsed filter: the root of its tree, and every node of it."""

    __slots__ = ()

    @abstractmethod
    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` (a client object) passes the filter."""

    @abstractmethod
    def fields(self) -> frozenset[str]:
        """The top-level keys of an object that the filter reads."""


@dataclass(frozen=True, slots=True)
class MatchAll(Query):
    """The empty filter."""

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return True

    def fields(self) -> frozenset[str]:
        return frozenset()

    def __str__(self) -> str:
        return ""


@dataclass(frozen=True, slots=True)
class FieldTerm(Query):
    """``path:test``: some value at ``path`` passes ``test``."""

    path: tuple[str, ...]
    test: Predicate

    def matches(self, obj: Mapping[str, Any]) -> bool:
        path = self.path
        if len(path) == 1:
            key = path[0]
            return key in obj and self.test.accepts(obj[key])
        if len(path) == 2:  # the usual nesting (`memory.actual`), without building lists
            first, second = path
            value = obj.get(first)
            if isinstance(value, dict):
                return second in value and self.test.accepts(value[second])
        return _any(self.test, resolve(obj, path))

    def fields(self) -> frozenset[str]:
        return frozenset(self.path[:1])

    def __str__(self) -> str:
        return ".".join(self.path) + ":" + self.test.render()


@dataclass(frozen=True, slots=True)
class Bare(Query):
    """A bare word: contained in the name, the description or the id (case-insensitive,
    wildcards allowed)."""

    pattern: str
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # containment is the pattern with a `*` on each side
        object.__setattr__(self, "regex", glob_regex(f"*{self.pattern}*"))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        match = self.regex.fullmatch
        for key in BARE_FIELDS:
            value = obj.get(key)
            if isinstance(value, str) and match(value) is not None:
                return True
        return False

    def fields(self) -> frozenset[str]:
        return frozenset(BARE_FIELDS)

    def __str__(self) -> str:
        return quote_pattern(self.pattern, bare=True)


@dataclass(frozen=True, slots=True)
class Not(Query):
    item: Query

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return not self.item.matches(obj)

    def fields(self) -> frozenset[str]:
        return self.item.fields()

    def __str__(self) -> str:
        item = self.item
        return "-" + (f"({item})" if isinstance(item, AllOf | AnyOf) else str(item))


@dataclass(frozen=True, slots=True)
class AllOf(Query):
    """Terms side by side (or joined by ``and``): all of them."""

    items: tuple[Query, ...]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for item in self.items:  # noqa: SIM110 (a plain loop is the fastest here)
            if not item.matches(obj):
                return False
        return True

    def fields(self) -> frozenset[str]:
        return frozenset().union(*(item.fields() for item in self.items))

    def __str__(self) -> str:
        return " ".join(
            f"({item})" if isinstance(item, AnyOf) else str(item) for item in self.items
        )


@dataclass(frozen=True, slots=True)
class AnyOf(Query):
    """Terms joined by ``or`` (or ``|``): any of them."""

    items: tuple[Query, ...]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for item in self.items:  # noqa: SIM110
            if item.matches(obj):
                return True
        return False

    def fields(self) -> frozenset[str]:
        return frozenset().union(*(item.fields() for item in self.items))

    def __str__(self) -> str:
        return " or ".join(str(item) for item in self.items)


def all_of(items: Iterable[Query]) -> Query:
    """The conjunction, flattened (``a (b c)`` is ``a b c``); one item is itself."""
    flat: list[Query] = []
    for item in items:
        flat.extend(item.items if isinstance(item, AllOf) else (item,))
    return flat[0] if len(flat) == 1 else AllOf(tuple(flat))


def any_of(items: Iterable[Query]) -> Query:
    """The disjunction, flattened; one item is itself."""
    flat: list[Query] = []
    for item in items:
        flat.extend(item.items if isinstance(item, AnyOf) else (item,))
    return flat[0] if len(flat) == 1 else AnyOf(tuple(flat))


MATCH_ALL: Query = MatchAll()
