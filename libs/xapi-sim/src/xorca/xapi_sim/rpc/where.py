"""XAPI's filter expressions, the ``expr`` of ``get_all_where`` and ``get_all_records_where``:
a pure lexer, parser and evaluator, and the database's string form of values they compare.

The language is xen-api's ``ocaml/database`` one (lexer ``db_filter_lex.mll``, grammar
``db_filter_parse.mly``, tree ``db_filter_types.ml``, evaluator ``db_filter.ml``)::

    expr  := value "=" value | expr "and" expr | expr "or" expr | "not" expr
           | "true" | "false" | "(" expr ")"
    value := "<text>"  (a literal)  |  field "<column>"

There is no ``<>``, no escape inside quotes, and only space, tab and newline separate tokens. The
keywords are matched as bare prefixes (``truefalse`` is two tokens). ``and`` and ``or`` share one
precedence and group to the left (``a or b and c`` is ``(a or b) and c``); ``not`` is declared
*below* them, so it takes the whole chain that follows it: ``not a and b`` is ``not (a and b)``.

A comparison is between strings: a field compares as the database writes it (`db_string`): bools
``true``/``false``, ints in decimal, floats ``%0.18g``, datetimes ``20250319T04:16:24Z``, refs
and enums as they are, sets ``('a' 'b')`` and maps ``(('k' 'v'))`` (``sExpr.ml``). Columns are the
database's: a nested field is written ``name__label``, not ``name_label`` (`column_name`), and
``_ref`` is the row's own ref.

Errors, as ``exnHelper.ml`` sends them: a malformed expression is ``INVALID_VALUE [expr, exn]``
with the OCaml exception's printed name (`LEX_ERROR`, `PARSE_ERROR`); naming a column the table
lacks raises `MissingField` when a row is evaluated (``Row.find``: so not on an empty table, nor
where ``and``/``or`` short-circuits).

Parsing and evaluating use explicit stacks, never recursion, so no nesting depth exhausts
Python's stack (xapi's LR parser has no such limit either).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from xorca.xapi.datamodel import Datamodel, Enum, MapOf, OptionOf, Prim, Ref, SetOf, Type
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value

# ---- the tree (db_filter_types.ml) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    column: str


@dataclass(frozen=True, slots=True)
class Literal:
    text: str


Operand = Field | Literal


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class Eq:
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Not:
    expr: Expr


@dataclass(frozen=True, slots=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Or:
    left: Expr
    right: Expr


Expr = Const | Eq | Not | And | Or

#: how OCaml prints the exceptions the parser raises (``Printexc.to_string``): ocamllex's
#: ``Lexing.engine`` fails on a character no rule matches; menhir raises ``Error``, defined in
#: its ``MenhirBasics`` module, compiled inside the dune-wrapped library ``xapi_database``
LEX_ERROR = 'Failure("lexing: empty token")'
PARSE_ERROR = "Xapi_database__Db_filter_parse.MenhirBasics.Error"


class MissingField(Exception):
    """A ``field "x"`` that names no column of the row (``Db_exn.DBCache_NotFound``)."""

    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column

    def xapi_error(self) -> XapiError:
        """What a database table answers: ``exnHelper.ml`` maps ``DBCache_NotFound (reason,
        p1, p2)`` with a reason other than "missing row" to ``INTERNAL_ERROR [reason; p1; p2]``."""
        return XapiError("INTERNAL_ERROR", ["missing field", self.column, ""])


# ---- lexer (db_filter_lex.mll) ---------------------------------------------------------------

_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("true", "TRUE"),
    ("false", "FALSE"),
    ("field", "FIELD"),
    ("and", "AND"),
    ("or", "OR"),
    ("not", "NOT"),
)
_PUNCTUATION = {"=": "EQ", "(": "LPAREN", ")": "RPAREN"}
_BLANK = frozenset(" \t\n")  # not \r: the lexer has no rule for it


class _Malformed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def tokens(text: str) -> Iterator[tuple[str, str]]:
    """``(kind, ident text)`` pairs, ending with ``("EOF", "")``; lazily, like ocamllex, so a
    parse error before a bad character is the one reported."""
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _BLANK:
            i += 1
        if i == n:
            yield "EOF", ""
            return
        ch = text[i]
        if ch in _PUNCTUATION:
            i += 1
            yield _PUNCTUATION[ch], ""
            continue
        if ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise _Malformed(LEX_ERROR)
            yield "IDENT", text[i + 1 : end]
            i = end + 1
            continue
        for word, kind in _KEYWORDS:
            if text.startswith(word, i):
                i += len(word)
                yield kind, ""
                break
        else:
            raise _Malformed(LEX_ERROR)


# ---- parser (db_filter_parse.mly) ------------------------------------------------------------


@lru_cache(maxsize=512)
def parse(text: str) -> Expr:
    """The tree of ``text``, or ``INVALID_VALUE [text, exn]`` (``Db_filter.expr_of_string`` raises
    ``Expression_error (text, exn)``, which ``exnHelper.ml`` sends so)."""
    try:
        return _parse(tokens(text))
    except _Malformed as e:
        raise XapiError("INVALID_VALUE", [text, e.reason]) from None


_OPEN = "("  # a parenthesis on the operator stack


def _parse(stream: Iterator[tuple[str, str]]) -> Expr:
    """Operator precedence over explicit stacks, reading one token at a time, so it fails on the
    same token as the LR parser does: prefix ``not`` and ``(`` wait on the operator stack; a
    binary operator first folds the binary operators before it (same level, left-associative)
    but never a ``not`` (which is lower: shift, as menhir resolves the conflict)."""
    operands: list[Expr] = []
    operators: list[str] = []  # "NOT", "AND", "OR" or _OPEN

    def fold(stop_at_not: bool) -> None:
        while operators and operators[-1] != _OPEN:
            if stop_at_not and operators[-1] == "NOT":
                return
            op = operators.pop()
            right = operands.pop()
            if op == "NOT":
                operands.append(Not(right))
            else:
                left = operands.pop()
                operands.append(And(left, right) if op == "AND" else Or(left, right))

    expect_operand = True
    for kind, text in stream:
        if expect_operand:
            if kind in ("NOT", "LPAREN"):
                operators.append("NOT" if kind == "NOT" else _OPEN)
            elif kind in ("TRUE", "FALSE"):
                operands.append(Const(kind == "TRUE"))
                expect_operand = False
            elif kind in ("IDENT", "FIELD"):
                left = _operand(kind, text, stream)
                if next(stream)[0] != "EQ":
                    raise _Malformed(PARSE_ERROR)
                operands.append(Eq(left, _operand(*next(stream), stream)))
                expect_operand = False
            else:
                raise _Malformed(PARSE_ERROR)
        elif kind in ("AND", "OR"):
            fold(stop_at_not=True)
            operators.append(kind)
            expect_operand = True
        elif kind == "RPAREN":
            fold(stop_at_not=False)
            if not operators:
                raise _Malformed(PARSE_ERROR)
            operators.pop()
        elif kind == "EOF":
            fold(stop_at_not=False)
            if operators:  # an unclosed parenthesis
                raise _Malformed(PARSE_ERROR)
            return operands[0]
        else:
            raise _Malformed(PARSE_ERROR)
    raise AssertionError("the token stream ends with EOF")


def _operand(kind: str, text: str, stream: Iterator[tuple[str, str]]) -> Operand:
    if kind == "IDENT":
        return Literal(text)
    if kind == "FIELD":
        kind, text = next(stream)
        if kind == "IDENT":
            return Field(text)
    raise _Malformed(PARSE_ERROR)


# ---- evaluation (db_filter.ml eval_expr) -----------------------------------------------------

#: a row's column, as the database's string; raises `MissingField`
Lookup = Callable[[str], str]

_NOT, _AND, _OR = 0, 1, 2


def evaluate(expr: Expr, lookup: Lookup) -> bool:
    """Whether the row that ``lookup`` reads matches, short-circuiting ``and``/``or`` as OCaml's
    ``&&``/``||`` do. ``Eq`` reads its right operand first: OCaml leaves the order of a call's
    arguments unspecified and ocamlopt evaluates them right to left, which decides which of two
    missing columns is named."""
    pending: list[tuple[int, Expr | None]] = []
    node: Expr = expr
    while True:
        while True:  # down the left spine to a leaf
            if type(node) is Eq:
                right = _value(node.right, lookup)
                result = _value(node.left, lookup) == right
                break
            if type(node) is And:
                pending.append((_AND, node.right))
                node = node.left
            elif type(node) is Or:
                pending.append((_OR, node.right))
                node = node.left
            elif type(node) is Not:
                pending.append((_NOT, None))
                node = node.expr
            else:
                assert type(node) is Const
                result = node.value
                break
        while pending:  # back up until a right operand still needs evaluating
            op, other = pending.pop()
            if op == _NOT:
                result = not result
            elif (op == _AND) == result:
                assert other is not None
                node = other  # its result is the result of the whole and/or
                break
        else:
            return result


def _value(operand: Operand, lookup: Lookup) -> str:
    if isinstance(operand, Literal):
        return operand.text
    return lookup(operand.column)


# ---- the database's string form (gen_db_actions.ml DM_to_String, schema.ml Value.marshal) ----

#: namespaces whose fields the database stores as ``<namespace>__<name>`` (the datamodel's
#: ``namespace ~name`` in ocaml/idl: datamodel.ml for task :653, pool_update :1154,
#: pool_patch :1377, host_patch :1492, host_metrics :1561, network :1980, PIF_metrics :2920,
#: VIF :3971, VIF_metrics :4125, SR :4900, SM :5094, VDI :6333, VBD :6920, VBD_metrics :6959,
#: role :7340, VM_metrics :7496-7497, VMPP :8115, VMSS :8327, VM_appliance :8554, blob :8940,
#: GPU_group :9807, PVS_site :10119, Feature :10287, USB_group :10491; datamodel_host.ml
#: :2953-2960; datamodel_vm.ml :2784-2902; datamodel_caller.ml :96, datamodel_observer.ml
#: :117, datamodel_rate_limit.ml :74, datamodel_repository.ml :209, datamodel_vm_group.ml :38).
#: Every field of these classes that starts with ``<namespace>_`` belongs to the namespace.
NAMESPACES: dict[str, tuple[str, ...]] = {
    "VM": ("name", "memory", "VCPUs", "actions", "PV", "HVM"),
    "host": ("name", "memory", "API_version"),
    "VM_metrics": ("memory", "VCPUs"),
    "host_metrics": ("memory",),
    "VIF": ("qos",),
    "VBD": ("qos",),
    "PIF_metrics": ("io",),
    "VIF_metrics": ("io",),
    "VBD_metrics": ("io",),
    **dict.fromkeys(
        (
            "task",
            "pool_update",
            "pool_patch",
            "host_patch",
            "network",
            "SR",
            "SM",
            "VDI",
            "role",
            "VMPP",
            "VMSS",
            "VM_appliance",
            "blob",
            "GPU_group",
            "PVS_site",
            "Feature",
            "USB_group",
            "Caller",
            "Observer",
            "Rate_limit",
            "Repository",
            "VM_group",
        ),
        ("name",),
    ),
}
#: the column holding the row's ref (db_names.ml)
REF_COLUMN = "_ref"


def column_name(cls: str, field: str) -> str:
    """The database column of an API field: ``name_label`` is stored as ``name__label``."""
    for namespace in NAMESPACES.get(cls, ()):
        if field.startswith(namespace + "_"):
            return f"{namespace}__{field[len(namespace) + 1 :]}"
    return field


ToString = Callable[[Value], str]


@cache
def columns(dm: Datamodel, cls: str) -> dict[str, tuple[str, ToString]]:
    """Column -> (API field, how the database writes its value), for one table."""
    return {
        column_name(cls, name): (name, to_db_string(fdef.type))
        for name, fdef in dm.classes[cls].fields.items()
    }


def to_db_string(t: Type) -> ToString:
    """The function that writes values of type ``t`` as the database stores them."""
    match t:
        case Prim("string") | Ref() | Enum() | Prim("datetime"):
            return _text
        case Prim("bool"):
            return _bool
        case Prim("int"):
            return _int
        case Prim("float"):
            return _float
        case SetOf(item) | OptionOf(item):  # an option is stored as a set of 0 or 1
            item_string = to_db_string(item)
            return lambda v: _sexp([item_string(x) for x in v] if isinstance(v, list) else [])
        case MapOf(key, value):
            key_string, value_string = to_db_string(key), to_db_string(value)
            return lambda v: _sexp_map(v, key_string, value_string)
    return _text


def _text(v: Value) -> str:
    return v if isinstance(v, str) else str(v)


def _bool(v: Value) -> str:
    return "true" if v is True or v == "true" else "false"


def _int(v: Value) -> str:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else _text(v)


def _float(v: Value) -> str:
    return "%0.18g" % v if isinstance(v, int | float) else _text(v)  # noqa: UP031 - C's %g


def _sexp(items: list[str]) -> str:
    return "(" + " ".join(_atom(x) for x in items) + ")"


def _sexp_map(v: Value, key: ToString, value: ToString) -> str:
    if not isinstance(v, dict):
        return "()"
    pairs = (f"({_atom(key(k))} {_atom(value(x))})" for k, x in v.items())
    return "(" + " ".join(pairs) + ")"


def _atom(text: str) -> str:
    """A quoted S-expression atom (sExpr.ml ``string_of``), cut at the first character XML cannot
    hold (string_marshall_helper.ml ``ensure_utf8_xml``)."""
    for i, ch in enumerate(text):
        if (ch < " " and ch not in "\t\n\r") or "\ud800" <= ch <= "\udfff":
            text = text[:i]
            break
    if "\\" in text or "'" in text:
        text = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def row_lookup(
    table: dict[str, tuple[str, ToString]], ref: str, record: dict[str, Value]
) -> Lookup:
    """How `evaluate` reads one database row."""

    def lookup(column: str) -> str:
        found = table.get(column)
        if found is not None:
            name, to_string = found
            return to_string(record[name])
        if column == REF_COLUMN:
            return ref
        raise MissingField(column)

    return lookup
