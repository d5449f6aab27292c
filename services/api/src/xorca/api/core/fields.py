"""Field selection (``?fields=id,name_label,memory.actual``): objects and their merge patches
trimmed to the paths a client asks for.

`Fields.project` trims an object; `Fields.project_patch` trims an RFC 7386 merge patch of it so
that, for any object ``old`` and patch ``p``::

    project(apply(old, p)) == apply(project(old), project_patch(p))

which lets the SSE stream send each client the trimmed patch of a change without knowing the
object it applies to. Three rules make that hold:

- an object on a selected path is kept even when none of its selected keys is in it
  (``memory.actual`` of ``{"memory": {}}`` gives ``{"memory": {}}``): whether ``memory`` is there
  is part of what a later patch changes;
- a patch that replaces a selected object with a value that has no selected part (``memory`` set
  to a number) becomes a removal (``null``) of that key;
- a list of objects on the path is trimmed element by element (``disks.$vdi``); any other list
  or scalar below a path that goes on is absent (``tags.x``).

``id`` and ``type`` are always kept: clients key objects by them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from xorca.api.core.codes import BAD_FIELDS
from xorca.api.core.errors import ApiProblem

__all__ = ["ALL_FIELDS", "MAX_FIELDS", "MAX_LENGTH", "Fields", "FieldsError", "parse_fields"]

#: most paths in one selection
MAX_FIELDS = 100
#: longest selection text accepted, in characters
MAX_LENGTH = 4000
#: kept in every projection
ALWAYS = ("id", "type")

_SEGMENT = re.compile(r"[A-Za-z0-9_$-]+")
_ABSENT: Any = object()

# a key's selected part: None for all of its value, else the selection below it
_Tree: TypeAlias = "dict[str, _Tree | None]"


class FieldsError(ApiProblem, ValueError):
    """A selection that cannot be read; ``message`` says why, for a user. Answered as it is:
    400 ``XORCA_BAD_FIELDS``, the detail naming the ``fields`` parameter."""

    def __init__(self, message: str) -> None:
        super().__init__(400, f"fields: {message}", code=BAD_FIELDS)
        self.message = message


def parse_fields(text: str) -> Fields:
    """The selection of comma-separated dotted paths (``id,name_label,memory.actual,$host``);
    blank text or ``*`` selects everything. Raises `FieldsError`."""
    if len(text) > MAX_LENGTH:
        raise FieldsError(f"the field list is too long (over {MAX_LENGTH} characters)")
    names = [name.strip() for name in text.split(",")]
    if names == [""]:
        return ALL_FIELDS
    if len(names) > MAX_FIELDS:
        raise FieldsError(f"too many fields: {len(names)}, at most {MAX_FIELDS}")
    paths = [_path(name) for name in names]
    if any(path is None for path in paths):
        return ALL_FIELDS
    return Fields.of(path for path in paths if path is not None)


def _path(name: str) -> tuple[str, ...] | None:
    """A name's path; None for ``*``."""
    if name == "*":
        return None
    if not name:
        raise FieldsError("empty field name (two commas in a row, or a comma at an end)")
    segments = tuple(name.split("."))
    for segment in segments:
        if not segment:
            raise FieldsError(f"empty segment in field path `{name}`")
        if _SEGMENT.fullmatch(segment) is None:
            bad = _SEGMENT.sub("", segment)[0]
            raise FieldsError(
                f"`{bad}` cannot be in a field name (letters, digits, `_`, `-`, `$`, `.`): `{name}`"
            )
    return segments


@dataclass(frozen=True, slots=True)
class Fields:
    """A selection of paths; ``paths`` None selects everything (`ALL`)."""

    paths: tuple[tuple[str, ...], ...] | None
    _tree: _Tree = field(init=False, compare=False, repr=False)

    ALL: ClassVar[Fields]

    def __post_init__(self) -> None:
        tree: _Tree = {}
        for path in self.paths or ():
            _add(tree, path)
        object.__setattr__(self, "_tree", tree)

    @classmethod
    def of(cls, paths: Iterable[Sequence[str]]) -> Fields:
        """The selection of ``paths`` (iterable of tuples of keys) and ``id`` and ``type``, in
        that order, without repeats nor paths inside others (``memory`` covers
        ``memory.actual``)."""
        chosen = [(key,) for key in ALWAYS] + [tuple(path) for path in paths]
        kept: list[tuple[str, ...]] = []
        for path in chosen:
            covered = any(path[: len(other)] == other for other in chosen if len(other) < len(path))
            if not covered and path not in kept:
                kept.append(path)
        return cls(tuple(kept))

    @property
    def is_all(self) -> bool:
        return self.paths is None

    def project(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A new dict with the selected paths of ``obj`` (``obj`` itself for `ALL`); values not
        trimmed are shared, not copied."""
        if self.paths is None:
            return obj
        projected = _project(obj, self._tree)
        assert isinstance(projected, dict)
        return projected

    def project_patch(self, patch: dict[str, Any]) -> dict[str, Any]:
        """The part of an RFC 7386 merge patch that the selection sees (``patch`` itself for
        `ALL`); it may hold empty objects (``{"memory": {}}``) when the patch changed only
        unselected keys."""
        if self.paths is None:
            return patch
        return _project_patch(patch, self._tree)

    def __str__(self) -> str:
        if self.paths is None:
            return "*"
        return ",".join(".".join(path) for path in self.paths)


def _add(tree: _Tree, path: tuple[str, ...]) -> None:
    *parents, last = path
    for key in parents:
        below = tree.setdefault(key, {})
        if below is None:  # the whole value is selected already
            return
        tree = below
    tree[last] = None


def _project(value: Any, tree: _Tree) -> Any:
    """``value`` trimmed to ``tree``, or `_ABSENT` when nothing of the tree can be in it."""
    # client objects are dicts, checked first: several times faster than the ABC's check
    if isinstance(value, (dict, Mapping)):
        out: dict[str, Any] = {}
        for key, below in tree.items():
            if key in value:
                item = value[key]
                if below is None:
                    out[key] = item
                else:
                    trimmed = _project(item, below)
                    if trimmed is not _ABSENT:
                        out[key] = trimmed
        return out
    if isinstance(value, list):
        items = []
        for item in value:
            if not isinstance(item, (dict, Mapping)):
                return _ABSENT
            items.append(_project(item, tree))
        return items
    return _ABSENT


def _project_patch(patch: Mapping[str, Any], tree: _Tree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, below in tree.items():
        if key not in patch:
            continue
        value = patch[key]
        if below is None or value is None:
            out[key] = value
        elif isinstance(value, Mapping):  # a nested patch
            out[key] = _project_patch(value, below)
        else:  # a new value, replacing whatever was there
            trimmed = _project(value, below)
            out[key] = None if trimmed is _ABSENT else trimmed
    return out


ALL_FIELDS = Fields(None)
Fields.ALL = ALL_FIELDS
