"""XAPI's filter expressions (``rpc/where.py``): the grammar of xen-api's ``db_filter_lex.mll`` and
``db_filter_parse.mly``, the evaluation of ``db_filter.ml``, the database's string form of values
and columns, and the errors a malformed expression gives."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.statedb import _field, parse_sexp, unprotect
from xorca.xapi.datamodel import Enum, MapOf, OptionOf, Prim, Ref, SetOf, Type, datamodel
from xorca.xapi.errors import XapiError
from xorca.xapi.values import DateTime, Value
from xorca.xapi_sim.rpc import where
from xorca.xapi_sim.rpc.where import (
    LEX_ERROR,
    PARSE_ERROR,
    And,
    Const,
    Eq,
    Expr,
    Field,
    Literal,
    MissingField,
    Not,
    Or,
)

T, F = Const(True), Const(False)
DUMPS = Path(__file__).resolve().parents[2] / "data" / "xenadmin"


def eq(column: str, text: str) -> Eq:
    return Eq(Field(column), Literal(text))


# ---- parsing ---------------------------------------------------------------------------------

PARSED: list[tuple[str, Expr]] = [
    ("true", T),
    ("false", F),
    ("(true)", T),
    ("((false))", F),
    ("not true", Not(T)),
    ("not not false", Not(Not(F))),
    ("true and false", And(T, F)),
    ("true or false", Or(T, F)),
    # one precedence level for and/or, grouping to the left
    ("true or false and false", And(Or(T, F), F)),
    ("true and false or true", Or(And(T, F), T)),
    ("true or (false and false)", Or(T, And(F, F))),
    # not is declared below and/or: it takes the whole chain after it
    ("not true and false", Not(And(T, F))),
    ("not true or false and true", Not(And(Or(T, F), T))),
    ("true and not false or true", And(T, Not(Or(F, T)))),
    ("not (true) and false", Not(And(T, F))),
    ("(not true) and false", And(Not(T), F)),
    ("(true and not false) or true", Or(And(T, Not(F)), T)),
    ('field "power_state" = "Running"', eq("power_state", "Running")),
    (
        'field "power_state" = "Running" and not (field "is_a_template" = "true")',
        And(eq("power_state", "Running"), Not(eq("is_a_template", "true"))),
    ),
    ('"Running" = field "power_state"', Eq(Literal("Running"), Field("power_state"))),
    ('field "a" = field "b"', Eq(Field("a"), Field("b"))),
    ('"x" = "x"', Eq(Literal("x"), Literal("x"))),
    ('"" = ""', Eq(Literal(""), Literal(""))),
    # no separator needed; keywords are bare prefixes; only space, tab and newline are blank
    ('field"a"="b"', eq("a", "b")),
    ("trueandfalse", And(T, F)),
    ("notfalse", Not(F)),
    ("\ttrue\n\nor  false ", Or(T, F)),
    # anything but a double quote inside quotes, keywords and newlines included
    ('field "name__label" = "not and or ( ) = \\ \n"', eq("name__label", "not and or ( ) = \\ \n")),
]


@pytest.mark.parametrize(("text", "tree"), PARSED)
def test_the_grammar_of_db_filter_parse(text: str, tree: Expr) -> None:
    assert where.parse(text) == tree


MALFORMED: list[tuple[str, str]] = [
    ("", PARSE_ERROR),
    ("   ", PARSE_ERROR),
    ("x", LEX_ERROR),
    ("TRUE", LEX_ERROR),  # keywords are lowercase
    ("true\r", LEX_ERROR),  # no rule for \r
    ('field "a" <> "b"', LEX_ERROR),  # the language has no <>
    ('field "a" != "b"', LEX_ERROR),
    ("'a' = 'b'", LEX_ERROR),
    ('field "a" = "unterminated', LEX_ERROR),
    ("true x", LEX_ERROR),  # the lexer meets x before the parser can complain
    ("true ) x", PARSE_ERROR),  # the parser stops at ) before the lexer reads x
    ("(", PARSE_ERROR),
    (")", PARSE_ERROR),
    ("()", PARSE_ERROR),
    ("(true", PARSE_ERROR),
    ("true)", PARSE_ERROR),
    ("true true", PARSE_ERROR),
    ("truefalse", PARSE_ERROR),
    ("and true", PARSE_ERROR),
    ("true and", PARSE_ERROR),
    ("not", PARSE_ERROR),
    ('"a"', PARSE_ERROR),
    ('field "a"', PARSE_ERROR),
    ('field = "a"', PARSE_ERROR),
    ('field "a" =', PARSE_ERROR),
    ('"a" = "b" = "c"', PARSE_ERROR),
    ('field "a" = true', PARSE_ERROR),
    ('field field "a" = "b"', PARSE_ERROR),
]


@pytest.mark.parametrize(("text", "reason"), MALFORMED)
def test_malformed_expressions_are_invalid_value_with_the_ocaml_exception(
    text: str, reason: str
) -> None:
    with pytest.raises(XapiError) as info:
        where.parse(text)
    assert info.value.description == ["INVALID_VALUE", text, reason]


def test_deep_nesting_parses_and_evaluates_without_recursion() -> None:
    depth = 20_000
    assert where.evaluate(where.parse("not " * depth + "true"), _no_columns) is True
    assert where.evaluate(where.parse("(" * depth + "false" + ")" * depth), _no_columns) is False
    chain = " and ".join(["true"] * depth) + " or false"
    assert where.evaluate(where.parse(chain), _no_columns) is True
    right_deep = "true and (" * depth + "false" + ")" * depth
    assert where.evaluate(where.parse(right_deep), _no_columns) is False


# ---- the tree printed back, for properties ---------------------------------------------------


def render(tree: Expr) -> str:
    """The fewest parentheses that parse back to ``tree`` under the grammar's precedences."""
    match tree:
        case Const(value):
            return "true" if value else "false"
        case Eq(left, right):
            return f"{_operand(left)} = {_operand(right)}"
        case Not(inner):
            return f"not {render(inner)}"
        case And(left, right) | Or(left, right):
            word = "and" if isinstance(tree, And) else "or"
            # a left operand may not end in a bare not (it would swallow the rest)
            left_text = f"({render(left)})" if _ends_in_not(left) else render(left)
            # left-associative: a right operand that is itself a chain needs parentheses
            right_text = f"({render(right)})" if isinstance(right, And | Or) else render(right)
            return f"{left_text} {word} {right_text}"


def _ends_in_not(tree: Expr) -> bool:
    while isinstance(tree, And | Or):
        tree = tree.right
    return isinstance(tree, Not)


def _operand(operand: Field | Literal) -> str:
    return f'field "{operand.column}"' if isinstance(operand, Field) else f'"{operand.text}"'


TEXT = st.text(st.characters(blacklist_characters='"', blacklist_categories=("Cs",)), max_size=8)
OPERANDS = st.one_of(st.builds(Field, st.sampled_from(["a", "b", "c"])), st.builds(Literal, TEXT))
LEAVES = st.one_of(st.builds(Const, st.booleans()), st.builds(Eq, OPERANDS, OPERANDS))
TREES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.builds(Not, inner), st.builds(And, inner, inner), st.builds(Or, inner, inner)
    ),
    max_leaves=12,
)
ROWS = st.fixed_dictionaries({c: st.sampled_from(["", "x", "true"]) for c in "abc"})


@given(TREES)
def test_every_tree_prints_and_parses_back(tree: Expr) -> None:
    assert where.parse(render(tree)) == tree


@given(TREES, ROWS)
def test_evaluation_is_boolean_logic_over_strings(tree: Expr, row: dict[str, str]) -> None:
    assert where.evaluate(tree, row.__getitem__) == _reference(tree, row)


def _reference(tree: Expr, row: dict[str, str]) -> bool:
    match tree:
        case Const(value):
            return value
        case Eq(left, right):
            return _text(left, row) == _text(right, row)
        case Not(inner):
            return not _reference(inner, row)
        case And(left, right):
            return _reference(left, row) and _reference(right, row)
        case Or(left, right):
            return _reference(left, row) or _reference(right, row)


def _text(operand: Field | Literal, row: dict[str, str]) -> str:
    return row[operand.column] if isinstance(operand, Field) else operand.text


# ---- evaluation ------------------------------------------------------------------------------


def _no_columns(column: str) -> str:
    raise MissingField(column)


def test_a_missing_column_fails_only_when_it_is_read() -> None:
    row = {"power_state": "Running"}.__getitem__

    def lookup(column: str) -> str:
        try:
            return row(column)
        except KeyError:
            raise MissingField(column) from None

    assert where.evaluate(where.parse('false and field "nope" = "x"'), lookup) is False
    assert where.evaluate(where.parse('true or field "nope" = "x"'), lookup) is True
    with pytest.raises(MissingField) as info:
        where.evaluate(where.parse('field "power_state" = "Running" and field "nope" = ""'), lookup)
    assert info.value.xapi_error().description == ["INTERNAL_ERROR", "missing field", "nope", ""]
    # ocamlopt evaluates the right operand of = first
    with pytest.raises(MissingField) as info:
        where.evaluate(where.parse('field "first" = field "second"'), lookup)
    assert info.value.column == "second"


# ---- the database's string form --------------------------------------------------------------

DB_STRINGS: list[tuple[Type, Value, str]] = [
    (Prim("string"), "it's", "it's"),
    (Prim("bool"), True, "true"),
    (Prim("bool"), False, "false"),
    (Prim("int"), 0, "0"),
    (Prim("int"), -42, "-42"),
    (Prim("int"), 1 << 62, str(1 << 62)),
    (Prim("float"), 1.0, "1"),
    (Prim("float"), 0.0, "0"),
    (Prim("float"), 0.1, "0.100000000000000006"),
    (Prim("float"), 2.5, "2.5"),
    (Prim("float"), 1e300, "1.00000000000000005e+300"),
    (Prim("datetime"), DateTime("20250319T04:16:24Z"), "20250319T04:16:24Z"),
    (Ref("VM"), "OpaqueRef:NULL", "OpaqueRef:NULL"),
    (Enum("vm_power_state"), "Running", "Running"),
    (SetOf(Prim("string")), [], "()"),
    (SetOf(Prim("string")), ["a"], "('a')"),
    (SetOf(Ref("VBD")), ["OpaqueRef:1", "OpaqueRef:2"], "('OpaqueRef:1' 'OpaqueRef:2')"),
    (SetOf(Prim("int")), [1, 2], "('1' '2')"),
    (SetOf(Prim("string")), ["it's", "a\\b"], "('it\\'s' 'a\\\\b')"),
    (SetOf(Prim("string")), ["cut\x01here", "tab\tand\nnewline"], "('cut' 'tab\tand\nnewline')"),
    (MapOf(Prim("string"), Prim("string")), {}, "()"),
    (MapOf(Prim("string"), Prim("string")), {"k": "v"}, "(('k' 'v'))"),
    (MapOf(Prim("string"), Prim("string")), {"a": "1", "b": ""}, "(('a' '1') ('b' ''))"),
    (MapOf(Prim("int"), Prim("float")), {"0": 0.5}, "(('0' '0.5'))"),
    (MapOf(Prim("string"), Enum("vm_operations")), {"t": "start"}, "(('t' 'start'))"),
    (OptionOf(Ref("VM")), [], "()"),
    (OptionOf(Ref("VM")), ["OpaqueRef:1"], "('OpaqueRef:1')"),
]


@pytest.mark.parametrize(("t", "value", "text"), DB_STRINGS)
def test_values_compare_as_the_database_writes_them(t: Type, value: Value, text: str) -> None:
    assert where.to_db_string(t)(value) == text


def test_nested_fields_are_double_underscore_columns() -> None:
    assert where.column_name("VM", "name_label") == "name__label"
    assert where.column_name("VM", "memory_static_max") == "memory__static_max"
    assert where.column_name("VM", "VCPUs_at_startup") == "VCPUs__at_startup"
    assert where.column_name("VM", "HVM_boot_policy") == "HVM__boot_policy"
    assert where.column_name("VM", "is_a_template") == "is_a_template"
    assert where.column_name("host", "API_version_major") == "API_version__major"
    assert where.column_name("VIF", "qos_algorithm_type") == "qos__algorithm_type"
    assert where.column_name("pool", "name_label") == "name_label"  # a plain field there
    columns = where.columns(datamodel(), "VM")
    assert "name__label" in columns and "name_label" not in columns


def _dump_columns() -> list[tuple[str, str, str]]:
    """(class, column, text) of every cell of xapi's own database dumps."""
    dm = datamodel()
    cells: list[tuple[str, str, str]] = []
    for path in sorted(DUMPS.glob("*.xml")):
        for table in ET.parse(path).getroot().iter("table"):
            cdef = dm.lookup(table.get("name", ""))
            if cdef is None:
                continue
            for row in table.iter("row"):
                for column, text in row.attrib.items():
                    if column not in ("ref", "__ctime", "__mtime", "_ref"):
                        cells.append((cdef.name, column, unprotect(text)))
    return cells


def test_columns_and_strings_match_xapis_own_database_dumps() -> None:
    dm = datamodel()
    checked = 0
    for cls, column, text in _dump_columns():
        table = where.columns(dm, cls)
        if "__" in column:  # every nested column of the dumps is one of ours
            assert column in table, (cls, column)
        if column not in table:
            continue  # a field this datamodel no longer has
        name, to_string = table[column]
        t = dm.classes[cls].fields[name].type
        # older xapis quoted with " and printed floats as "0."; the rest is as xapi writes today
        if '"' in text or (isinstance(t, Prim) and t.name == "float"):
            continue
        # _field types the dump's text as JSON-RPC gives it; written back, it must be the text
        assert to_string(_field(dm.classes[cls], name, text)) == text, (cls, column)
        checked += 1
    assert checked > 20_000


XML_TEXT = st.text(st.characters(min_codepoint=0x20, blacklist_categories=("Cs",)), max_size=6)


@given(st.lists(XML_TEXT, max_size=4), st.dictionaries(XML_TEXT, XML_TEXT, max_size=3))
def test_sets_and_maps_read_back_as_the_dumps_are_read(
    items: list[str], pairs: dict[str, str]
) -> None:
    as_set = where.to_db_string(SetOf(Prim("string")))(list[Value](items))
    assert parse_sexp(as_set) == items
    as_map = where.to_db_string(MapOf(Prim("string"), Prim("string")))(dict[str, Value](pairs))
    assert parse_sexp(as_map) == [[k, v] for k, v in pairs.items()]
