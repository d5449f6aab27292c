"""The messages every class has, implemented once from the datamodel: ``get_all``,
``get_all_records``, ``get_record``, ``get_by_uuid``, ``get_by_name_label``, field getters, ``set_``
for RW fields, ``add_to_``/``remove_from_`` for maps, ``add_``/``remove_`` for sets, and the
implicit ``create``/``destroy``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from xorca.xapi.datamodel import ClassDef, MessageDef
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.rpc.context import CallContext

Generic = Callable[..., Awaitable[Any]]


def handler_for(cdef: ClassDef, mdef: MessageDef) -> Generic | None:
    """The generic implementation of ``mdef``, if it has one.

    Field messages that the datamodel declares explicitly (``VM.add_to_other_config`` validates
    keys in xapi) fall back to the generic behaviour too, unless a handler was registered.
    """
    cls, name = cdef.name, mdef.name
    fields = cdef.fields
    for prefix, make in _FIELD_MESSAGES:
        if name.startswith(prefix) and name[len(prefix) :] in fields:
            return make(cls, name[len(prefix) :])
    if not mdef.implicit:
        return None

    if name == "get_all":

        async def get_all(ctx: CallContext) -> Value:
            return ctx.db.refs(cls)  # type: ignore[return-value]

        return get_all
    if name == "get_all_records":

        async def get_all_records(ctx: CallContext) -> Value:
            return dict(ctx.db.records(cls))

        return get_all_records
    if name == "get_record":

        async def get_record(ctx: CallContext, ref: str) -> Value:
            return ctx.db.get(cls, ref)

        return get_record
    if name == "get_by_uuid":

        async def get_by_uuid(ctx: CallContext, uuid: str) -> Value:
            return ctx.db.by_uuid_ref(cls, uuid)

        return get_by_uuid
    if name == "get_by_name_label":

        async def get_by_name_label(ctx: CallContext, label: str) -> Value:
            return ctx.db.find(cls, name_label=label)  # type: ignore[return-value]

        return get_by_name_label
    if name == "create":

        async def create(ctx: CallContext, record: dict[str, Value]) -> Value:
            return ctx.db.create(cls, None, **record)

        return create
    if name == "destroy":

        async def destroy(ctx: CallContext, ref: str) -> Value:
            ctx.db.destroy(cls, ref)
            return ""

        return destroy
    return None


def _getter(cls: str, field: str) -> Generic:
    async def get(ctx: CallContext, ref: str) -> Value:
        return ctx.db.field(cls, ref, field)

    return get


def _setter(cls: str, field: str) -> Generic:
    async def set_(ctx: CallContext, ref: str, value: Value) -> Value:
        ctx.db.update(cls, ref, **{field: value})
        return ""

    return set_


def _map_add(cls: str, field: str) -> Generic:
    async def add_to(ctx: CallContext, ref: str, key: str, value: Value) -> Value:
        current = ctx.db.field(cls, ref, field)
        assert isinstance(current, dict)
        if key in current:
            uuid = ctx.db.get(cls, ref).get("uuid", "")
            raise XapiError("MAP_DUPLICATE_KEY", [cls, field, uuid, key])
        ctx.db.update(cls, ref, **{field: {**current, key: value}})
        return ""

    return add_to


def _map_remove(cls: str, field: str) -> Generic:
    async def remove_from(ctx: CallContext, ref: str, key: str) -> Value:
        current = ctx.db.field(cls, ref, field)
        assert isinstance(current, dict)
        if key in current:
            ctx.db.update(cls, ref, **{field: {k: v for k, v in current.items() if k != key}})
        return ""

    return remove_from


def _set_add(cls: str, field: str) -> Generic:
    async def add(ctx: CallContext, ref: str, value: Value) -> Value:
        current = ctx.db.field(cls, ref, field)
        assert isinstance(current, list)
        if value not in current:
            ctx.db.update(cls, ref, **{field: [*current, value]})
        return ""

    return add


def _set_remove(cls: str, field: str) -> Generic:
    async def remove(ctx: CallContext, ref: str, value: Value) -> Value:
        current = ctx.db.field(cls, ref, field)
        assert isinstance(current, list)
        if value in current:
            ctx.db.update(cls, ref, **{field: [v for v in current if v != value]})
        return ""

    return remove


# order matters: "remove_from_" before "remove_", "add_to_" before "add_"
_FIELD_MESSAGES: list[tuple[str, Callable[[str, str], Generic]]] = [
    ("get_", _getter),
    ("set_", _setter),
    ("add_to_", _map_add),
    ("remove_from_", _map_remove),
    ("add_", _set_add),
    ("remove_", _set_remove),
]
