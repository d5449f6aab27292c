"""The web UI ``xorca demo`` serves: ``web/dist``, built from ``web/`` when it is missing or stale.

- **stale**: ``dist/index.html`` is older than a source of the build, that is any file directly
  in ``web/`` (``package.json``, ``package-lock.json``, ``index.html``, ``vite.config.ts``,
  ``tsconfig.json``… whatever config a tool adds there) or anywhere under ``web/src/`` and
  ``web/public/``. Modification times only: a checkout, a pull or an edit makes files newer, and
  a build by hand (``npm run build``, ``scripts/check``) makes ``dist`` newer than what it read.
- **install first** (``npm ci``) when ``web/node_modules`` is missing or older than
  ``package-lock.json`` (npm records what it installed in ``node_modules/.package-lock.json``).

The build runs while the rest of the demo starts (the gateway serves the UI from the moment
``index.html`` is there: `xorca.api.web.WebUi`); the demo is announced after it. What it does
is said on stderr (stdout is the ``--json`` line). When Node.js or npm is missing, too old, or
the build fails, the demo says why and runs on: the API works and ``/`` says how to build the
UI (or a previous build, when one is there, is served as it is).

``XORCA_WEB_SOURCE`` names another ``web/`` folder to build and serve (the tests build a copy).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = [
    "SOURCE_ENV",
    "Say",
    "WebBuildError",
    "build",
    "ensure_built",
    "install_needed",
    "stale",
    "to_stderr",
    "web_source",
]

SOURCE_ENV = "XORCA_WEB_SOURCE"
#: the folders under web/ whose files the build reads (besides the files of web/ itself)
SOURCE_DIRS = ("src", "public")
#: lines of npm's output shown when a step fails
TAIL = 30

Say = Callable[[str], None]


def to_stderr(line: str) -> None:
    sys.stderr.write(f"xorca demo: {line}\n")
    sys.stderr.flush()


class WebBuildError(Exception):
    """The UI cannot be built here; the message says why in words, and what to do."""


def web_source() -> Path:
    """``XORCA_WEB_SOURCE``, else ``web/`` of this checkout."""
    wanted = os.environ.get(SOURCE_ENV, "").strip()
    return Path(wanted) if wanted else Path(__file__).resolve().parents[3] / "web"


def _sources(web: Path) -> Iterator[Path]:
    for entry in web.iterdir():
        if entry.is_file():
            yield entry
    for name in SOURCE_DIRS:
        folder = web / name
        if folder.is_dir():
            yield from (p for p in folder.rglob("*") if p.is_file())


def stale(web: Path) -> str | None:
    """Why ``web/dist`` must be built (missing, or older than a source), None when it is fresh."""
    built = web / "dist" / "index.html"
    try:
        built_at = built.stat().st_mtime
    except FileNotFoundError:
        return f"{web / 'dist'} is missing"
    newer = [p for p in _sources(web) if p.stat().st_mtime > built_at]
    if not newer:
        return None
    newest = max(newer, key=lambda p: p.stat().st_mtime)
    more = f" (and {len(newer) - 1} more)" if len(newer) > 1 else ""
    return f"{newest.relative_to(web)}{more} is newer than {web / 'dist'}"


def install_needed(web: Path) -> str | None:
    """Why ``npm ci`` must run first (no ``node_modules``, or older than the lock), else None."""
    modules = web / "node_modules"
    if not modules.is_dir():
        return "node_modules is missing"
    record = modules / ".package-lock.json"
    installed_at = (record if record.is_file() else modules).stat().st_mtime
    lock = web / "package-lock.json"
    if lock.is_file() and lock.stat().st_mtime > installed_at:
        return "package-lock.json is newer than node_modules"
    return None


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise WebBuildError(
            f"{name} is not on PATH: install Node.js and npm (Debian: apt-get install nodejs npm)"
        )
    return found


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


async def _output(*command: str, cwd: Path) -> tuple[int, str]:
    """Run ``command`` in ``cwd``: its exit status and its output (stdout and stderr). In a
    session of its own, so that it is ended whole (npm starts node, vite starts esbuild) when
    the demo stops during a build."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = await process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(asyncio.TimeoutError, ProcessLookupError):
            await asyncio.wait_for(process.wait(), 10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raise
    return process.returncode or 0, out.decode(errors="replace")


async def _check_node(node: str, web: Path) -> None:
    """Node.js at least as new as ``engines.node`` asks (``>=X.Y``, the form package.json
    uses): an older one fails later with a message that does not say so."""
    try:
        wanted = str(json.loads((web / "package.json").read_text())["engines"]["node"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    match = re.fullmatch(r"\s*>=\s*v?(\d+(?:\.\d+){0,2})\s*", wanted)
    if match is None:
        return
    status, found = await _output(node, "--version", cwd=web)
    if status == 0 and _version(found) < _version(match.group(1)):
        raise WebBuildError(
            f"Node.js {found.strip()} is older than web/package.json asks ({wanted})"
        )


async def _step(web: Path, *command: str) -> None:
    status, out = await _output(*command, cwd=web)
    if status != 0:
        tail = "\n".join(out.rstrip().splitlines()[-TAIL:])
        name = " ".join([Path(command[0]).name, *command[1:]])
        raise WebBuildError(f"{name} failed (exit status {status}):\n{tail}")


async def build(web: Path, say: Say) -> None:
    """``npm ci`` when `install_needed`, then ``npm run build`` in ``web``."""
    if not (web / "package.json").is_file():
        raise WebBuildError(f"{web} holds no package.json: no web UI sources here")
    npm = _tool("npm")
    await _check_node(_tool("node"), web)
    reason = install_needed(web)
    if reason:
        say(f"installing the web UI's dependencies ({reason}): npm ci")
        await _step(web, npm, "ci", "--prefer-offline", "--no-audit", "--no-fund")
    await _step(web, npm, "run", "build")


async def ensure_built(web: Path, say: Say, timeout: float = 900) -> bool:
    """Build ``web/dist`` if it is `stale`, saying so; whether a built UI is there to serve.
    A build that cannot be done (or takes over ``timeout`` seconds) is said, with why and what
    is served instead, not raised."""
    reason = await asyncio.to_thread(_why_build, web)  # a walk of the sources: off the loop
    if reason is None:
        return True
    say(f"building the web UI ({reason}): npm run build in {web}…")
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            await build(web, say)
    except TimeoutError:
        return _failed(web, say, f"it took longer than {timeout:.0f} s (stopped)")
    except (WebBuildError, OSError) as e:
        return _failed(web, say, str(e))
    say(f"web UI built in {time.monotonic() - started:.0f} s")
    return True


def _why_build(web: Path) -> str | None:
    try:
        return stale(web) if web.is_dir() else f"{web} is missing"
    except OSError as e:  # unreadable sources: try the build, which will say more
        return str(e)


def _failed(web: Path, say: Say, why: str) -> bool:
    served = (web / "dist" / "index.html").is_file()
    instead = (
        "serving the previous build of web/dist as it is"
        if served
        else "the API runs; / says how to build the UI"
    )
    say(f"the web UI could not be built: {why}\n  ({instead})")
    return served
