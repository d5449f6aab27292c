"""Where the simulator's hand-written message implementations register themselves.

A handler is an async function ``(ctx, *params) -> Value`` for one wire name (``"VM.start"``); it
receives the parameters after ``session_id``, already checked and coerced to their datamodel types.
Messages without a handler fall back to the generic implementations (``rpc/generic.py``) when
``methods.tsv`` says xapi generates them (getters, setters, ``get_all_records`` …); the rest answer
``NOT_IMPLEMENTED``. Which calls exist, and which have an ``Async.`` form, is ``rpc/methods.py``'s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xorca.xapi_sim.rpc.context import CallContext

Handler = Callable[..., Awaitable[Any]]

HANDLERS: dict[str, Handler] = {}


def api(*wire_names: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the implementation of each of ``wire_names``."""

    def register(fn: Handler) -> Handler:
        for name in wire_names:
            if name in HANDLERS:
                raise RuntimeError(f"two handlers for {name}")
            HANDLERS[name] = fn
        return fn

    return register


def load_all() -> None:
    """Import every module that registers handlers (idempotent, and cheap: called per call)."""
    global _loaded
    if _loaded:
        return
    from xorca.xapi_sim import handlers  # noqa: F401
    from xorca.xapi_sim.handlers import internal  # noqa: F401  (hidden messages)

    _loaded = True


_loaded = False


__all__ = ["HANDLERS", "CallContext", "Handler", "api", "load_all"]
