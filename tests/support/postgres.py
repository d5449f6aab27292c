"""PostgreSQL for tests, found or started once per session, and a fresh database per test.

Where the server comes from, first that works:

1. ``XORCA_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres@127.0.0.1:5432/test``), a server
   someone else runs (CI exports it);
2. a throwaway cluster from the local PostgreSQL binaries (``initdb``/``pg_ctl`` on PATH or under
   /usr/lib/postgresql/*/bin), as pytest-postgresql does: initdb into a temporary directory, start
   on a free port with the socket in that directory, stop and delete at the end of the session.
   initdb and postgres refuse to run as root, so as root they run as the ``postgres`` user;
3. testcontainers' ``PostgresContainer`` when a Docker engine answers.

Without any of them the PostgreSQL tests are skipped with the reasons, except under ``CI=true``
where they fail: CI must never pass by testing nothing.

Fixtures: ``postgres_admin_url`` (session), ``store_url`` (parametrized ``sqlite`` /
``postgresql``: a SQLite file under the test's tmp_path, or a new database ``xorca_t_<hex>``
dropped afterwards) and ``store`` (a migrated `Store` on ``store_url``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from xorca.store import Store, redacted

ENV_URL = "XORCA_TEST_POSTGRES_URL"
START_TIMEOUT = 60
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end in a thread of its own (with its own event loop), so that a
    sync fixture may call asyncpg whatever loop the test itself runs on."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=target, name="postgres-admin")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


async def admin_execute(admin_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(admin_url, timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _version(bindir: Path) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", bindir.parent.name)
    return tuple(int(n) for n in numbers)


def find_bindir() -> Path | None:
    """The directory of initdb, pg_ctl and postgres: the one on PATH, else the newest under
    /usr/lib/postgresql."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)  # Debian links into its bin dir
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


class LocalCluster:
    """A throwaway PostgreSQL cluster in a temporary directory, on a free port."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="xorca-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            # initdb and postgres refuse root: run them as the postgres user, owner of the dir
            user = pwd.getpwnam("postgres")  # KeyError: the caller reports it
            runuser = shutil.which("runuser")
            if runuser is None:
                raise FileNotFoundError("runuser (to run PostgreSQL as the postgres user)")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = [runuser, "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self._as, *command],
            cwd=self.root,  # the postgres user may not be allowed into ours
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT + 30,
            check=False,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{Path(command[0]).name} failed ({done.returncode}): "
                f"{done.stderr.strip()[-2000:]}\n{log}"
            )

    def start(self) -> LocalCluster:
        self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.data),
            "-U", "postgres",
            "-A", "trust",
            "-E", "UTF8",
            "--no-locale",
            "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            # a test server: durability is not wanted, speed is
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D", str(self.data),
            "-l", str(self.log),
            "-o", options,
            "-w", "-t", str(START_TIMEOUT),
            "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                          "stop")  # fmt: skip
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@contextlib.contextmanager
def _container() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer  # only when Docker is there

    with PostgresContainer("postgres:16-alpine", driver=None) as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(5432)
        yield (
            f"postgresql://{container.username}:{container.password}@{host}:{port}/"
            f"{container.dbname}"
        )


class NoPostgres(Exception):
    """No way to a PostgreSQL server here; the message says what each way lacked."""


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The admin URL of a server from the first way that works (see the module's docstring),
    for as long as the ``with`` lasts; `NoPostgres` when none does."""
    given = os.environ.get(ENV_URL)
    if given:
        yield given
        return
    missing: list[str] = [f"{ENV_URL} is not set"]
    bindir = find_bindir()
    if bindir is None:
        missing.append("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql")
    else:
        try:
            cluster = LocalCluster(bindir)
        except (KeyError, FileNotFoundError) as e:
            missing.append(f"cannot run {bindir}/initdb as a user other than root: {e}")
        else:
            try:
                cluster.start()
            except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
                cluster.stop()
                missing.append(f"the local cluster from {bindir} did not start: {e}")
            else:
                try:
                    yield cluster.url
                finally:
                    cluster.stop()
                return
    if _docker_answers():
        with _container() as url:
            yield url
        return
    missing.append("no Docker engine answers `docker info`")
    raise NoPostgres("no PostgreSQL for the tests: " + "; ".join(missing))


def pytest_report_header() -> str:
    given = os.environ.get(ENV_URL)
    if given:
        return f"postgres: {ENV_URL}={redacted(given)}"
    bindir = find_bindir()
    where = f"a throwaway cluster from {bindir}" if bindir else "testcontainers, if Docker answers"
    return f"postgres: {where}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A URL with the right to create databases, on a server that lasts the session."""
    try:
        with postgres_server() as url:
            yield url
    except NoPostgres as e:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(e))  # CI must never pass by testing nothing
        pytest.skip(str(e))


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of this test's own, on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'state.db'}"
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    name = f"xorca_t_{secrets.token_hex(6)}"
    run_async(admin_execute(admin_url, f"CREATE DATABASE {name}"))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        run_async(admin_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A migrated `Store` on ``store_url``, closed afterwards."""
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()
