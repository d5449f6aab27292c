"""``xorca api``: the API gateway, the same as ``python -m xorca.api``.

Configured only by the environment (``XORCA_DATABASE_URL``, ``XORCA_NATS_URL``,
``XORCA_API_PORT``…: see ``xorca.api.settings``). Tokens: ``xorca token create``.
"""

from __future__ import annotations

import typer

from xorca.api.__main__ import main


def api() -> None:
    """Run the API gateway (settings from XORCA_* variables) until Ctrl-C."""
    raise typer.Exit(main())
