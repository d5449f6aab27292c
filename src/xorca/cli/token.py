"""``xorca token create|list|revoke``: the api's tokens (KV bucket XORCA_TOKENS) by hand.

A token is printed once, when it is created: only its SHA-256 is kept. Every token is an
administrator for now (users, groups and rights come with the auth service, into the same seam).
NATS is reached at XORCA_NATS_URL.
"""

from __future__ import annotations

from typing import Annotated

import typer
from nats.aio.client import Client

from xorca.bus.tokens import Tokens
from xorca.cli.pool import DEFAULT_URL, Json, NatsUrl, Replicas, _print_json, _run

token_app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@token_app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses it (shown in lists).")] = (
        "api"
    ),
    nats_url: NatsUrl = DEFAULT_URL,
    replicas: Replicas = 1,
    json: Json = False,
) -> None:
    """Create a token and print it (once: it cannot be shown again)."""

    async def work(client: Client) -> tuple[str, str]:
        tokens = await Tokens.open(client.jetstream(), create=True, replicas=replicas)
        token, entry = await tokens.create(name)
        return token, entry.id

    token, token_id = _run(work, nats_url)
    if json:
        _print_json({"id": token_id, "name": name, "token": token})
    else:
        typer.echo(token)
        typer.echo(f"(token {token_id} for {name!r}: keep it, it is not shown again)", err=True)


@token_app.command("list")
def list_(nats_url: NatsUrl = DEFAULT_URL, json: Json = False) -> None:
    """The tokens (ids, names, creation times; never the tokens)."""

    async def work(client: Client) -> list[dict[str, str]]:
        tokens = await Tokens.open(client.jetstream(), create=True)
        return [
            {"id": e.id, "name": e.name, "role": e.role, "created": e.created.isoformat()}
            for e in await tokens.list()
        ]

    found = _run(work, nats_url)
    if json:
        _print_json(found)
        return
    for entry in found:
        typer.echo(f"{entry['id']}  {entry['role']:<6} {entry['created']}  {entry['name']}")


@token_app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (see `xorca token list`).")],
    nats_url: NatsUrl = DEFAULT_URL,
) -> None:
    """Revoke a token: every gateway refuses it within moments."""

    async def work(client: Client) -> None:
        tokens = await Tokens.open(client.jetstream(), create=True)
        await tokens.revoke(token_id)

    _run(work, nats_url)
    typer.echo(f"token {token_id} revoked")
