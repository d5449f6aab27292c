"""Filter text to a `Query` tree: a lexer, a recursive-descent parser, and the reading of each
``field:value`` term. The grammar is in docs/filter.md; every error is a `QueryError` at the
character where the problem is.

The lexer keeps, for each character of a word, whether it was written plain, inside quotes or
escaped with ``\\``: only plain characters can be operators (``:``, ``>``, ``..``, a lone
``*``), quoted ones are text (their ``*`` and ``?`` stay wildcards), escaped ones are text even
when they are wildcards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from xorca.api.core.codes import BAD_FILTER
from xorca.api.core.errors import ApiProblem
from xorca.api.core.query_eval import (
    MATCH_ALL,
    Bare,
    Compare,
    Equals,
    Exists,
    FieldTerm,
    InRange,
    Not,
    Predicate,
    Query,
    all_of,
    any_of,
)
from xorca.api.core.query_values import KEYWORDS, Number, parse_date, parse_number

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "QueryError", "parse_query"]

#: longest filter accepted, in characters
MAX_LENGTH = 2000
#: most parentheses and negations nested in one another
MAX_DEPTH = 32

_FIELD_SEGMENT = re.compile(r"[A-Za-z0-9_$-]+")
_OPERATORS = (">=", "<=", ">", "<")  # longest first
_WORD_END = frozenset("()|")


class QueryError(ApiProblem, ValueError):
    """A filter that cannot be read: ``message`` says why, for a user; ``position`` is the offset
    (from 0) of the character where the problem is. Answered as it is: 400
    ``XORCA_BAD_FILTER [position]``, the detail naming the ``filter`` parameter."""

    def __init__(self, message: str, position: int) -> None:
        detail = f"filter: {message} (at character {position + 1})"
        super().__init__(400, detail, code=BAD_FILTER, params=[position])
        self.message = message
        self.position = position


class Kind(Enum):
    PLAIN = "plain"
    QUOTED = "quoted"
    ESCAPED = "escaped"


@dataclass(frozen=True, slots=True)
class Char:
    char: str
    kind: Kind
    position: int


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "(" ")" "or" "and" "not" "word"
    position: int
    chars: tuple[Char, ...] = ()


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    index, end = 0, len(text)
    while index < end:
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "()":
            tokens.append(Token(char, index))
            index += 1
        elif char == "|":
            tokens.append(Token("or", index))
            index += 1
        elif char in "-!":
            after = text[index + 1 : index + 2]
            if not after or after.isspace() or after in ")|":
                raise QueryError(f"`{char}` must be followed directly by a term to negate", index)
            tokens.append(Token("not", index))
            index += 1
        else:
            start = index
            chars, index = _read_word(text, index)
            word = "".join(c.char for c in chars)
            if all(c.kind is Kind.PLAIN for c in chars) and word.lower() in KEYWORDS:
                tokens.append(Token(word.lower(), start))
            else:
                tokens.append(Token("word", start, tuple(chars)))
    return tokens


def _read_word(text: str, index: int) -> tuple[list[Char], int]:
    """The characters of the word at ``index`` (up to a space or ``(``, ``)``, ``|`` outside
    quotes), and the index after it."""
    chars: list[Char] = []
    end = len(text)
    while index < end:
        char = text[index]
        if char.isspace() or char in _WORD_END:
            break
        if char == "\\":
            if index + 1 == end:
                raise QueryError("`\\` at the end: nothing to escape", index)
            chars.append(Char(text[index + 1], Kind.ESCAPED, index + 1))
            index += 2
        elif char == '"':
            opening = index
            index += 1
            # an empty mark at the quote: `""` is an empty text, and a quoted word is never a
            # keyword nor a field name
            chars.append(Char("", Kind.QUOTED, opening))
            while True:
                if index == end:
                    raise QueryError('unterminated quote: `"` has no closing `"`', opening)
                char = text[index]
                if char == '"':
                    index += 1
                    break
                if char == "\\":
                    if index + 1 == end:
                        raise QueryError('unterminated quote: `"` has no closing `"`', opening)
                    chars.append(Char(text[index + 1], Kind.ESCAPED, index + 1))
                    index += 2
                else:
                    chars.append(Char(char, Kind.QUOTED, index))
                    index += 1
        else:
            chars.append(Char(char, Kind.PLAIN, index))
            index += 1
    return chars, index


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def any_of(self, depth: int) -> Query:
        """``all_of { "or" all_of }``"""
        items = [self.all_of(depth)]
        while (token := self.peek()) is not None and token.kind == "or":
            self.take()
            after = self.peek()
            if after is None or after.kind in ("or", "and", ")"):
                raise QueryError("`or` needs a term after it", token.position)
            items.append(self.all_of(depth))
        return any_of(items)

    def all_of(self, depth: int) -> Query:
        """``unary { ["and"] unary }``"""
        items: list[Query] = []
        while (token := self.peek()) is not None and token.kind not in ("or", ")"):
            if token.kind == "and":
                self.take()
                if not items:
                    raise QueryError("`and` needs a term before it", token.position)
                after = self.peek()
                if after is None or after.kind in ("or", "and", ")"):
                    raise QueryError("`and` needs a term after it", token.position)
            items.append(self.unary(depth))
        if not items:
            token = self.peek()
            assert token is not None  # the callers see to it
            if token.kind == ")":
                raise QueryError("unmatched `)`: no `(` opens it", token.position)
            raise QueryError(f"`{token.kind}` needs a term before it", token.position)
        return all_of(items)

    def unary(self, depth: int) -> Query:
        """``("not" | "-" | "!") unary | "(" any_of ")" | term``"""
        token = self.take()
        if token.kind in ("not", "("):
            if depth >= MAX_DEPTH:
                raise QueryError(f"nested too deeply (over {MAX_DEPTH} levels)", token.position)
            after = self.peek()
            if token.kind == "not":
                if after is None or after.kind in ("or", "and", ")"):
                    raise QueryError("`not` needs a term after it", token.position)
                return Not(self.unary(depth + 1))
            if after is None:
                raise QueryError("unclosed parenthesis: `(` has no matching `)`", token.position)
            if after.kind == ")":
                raise QueryError("empty parentheses", token.position)
            inner = self.any_of(depth + 1)
            if self.peek() is None:
                raise QueryError("unclosed parenthesis: `(` has no matching `)`", token.position)
            self.take()
            return inner
        return term(token.chars)


def parse_query(text: str) -> Query:
    """The `Query` of filter ``text``; empty (or blank) text matches everything.

    Raises `QueryError` for text that does not parse, or longer than `MAX_LENGTH`.
    """
    if len(text) > MAX_LENGTH:
        raise QueryError(f"the filter is too long (over {MAX_LENGTH} characters)", MAX_LENGTH)
    tokens = tokenize(text)
    if not tokens:
        return MATCH_ALL
    parser = _Parser(tokens)
    query = parser.any_of(0)
    extra = parser.peek()
    if extra is not None:  # only a `)` stops `any_of` before the end
        raise QueryError("unmatched `)`: no `(` opens it", extra.position)
    return query


# ---------------------------------------------------------------------------------------------
# Terms


def term(chars: tuple[Char, ...]) -> Query:
    """A word: ``field:value`` when it has a plain ``:``, else a bare word."""
    for index, char in enumerate(chars):
        if char.char == ":" and char.kind is Kind.PLAIN:
            path = _field_path(chars[:index], char.position)
            return FieldTerm(path, _predicate(chars[index + 1 :], char.position))
    return Bare(_pattern(chars))


def _field_path(chars: tuple[Char, ...], colon: int) -> tuple[str, ...]:
    if not chars:
        raise QueryError("empty field name before `:`", colon)
    for char in chars:
        if char.kind is not Kind.PLAIN:
            raise QueryError("a field name cannot be quoted or escaped", char.position)
    segments: list[str] = []
    start = chars[0].position
    for segment in "".join(c.char for c in chars).split("."):
        if not segment:
            raise QueryError("empty segment in field path (`a..b`, `.a` or `a.`)", start)
        bad = _FIELD_SEGMENT.sub("", segment)
        if bad:
            position = start + segment.index(bad[0])
            raise QueryError(
                f"`{bad[0]}` cannot be in a field name (letters, digits, `_`, `-`, `$`)", position
            )
        segments.append(segment)
        start += len(segment) + 1
    return tuple(segments)


def _pattern(chars: tuple[Char, ...]) -> str:
    """The canonical pattern of some characters (see `query_values`)."""
    out: list[str] = []
    for char in chars:
        if char.kind is Kind.ESCAPED and char.char in "*?\\":
            out.append("\\" + char.char)
        else:
            out.append(char.char)
    return "".join(out)


def _predicate(chars: tuple[Char, ...], colon: int) -> Predicate:
    """The value after ``field:``: an operator when written plain, else a pattern."""
    if not chars:
        raise QueryError("no value after `:` (`field:*` tests that a field exists)", colon)
    if any(char.kind is not Kind.PLAIN for char in chars):
        return Equals(_pattern(chars))
    text = "".join(char.char for char in chars)
    start = chars[0].position
    if text == "*":
        return Exists()
    for op in _OPERATORS:
        if text.startswith(op):
            bound = _bound(text[len(op) :], start + len(op))
            if bound is None:
                raise QueryError(f"`{op}` needs a number or a date after it", start)
            return Compare(op, bound)
    if ".." in text:
        return _range(text, start)
    return Equals(text)


def _bound(text: str, position: int) -> Number | str | None:
    """A comparison's number or date, None when ``text`` is empty."""
    if not text:
        return None
    number = parse_number(text)
    if number is not None:
        return number
    date = parse_date(text)
    if date is not None:
        return date
    raise QueryError(
        f"`{text}` is neither a number (`4G`, `80%`) nor a date (`2026-11-01`); "
        "quote the value to match it as text",
        position,
    )


def _range(text: str, position: int) -> InRange:
    low_text, _, high_text = text.partition("..")
    low = _bound(low_text, position)
    high = _bound(high_text, position + len(low_text) + 2)
    if low is None and high is None:
        raise QueryError("a range needs at least one end (`1G..4G`, `1G..`, `..4G`)", position)
    if low is not None and high is not None and isinstance(low, str) != isinstance(high, str):
        raise QueryError("a range is between two numbers or two dates, not one of each", position)
    return InRange(low, high)
