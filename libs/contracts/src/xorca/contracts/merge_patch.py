"""JSON Merge Patch (RFC 7386): `diff` makes the patch from one version to the next, `apply`
replays it.

A merge patch names only what changed: an object member is replaced (or recursed into, when both
sides are objects), ``null`` removes a member, and arrays are replaced whole. ``null`` cannot be a
value, so a patch is exact only between documents that hold no ``null``: xorca's client objects
hold none (an absent value is an absent key), and then ``apply(old, diff(old, new)) == new``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["apply", "diff"]


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The patch that turns ``old`` into ``new`` (``{}`` when they are equal)."""
    patch: dict[str, Any] = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
            continue
        before = old[key]
        if before == value:
            continue
        if isinstance(before, Mapping) and isinstance(value, Mapping):
            patch[key] = diff(before, value)
        else:
            patch[key] = value
    return patch


def apply(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` merged in (RFC 7386 §2); neither argument is changed."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply(result.get(key), value)
    return result
