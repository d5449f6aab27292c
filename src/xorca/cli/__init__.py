"""The ``xorca`` command line: one subcommand per service, and ``demo`` that runs them all."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def main() -> None:
    app()
