"""Which XAPI classes become client objects, and of which type.

*Primary* classes are projected as objects of their own; *secondary* ones (``vm_metrics``,
``vm_guest_metrics``, ``host_metrics``, ``pif_metrics``, ``console``, …) are only read, through
the lookup, by the translation of a primary object. A VM record gives one of four types and a VDI
one of two, from the record's own flags.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from xorca.projection.core.translate.storage import vdi_type
from xorca.projection.core.translate.vm import vm_type

__all__ = ["PRIMARY_CLASSES", "type_of"]


def _fixed(type_: str) -> Callable[[Mapping[str, object]], str]:
    return lambda _record: type_


_TYPE_OF: dict[str, Callable[[Mapping[str, object]], str]] = {
    "vm": vm_type,
    "vdi": vdi_type,
    **{cls: _fixed(cls) for cls in ("host", "pool", "sr", "vbd", "vif", "network", "pif", "pbd")},
    "task": _fixed("task"),
    "message": _fixed("message"),
}

#: the lowercase XAPI classes (as event.from names them) that are projected as objects
PRIMARY_CLASSES: frozenset[str] = frozenset(_TYPE_OF)


def type_of(cls: str, record: Mapping[str, object]) -> str | None:
    """The client type of a record of ``cls`` (any case), from the record alone; None when the
    class is not primary. A record that is not a mapping gives the class's plain type."""
    found = _TYPE_OF.get(cls.lower()) if isinstance(cls, str) else None
    if found is None:
        return None
    return found(record if isinstance(record, Mapping) else {})
