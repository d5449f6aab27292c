"""The words of error codes are data, and the codes are constants: both are checked here.

- the catalogues (``xapi-error-sentences.toml`` in xorca.xapi, ``xorca-error-sentences.toml`` in
  the API) name only codes that exist, and every placeholder one of the code's parameters;
- a broken catalogue is refused as it is read, saying where;
- every constant of the code modules is the code it names (XAPI's: one of xapi-errors.json);
- no code is spelt out as a string in the API's sources, nor an ``XORCA_*`` code in the
  collector's or the contract's: they import the constant.
"""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import pytest

from xorca.api.core import codes as api_codes
from xorca.api.core.problems import describe_xapi_error, sentences, title_for
from xorca.contracts import codes as xorca_codes
from xorca.xapi import codes as xapi_codes
from xorca.xapi.datamodel import errors as xapi_errors
from xorca.xapi.sentences import (
    SPECS,
    InvalidCatalogue,
    Placeholder,
    parse_catalogue,
    xapi_sentences,
)

ROOT = Path(__file__).resolve().parents[2]


def constants(module: ModuleType) -> dict[str, str]:
    return {name: getattr(module, name) for name in module.__all__}


# ---- the catalogues ----------------------------------------------------------------------


def test_xapis_catalogue_names_xapi_codes_and_their_params() -> None:
    declared = xapi_errors()
    catalogue = xapi_sentences()
    assert len(catalogue) >= 80
    for code, words in catalogue.items():
        assert code in declared, code
        assert words.params == declared[code].params, code
        for template in words.details:
            for part in template.parts:
                if isinstance(part, Placeholder):
                    name = words.params[part.index]
                    assert f"{{{name}" in template.text, (code, template.text)
                    assert part.spec in SPECS | {""}


def test_xorcas_catalogue_names_constants_of_the_code_modules() -> None:
    defined = {
        *constants(xorca_codes).values(),
        *constants(api_codes).values(),
    }
    own = {code: words for code, words in sentences().items() if code not in xapi_sentences()}
    assert own, "the API's catalogue is empty"
    for code, words in own.items():
        assert code.startswith(xorca_codes.PREFIX) and code in defined, code
        assert words.params, code  # declared in the file: XAPI does not know them


@pytest.mark.parametrize("code", sorted(sentences()))
def test_every_sentence_renders_with_or_without_its_params(code: str) -> None:
    words = sentences()[code]
    full = describe_xapi_error(code, [f"p{i}" for i in range(len(words.params))])
    assert full and "{" not in full and "}" not in full
    # without params: the first sentence that needs none, else the code itself
    bare = next((t.text for t in words.details if t.needs == 0), code)
    assert describe_xapi_error(code) == bare
    assert title_for(code) == words.title


def test_every_format_a_catalogue_may_use_is_used_and_shown() -> None:
    used = {
        part.spec
        for words in sentences().values()
        for template in words.details
        for part in template.parts
        if isinstance(part, Placeholder) and part.spec
    }
    assert used == SPECS


def test_the_parameter_a_placeholder_names_is_found_by_name_not_position() -> None:
    catalogue = parse_catalogue(
        '[X_Y]\nparams = ["first", "a size"]\ntitle = "T"\n'
        'details = ["{a size:bytes} then {first}.", "none."]\n',
        source="test",
    )
    template = catalogue["X_Y"].details[0]
    assert template.parts == (Placeholder(1, "bytes"), " then ", Placeholder(0), ".")
    assert template.needs == 2
    assert catalogue["X_Y"].details[1].needs == 0


BROKEN = [
    ("not = [toml", None, "not TOML"),
    ('[lower_case]\nparams = []\ntitle = "T"\ndetails = ["D."]', "lower_case", "not an error code"),
    ('[X]\ntitle = "T"\ndetails = ["D."]', "X", "params"),
    ('[X]\nparams = ["a"]\ndetails = ["D."]', "X", "title"),
    ('[X]\nparams = ["a"]\ntitle = "T."\ndetails = ["D."]', "X", "full stop"),
    (f'[X]\nparams = ["a"]\ntitle = "{"t" * 101}"\ndetails = ["D."]', "X", "100 characters"),
    ('[X]\nparams = ["a"]\ntitle = "T"\ndetails = []', "X", "details"),
    ('[X]\nparams = ["a"]\ntitle = "T"\ndetails = ["{b}."]', "X", "{b} is not a parameter"),
    ('[X]\nparams = ["a"]\ntitle = "T"\ndetails = ["{0}."]', "X", "{0} is not a parameter"),
    ('[X]\nparams = ["a"]\ntitle = "T"\ndetails = ["{a:size}."]', "X", "no format 'size'"),
    ('[X]\nparams = ["a"]\ntitle = "T"\ndetails = ["{a}}."]', "X", "brace"),
    ('[X]\nparams = ["a"]\ntitle = "T"\ndetails = ["{{a}}."]', "X", "brace"),
    ('[X]\nparams = ["a"]\ntitle = "T"\ndetails = ["D."]\ndoc = "x"', "X", "unknown keys"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "code", "words"), BROKEN)
def test_a_broken_catalogue_is_refused_saying_where(
    text: str, code: str | None, words: str
) -> None:
    with pytest.raises(InvalidCatalogue) as caught:
        parse_catalogue(text, source="mine.toml")
    assert (caught.value.source, caught.value.code) == ("mine.toml", code)
    assert words in caught.value.reason
    assert isinstance(caught.value, ValueError)


def test_a_catalogue_of_xapi_codes_takes_their_params_from_xapi() -> None:
    declared = {"VM_BAD_POWER_STATE": ("vm", "expected", "actual")}
    good = '[VM_BAD_POWER_STATE]\ntitle = "T"\ndetails = ["Is {actual:state}."]'
    parsed = parse_catalogue(good, source="x", declared=declared)
    assert parsed["VM_BAD_POWER_STATE"].details[0].parts[1] == Placeholder(2, "state")
    for text, words in [
        ('[NO_SUCH_CODE]\ntitle = "T"\ndetails = ["D."]', "no such code"),
        ('[VM_BAD_POWER_STATE]\nparams = ["vm"]\ntitle = "T"\ndetails = ["D."]', "params come"),
    ]:
        with pytest.raises(InvalidCatalogue, match=words):
            parse_catalogue(text, source="x", declared=declared)


# ---- the constants -------------------------------------------------------------------------


def test_xapi_code_constants_are_codes_of_xapi_errors_json() -> None:
    declared = xapi_errors()
    for name, value in constants(xapi_codes).items():
        if name == "SESSION_PREFIX":
            assert any(code.startswith(value) for code in declared)
        else:
            assert value == name and value in declared, name


@pytest.mark.parametrize("module", [xorca_codes, api_codes], ids=lambda m: m.__name__)
def test_xorca_code_constants_are_named_for_their_code(module: ModuleType) -> None:
    for name, value in constants(module).items():
        assert value.startswith(xorca_codes.PREFIX), name
        if name != "PREFIX":
            assert len(value) > len(xorca_codes.PREFIX), name


def test_each_xorca_code_has_one_definition() -> None:
    shared = set(constants(xorca_codes).values()) & set(constants(api_codes).values())
    assert shared == set()


def _spelt_codes(source: Path, known: set[str]) -> list[str]:
    """``line: code`` for every string in ``source`` that is one of ``known``, docstrings and
    ``__all__`` aside."""
    tree = ast.parse(source.read_text("utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skipped.add(id(body[0].value))  # a docstring
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            skipped.update(id(n) for n in ast.walk(node.value))
    return [
        f"{source.relative_to(ROOT)}:{node.lineno}: {node.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
        and node.value in known
    ]


CODE_MODULES = {
    ROOT / "libs/contracts/src/xorca/contracts/codes.py",
    ROOT / "services/api/src/xorca/api/core/codes.py",
}


def test_no_code_is_spelt_out_where_a_constant_exists() -> None:
    xorca = {
        *constants(xorca_codes).values(),
        *constants(api_codes).values(),
        *(code for code in sentences() if code.startswith(xorca_codes.PREFIX)),
    } - {xorca_codes.PREFIX}
    every = xorca | set(xapi_errors())
    scanned = {
        ROOT / "services/api/src": every,
        ROOT / "services/collector/src": xorca,
        ROOT / "libs/contracts/src": xorca,
    }
    offenders = [
        spelt
        for root, known in scanned.items()
        for source in sorted(root.rglob("*.py"))
        if source not in CODE_MODULES
        for spelt in _spelt_codes(source, known)
    ]
    assert offenders == []
