"""``xorca pool add|list|remove|keygen``: the pool registry (KV bucket XORCA_POOLS) by hand.

The auth service will own the registry later (through the api); until then this is how pools
are registered. NATS is reached at XORCA_NATS_URL, passwords are encrypted with XORCA_SECRET_KEY
(the same key the collectors need to read them). Passwords are prompted for when not given, and
never printed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import nats
import orjson
import typer
from nats.aio.client import Client
from pydantic import SecretStr, ValidationError

from xorca.bus.registry import Registry
from xorca.bus.settings import NatsSettings
from xorca.contracts.errors import (
    ContractError,
    PoolNotFound,
    RegistryEntryInvalid,
    RegistryUnavailable,
)
from xorca.contracts.passwords import generate_secret_key
from xorca.contracts.registry import PoolEntry, TlsMode, TlsSettings, new_registry_id

pool_app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

T = TypeVar("T")

_DEFAULTS = NatsSettings.model_fields
NatsUrl = Annotated[
    str, typer.Option("--nats-url", envvar="XORCA_NATS_URL", help="NATS server URL(s).")
]
SecretKey = Annotated[
    str,
    typer.Option(
        "--secret-key",
        envvar="XORCA_SECRET_KEY",
        help="Fernet key for the passwords (better from the environment).",
        show_default=False,
    ),
]
Replicas = Annotated[
    int,
    typer.Option("--replicas", envvar="XORCA_NATS_REPLICAS", help="Replicas of the bucket.", min=1),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
DEFAULT_URL = str(_DEFAULTS["nats_url"].default)


class _Failure(Exception):
    """A failure to report in one line and exit 1 (no traceback for the user)."""


def _run(work: Callable[[Client], Awaitable[T]], nats_url: str) -> T:
    async def main() -> T:
        async def quiet(error: Exception) -> None:
            return None  # errors surface as exceptions from the calls; keep stderr readable

        try:
            client = await nats.connect(
                nats_url.split(","),
                connect_timeout=5,
                # nats-py reads 0 as "forever"; 1 means two tries per server, then NoServersError
                max_reconnect_attempts=1,
                reconnect_time_wait=0.2,
                allow_reconnect=False,
                error_cb=quiet,
            )
        except Exception as e:  # nats-py raises several unrelated types for "no server"
            raise _Failure(f"cannot reach NATS at {nats_url}: {e or type(e).__name__}") from e
        try:
            return await work(client)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except (_Failure, ContractError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e


def _print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


@pool_app.command()
def add(
    name: Annotated[str, typer.Argument(help="A name for people.")],
    url: Annotated[str, typer.Argument(help="https://address of any member of the pool.")],
    username: Annotated[str, typer.Option("--username", "-u", help="XAPI user.")] = "root",
    password: Annotated[
        str | None,
        typer.Option(prompt=True, hide_input=True, help="XAPI password (prompted if absent)."),
    ] = None,
    tls: Annotated[
        str, typer.Option("--tls", help="verify | pin | insecure: how to trust the pool's TLS.")
    ] = "verify",
    fingerprint: Annotated[
        list[str] | None,
        typer.Option("--fingerprint", help="SHA-256 certificate fingerprint (pin; repeatable)."),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option("--ca-file", exists=True, dir_okay=False, help="PEM CA(s) to trust (verify)."),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Register it disabled.")] = False,
    entry_id: Annotated[
        str | None, typer.Option("--id", help="Registry id (default: a new uuid).")
    ] = None,
    nats_url: NatsUrl = DEFAULT_URL,
    secret_key: SecretKey = "",
    replicas: Replicas = 1,
    json: Json = False,
) -> None:
    """Register a pool to manage; prints its registry id."""
    if tls not in ("verify", "pin", "insecure"):
        raise typer.BadParameter("must be verify, pin or insecure", param_hint="--tls")
    mode: TlsMode = tls  # type: ignore[assignment]  # checked just above
    try:
        entry = PoolEntry(
            id=entry_id or new_registry_id(),
            name=name,
            url=url,
            username=username,
            password=SecretStr(password or ""),
            tls=TlsSettings(
                mode=mode,
                ca_pem=ca_file.read_text() if ca_file else "",
                fingerprints=fingerprint or [],
            ),
            enabled=not disabled,
        )
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        typer.echo(f"error: {where + ': ' if where else ''}{first['msg']}", err=True)
        raise typer.Exit(2) from e

    async def work(client: Client) -> None:
        registry = await Registry.open(
            client.jetstream(), _key(secret_key), create=True, replicas=replicas
        )
        await registry.add(entry)

    _run(work, nats_url)
    if json:
        _print_json(entry.public())
    else:
        typer.echo(entry.id)


@pool_app.command("list")
def list_(nats_url: NatsUrl = DEFAULT_URL, secret_key: SecretKey = "", json: Json = False) -> None:
    """The registered pools (never their passwords); broken entries are shown as INVALID."""

    async def work(client: Client) -> list[PoolEntry | RegistryEntryInvalid]:
        try:
            registry = await Registry.open(client.jetstream(), _key(secret_key))
        except RegistryUnavailable:
            return []  # nothing was ever registered on this NATS
        return await registry.list()

    entries = _run(work, nats_url)
    if json:
        _print_json([_as_json(e) for e in entries])
        return
    rows = [("ID", "NAME", "URL", "USER", "TLS", "ENABLED")]
    for e in entries:
        if isinstance(e, RegistryEntryInvalid):
            rows.append((e.id, "INVALID", e.reason, "", "", ""))
        else:
            rows.append((e.id, e.name, e.url, e.username, e.tls.mode, "yes" if e.enabled else "no"))
    if len(rows) == 1:
        typer.echo("no pools registered")
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


@pool_app.command()
def remove(
    entry: Annotated[str, typer.Argument(help="Registry id (or the name, if unique).")],
    nats_url: NatsUrl = DEFAULT_URL,
    secret_key: SecretKey = "",
) -> None:
    """Forget a pool (every stored revision of its entry is purged)."""

    async def work(client: Client) -> str:
        registry = await Registry.open(client.jetstream(), _key(secret_key))
        try:
            await registry.remove(entry)
        except PoolNotFound:
            named = [
                e.id for e in await registry.list() if isinstance(e, PoolEntry) and e.name == entry
            ]
            if len(named) != 1:
                raise _Failure(
                    f"no pool with id {entry!r}" + (f" and {len(named)} named so" if named else "")
                ) from None
            await registry.remove(named[0])
            return named[0]
        return entry

    typer.echo(f"removed {_run(work, nats_url)}")


@pool_app.command()
def keygen() -> None:
    """Print a new random XORCA_SECRET_KEY."""
    typer.echo(generate_secret_key())


def _key(secret_key: str) -> str:
    if not secret_key.strip():
        raise _Failure("XORCA_SECRET_KEY is not set; generate one with `xorca pool keygen`")
    return secret_key


def _as_json(item: PoolEntry | RegistryEntryInvalid) -> dict[str, Any]:
    if isinstance(item, RegistryEntryInvalid):
        return {"id": item.id, "invalid": item.reason}
    return item.public()
