"""Who is asking, and what they may do: the one authorisation seam of the api.

Every snapshot item, every SSE event and every action passes `can(principal, action, obj)`. For
now every principal is an API token with the ``admin`` role, and an administrator may do anything;
users, groups and per-object rights (viewer / operator / admin on a pool, a host, a VM…) come with
the auth service, into this same function, and everything that calls it stays as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Action", "Principal", "can"]

#: ``read``: see the object; ``operate``: run its actions; ``administer``: change rights
Action = Literal["read", "operate", "administer"]
Role = Literal["viewer", "operator", "admin"]

_ALLOWS: dict[Role, frozenset[Action]] = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "operate"}),
    "admin": frozenset({"read", "operate", "administer"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: ``id`` is stable (``token:<id>``), ``name`` is for people."""

    id: str
    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def can(principal: Principal, action: Action, obj: Mapping[str, Any] | None = None) -> bool:
    """Whether ``principal`` may ``action`` the object (its client-facing data: type, id,
    ``$pool``, ``$host``…, on which per-object rights will be decided)."""
    return action in _ALLOWS[principal.role]
