"""What tests share lives in tests/support: no module under tests/ imports a test module (nor a
conftest, whose fixtures pytest hands out by name), so that running, moving or deleting one test
file never changes another. Read from the sources, so that the offending line is named."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def _is_test_module(dotted: str) -> bool:
    """``tests.<anything>.test_*`` or ``tests.<anything>.conftest``."""
    parts = dotted.split(".")
    return parts[0] == "tests" and len(parts) > 1 and parts[-1].startswith(("test_", "conftest"))


def imported_test_modules(source: str, module: str) -> Iterator[tuple[int, str]]:
    """(line, module) of every import of a test module in ``source``, the code of ``module``
    (dotted, for relative imports)."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from tests.unit import test_x`` names the module in the imported names
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if _is_test_module(name):
                yield node.lineno, name


def _modules() -> Iterator[tuple[Path, str]]:
    for path in sorted(TESTS.rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        relative = path.relative_to(TESTS.parent).with_suffix("")
        yield path, ".".join(relative.parts)


def test_no_module_under_tests_imports_a_test_module() -> None:
    found = [
        f"{path.relative_to(TESTS.parent)}:{line}: imports {name}"
        for path, module in _modules()
        for line, name in imported_test_modules(path.read_text(), module)
    ]
    assert found == [], "move what is shared to tests/support:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "from tests.integration.test_collector_log import Replica",
        "import tests.unit.test_projection_translate_fuzz as fuzz",
        "from tests.unit import test_projection_translate_fuzz as fuzz",
        "from tests.e2e.test_cli import XORCA",
        "from tests.conftest import FAST",
        "from .test_vm_lifecycle import Lab",
        "from . import conftest",
        "def f():\n    from tests.unit.sim.test_db import x",
    ],
)
def test_the_check_sees_every_way_of_importing_one(source: str) -> None:
    assert list(imported_test_modules(source, "tests.unit.sim.test_here"))


@pytest.mark.parametrize(
    "source",
    [
        "from tests.support.simthread import FAST",
        "from tests.support import record_fuzz as fuzz",
        "import tests.support.waiting",
        "from .. import support",
        "from xorca.xapi import testing_tools",
    ],
)
def test_it_lets_support_modules_through(source: str) -> None:
    assert list(imported_test_modules(source, "tests.unit.sim.test_here")) == []
