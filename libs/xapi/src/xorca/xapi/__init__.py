"""XAPI for xorca: the async client (`Xapi`), the wire codec, the datamodel, the pool watcher.

The client's names are loaded on first use (PEP 562), not when the package is: importing a pure
module such as ``xorca.xapi.datamodel`` (which the NATS contract does) must not pull in the client
and httpx. ``from xorca.xapi import Xapi`` works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xorca.xapi.client import Task, TlsPolicy, Xapi
    from xorca.xapi.errors import XapiError

__all__ = ["Task", "TlsPolicy", "Xapi", "XapiError"]

#: name → the module that defines it
_LAZY = {
    "Task": "xorca.xapi.client",
    "TlsPolicy": "xorca.xapi.client",
    "Xapi": "xorca.xapi.client",
    "XapiError": "xorca.xapi.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
