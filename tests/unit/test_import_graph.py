"""The contract library stays pure: ``xorca.contracts`` loads no client, no server, no database.

Outside teams and every service depend on ``xorca-contracts``; what it pulls in, they carry. So
importing it, and every module in it, must load no NATS client (``xorca.bus`` speaks the contract
over NATS), no HTTP client (nor the XAPI client built on it), no database and no web framework.
Checked twice: by importing everything in a fresh interpreter and looking at ``sys.modules`` (which
sees what the imports pull in, however indirectly), and by reading the sources (which names the
offending line even when the import is not reached).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "libs" / "contracts" / "src"
FORBIDDEN = ("nats", "httpx", "xorca.xapi.client", "xorca.bus", "sqlalchemy", "fastapi")

_IMPORT_ALL = """
import importlib, json, pkgutil, sys
top = importlib.import_module("{package}")
path = getattr(top, "__path__", [])  # a plain module has no submodules
names = sorted(m.name for m in pkgutil.walk_packages(path, "{package}."))
for name in names:
    importlib.import_module(name)
print(json.dumps({{"imported": names, "loaded": sorted(sys.modules)}}))
"""


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def _import_all(package: str) -> dict[str, list[str]]:
    """Import ``package`` and every module under it in a fresh interpreter: which modules it
    imported, and every module that was loaded."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL.format(package=package)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def test_importing_the_contract_and_all_its_modules_loads_no_adapter() -> None:
    result = _import_all("xorca.contracts")
    assert {"xorca.contracts.asyncapi", "xorca.contracts.registry"} <= set(result["imported"])
    assert [m for m in result["loaded"] if _forbidden(m)] == []


def test_the_xapi_datamodel_loads_without_the_client() -> None:
    # the contract uses it: xorca.xapi's __init__ must load the client only when asked for it
    result = _import_all("xorca.xapi.datamodel")
    assert "xorca.xapi.datamodel" in result["loaded"]
    assert [m for m in result["loaded"] if m.startswith(("httpx", "xorca.xapi.client"))] == []


def test_no_module_of_the_contract_names_an_adapter() -> None:
    offenders = []
    sources = sorted(CONTRACTS.rglob("*.py"))
    assert sources
    for source in sources:
        for line, module in _imported(source):
            if _forbidden(module):
                offenders.append(f"{source.relative_to(ROOT)}:{line}: {module}")
    assert offenders == []


def _imported(source: Path) -> list[tuple[int, str]]:
    """Every module an import statement of ``source`` names (``from a import b``: ``a`` and
    ``a.b``, since ``b`` may be a submodule), wherever the statement is."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.lineno, node.module))
            out.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return out
