"""The projection's pure core: raw XAPI records in, client objects out (docs/objects.md).

`translate` turns the record of a *primary* class (vm, host, pool, sr, vdi, vbd, vif, network,
pif, pbd, task, message) into the object clients see, reading the records it links to only
through the caller's `Lookup`: the caller records every ref looked up and translates the object
again when one of them changes. Records of other classes give ``None``.

A translation never fails on an imperfect record: a field that is missing or of the wrong type is
left out of the object, and a link to nothing is no link. Only a record that cannot be an object
at all (not a mapping, no uuid) raises `TranslationError`, the one exception that comes out of
here; should a translator itself trip over a record in an unforeseen way, that too becomes a
`TranslationError` (with the cause chained), so that the projection dead-letters the message
instead of stopping. What the lookup raises goes through untouched: it is the caller's own.

Objects hold JSON-ready values only and never ``None`` (values.compact), and the same inputs
always give equal objects (lists that are sets in XAPI are sorted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from xorca.projection.core.records import ClientObject, Lookup, Raw
from xorca.projection.core.translate.context import Context
from xorca.projection.core.translate.errors import TranslationError
from xorca.projection.core.translate.fields import get_str
from xorca.projection.core.translate.host import translate_host, translate_pool
from xorca.projection.core.translate.kinds import PRIMARY_CLASSES, type_of
from xorca.projection.core.translate.message import translate_message
from xorca.projection.core.translate.network import translate_network, translate_pif, translate_vif
from xorca.projection.core.translate.status import pool_status
from xorca.projection.core.translate.storage import (
    translate_pbd,
    translate_sr,
    translate_vbd,
    translate_vdi,
)
from xorca.projection.core.translate.task import translate_task
from xorca.projection.core.translate.values import compact
from xorca.projection.core.translate.vm import translate_vm

__all__ = ["PRIMARY_CLASSES", "TranslationError", "pool_status", "translate", "type_of"]

_TRANSLATORS: dict[str, Callable[[Context], dict[str, object]]] = {
    "vm": translate_vm,
    "host": translate_host,
    "pool": translate_pool,
    "sr": translate_sr,
    "vdi": translate_vdi,
    "vbd": translate_vbd,
    "pbd": translate_pbd,
    "vif": translate_vif,
    "network": translate_network,
    "pif": translate_pif,
    "task": translate_task,
    "message": translate_message,
}
assert frozenset(_TRANSLATORS) == PRIMARY_CLASSES


def translate(raw: Raw, lookup: Lookup, link: Lookup | None = None) -> ClientObject | None:
    """The client object ``raw`` gives, or None if its class is not projected.

    ``lookup`` gives the linked records the translation reads; ``link`` (``lookup`` when not
    given) those it only names by uuid (`Context.link`): a uuid never changes, so the caller
    need not translate again when such a record changes, only when it appears or goes."""
    cls = raw.cls.lower()
    translator = _TRANSLATORS.get(cls)
    if translator is None:
        return None
    record: object = raw.record
    if not isinstance(record, Mapping):
        raise TranslationError(cls, raw.ref, f"the record is a {type(record).__name__}")
    uuid = raw.uuid or get_str(record, "uuid")
    if not uuid:
        raise TranslationError(cls, raw.ref, "the record has no uuid")
    type_ = type_of(cls, record)
    assert type_ is not None  # every class with a translator has a type
    ctx = Context(raw, lookup, record, uuid, type_, link=link)
    try:
        data = compact(translator(ctx))
    except Exception as e:
        if e is ctx.failure:
            raise
        raise TranslationError(cls, raw.ref, f"unexpected {type(e).__name__}: {e}") from e
    return ClientObject(type_, uuid, raw.pool, data)
