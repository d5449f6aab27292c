"""``xorca projection``: the projection, the same as ``python -m xorca.projection``.

Configured only by the environment (``XORCA_DATABASE_URL``, ``XORCA_NATS_URL``,
``XORCA_TOMBSTONE_TTL``…: see ``xorca.projection.settings``). ``xorca projection rebuild``
empties the store and applies the whole stream again (stop the running projection first).
"""

from __future__ import annotations

import typer

from xorca.projection.__main__ import main

projection_app = typer.Typer(no_args_is_help=False, add_completion=False, help=__doc__)


@projection_app.callback(invoke_without_command=True)
def projection(ctx: typer.Context) -> None:
    """Run the projection (settings from XORCA_* variables) until Ctrl-C."""
    if ctx.invoked_subcommand is None:
        raise typer.Exit(main([]))


@projection_app.command()
def rebuild() -> None:
    """Empty the state store and rebuild it from the stream, then exit."""
    raise typer.Exit(main(["rebuild"]))
