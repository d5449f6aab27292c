"""The workspace's shape: no production distribution ships the XAPI simulator.

The simulator (``xorca-xapi-sim``) is for tests, benchmarks and ``xorca sim``/``xorca demo``
only; a collector or gateway image must not carry it, nor the HTTP server parts (h11, wsproto)
it alone needs. Checked three ways: the declared dependencies in each ``pyproject.toml``
(followed through the workspace), the installed distributions' own metadata, and the sources'
imports.
"""

from __future__ import annotations

import ast
import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIM = "xorca-xapi-sim"
#: what may depend on the simulator: itself, and the root distribution (the CLI's sim and demo)
SIM_USERS = {SIM, "xorca"}
SIM_ONLY = {"h11", "wsproto"}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def _members() -> dict[str, tuple[Path, list[str]]]:
    out: dict[str, tuple[Path, list[str]]] = {}
    for pyproject in sorted(ROOT.glob("*/*/pyproject.toml")):
        if pyproject.parent.parent.name not in ("libs", "services"):
            continue
        project = tomllib.loads(pyproject.read_text())["project"]
        out[project["name"]] = (pyproject.parent, [_name(r) for r in project["dependencies"]])
    return out


def _closure(name: str, members: dict[str, tuple[Path, list[str]]]) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for dep in members[todo.pop()][1]:
            if dep not in seen:
                seen.add(dep)
                if dep in members:
                    todo.append(dep)
    return seen


def test_the_simulator_is_a_workspace_member_of_its_own() -> None:
    members = _members()
    assert SIM in members
    assert members[SIM][0] == ROOT / "libs" / "xapi-sim"
    assert "xorca-xapi" in members[SIM][1]


def test_no_production_distribution_depends_on_the_simulator_even_indirectly() -> None:
    members = _members()
    production = set(members) - SIM_USERS
    assert {
        "xorca-xapi",
        "xorca-contracts",
        "xorca-bus",
        "xorca-collector",
        "xorca-api",
    } <= production
    for name in sorted(production):
        deps = _closure(name, members)
        assert SIM not in deps, f"{name} pulls in the simulator"
        assert not deps & SIM_ONLY, f"{name} pulls in {sorted(deps & SIM_ONLY)}"


def test_the_installed_metadata_says_the_same() -> None:
    members = _members()
    for name in sorted(set(members) - SIM_USERS):
        requires = [_name(r) for r in metadata.requires(name) or []]
        assert SIM not in requires, name
        assert not set(requires) & SIM_ONLY, name
    assert SIM in [_name(r) for r in metadata.requires("xorca") or []]


def test_no_production_source_imports_the_simulator() -> None:
    members = _members()
    offenders = []
    for name in sorted(set(members) - SIM_USERS):
        for source in (members[name][0] / "src").rglob("*.py"):
            if any(m.startswith("xorca.xapi_sim") for m in _imported(source)):
                offenders.append(str(source.relative_to(ROOT)))
    assert offenders == []


def _imported(source: Path) -> list[str]:
    modules: list[str] = []
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom):
            modules.append(node.module or "")
        elif isinstance(node, ast.Import):
            modules.extend(a.name for a in node.names)
    return modules
