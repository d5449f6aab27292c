"""English words for error codes, kept as data: a title and detail sentences per code, with
placeholders for the code's parameters (the format is in ``data/README.md``).

`xapi_sentences` reads XAPI's, ``data/xapi-error-sentences.toml``, once; `parse_catalogue`
reads any file of the same format, such as the API's catalogue of xorca's own codes. Both are
checked as they are read, so that a broken file fails where it is loaded, never in the middle
of an error answer: every code is one the catalogue may name (for XAPI's, a code of
``xapi-errors.json``), every placeholder names one of the code's parameters and uses a known
format, and nothing else in a sentence looks like one.

How a placeholder is shown (``{actual:state}`` → ``Running``) is the caller's business; this
module says which parameter each one names, as its position in the code's parameters, so that
a sentence is tried only when the error carries that many.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from xorca.xapi.datamodel import errors

__all__ = [
    "MAX_TITLE",
    "SPECS",
    "ErrorSentences",
    "InvalidCatalogue",
    "Placeholder",
    "Template",
    "parse_catalogue",
    "xapi_sentences",
]

#: the formats a placeholder may ask for: a power state, a class for people, an operation, a size
SPECS = frozenset({"state", "class", "op", "bytes"})
#: longest title (titles are short: they name the kind of problem, the details say the rest)
MAX_TITLE = 100
#: the file of XAPI's codes, in ``xorca.xapi``'s ``data/``
XAPI_CATALOGUE = "xapi-error-sentences.toml"

_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([^{}:]*)(?::([^{}]*))?\}")
_KEYS = frozenset({"title", "details", "params"})


class InvalidCatalogue(ValueError):
    """A catalogue that breaks the format: ``source`` (the file), ``code`` (the entry, None for
    the file as a whole) and ``reason``."""

    def __init__(self, source: str, code: str | None, reason: str) -> None:
        self.source = source
        self.code = code
        self.reason = reason
        where = f"{source} [{code}]" if code else source
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True, slots=True)
class Placeholder:
    """``{name}`` or ``{name:spec}``: the parameter at ``index``, shown as ``spec`` says ("" for
    as given)."""

    index: int
    spec: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    """One sentence, as text and placeholders in turn."""

    text: str
    parts: tuple[str | Placeholder, ...]

    @property
    def needs(self) -> int:
        """How many parameters an error must carry for this sentence to be used."""
        return max((p.index + 1 for p in self.parts if isinstance(p, Placeholder)), default=0)


@dataclass(frozen=True, slots=True)
class ErrorSentences:
    """A code's words: ``title`` names the kind of problem, ``details`` are tried in order and
    the first whose parameters the error carries says what happened."""

    code: str
    params: tuple[str, ...]
    title: str
    details: tuple[Template, ...]


def parse_catalogue(
    text: str, *, source: str, declared: Mapping[str, Sequence[str]] | None = None
) -> dict[str, ErrorSentences]:
    """The entries of a catalogue, by code. With ``declared`` (code → its parameter names, as
    XAPI's are in ``xapi-errors.json``) every code must be one of them and takes its parameters
    from there; without, every entry declares its own (``params``). Raises `InvalidCatalogue`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidCatalogue(source, None, f"not TOML: {e}") from e
    return {code: _entry(source, code, value, declared) for code, value in raw.items()}


@cache
def xapi_sentences() -> dict[str, ErrorSentences]:
    """XAPI's codes' words, from ``data/xapi-error-sentences.toml`` (read and checked once)."""
    text = resources.files("xorca.xapi").joinpath("data", XAPI_CATALOGUE).read_text("utf-8")
    declared = {code: error.params for code, error in errors().items()}
    return parse_catalogue(text, source=XAPI_CATALOGUE, declared=declared)


def _entry(
    source: str, code: str, value: Any, declared: Mapping[str, Sequence[str]] | None
) -> ErrorSentences:
    def invalid(reason: str) -> InvalidCatalogue:
        return InvalidCatalogue(source, code, reason)

    if not _CODE.match(code):
        raise invalid("not an error code (capitals, digits and `_`)")
    if not isinstance(value, dict):
        raise invalid("an entry is a table: title, details")
    unknown = set(value) - _KEYS
    if unknown:
        raise invalid(f"unknown keys {sorted(unknown)} (an entry has title, details, params)")
    if declared is not None:
        if code not in declared:
            raise invalid("no such code in xapi-errors.json")
        if "params" in value:
            raise invalid("params come from xapi-errors.json: do not repeat them here")
        params = tuple(declared[code])
    else:
        listed = value.get("params")
        if not isinstance(listed, list) or not all(isinstance(p, str) and p for p in listed):
            raise invalid("params: the code's parameter names, in order, are required here")
        params = tuple(listed)
    title = value.get("title")
    if not isinstance(title, str) or not title.strip():
        raise invalid("title: a short phrase is required")
    if len(title) > MAX_TITLE or title.endswith("."):
        raise invalid(f"title: at most {MAX_TITLE} characters, without a full stop")
    details = value.get("details")
    if not isinstance(details, list) or not details:
        raise invalid("details: a list of one or more sentences is required")
    templates = []
    for detail in details:
        if not isinstance(detail, str) or not detail.strip():
            raise invalid("details: every sentence is non-empty text")
        try:
            templates.append(_template(detail, params))
        except ValueError as e:
            raise invalid(f"{detail!r}: {e}") from None
    return ErrorSentences(code, params, title, tuple(templates))


def _template(text: str, params: tuple[str, ...]) -> Template:
    parts: list[str | Placeholder] = []
    end = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[end : match.start()])
        name, spec = match.group(1), match.group(2) or ""
        if name not in params:
            raise ValueError(f"{{{name}}} is not a parameter of the code ({', '.join(params)})")
        if spec and spec not in SPECS:
            raise ValueError(f"{{{name}:{spec}}}: no format {spec!r} ({', '.join(sorted(SPECS))})")
        parts.append(Placeholder(params.index(name), spec))
        end = match.end()
    parts.append(text[end:])
    literal = "".join(p for p in parts if isinstance(p, str))
    if "{" in literal or "}" in literal:
        raise ValueError("a brace outside a placeholder `{name}` or `{name:format}`")
    return Template(text, tuple(p for p in parts if p != ""))
