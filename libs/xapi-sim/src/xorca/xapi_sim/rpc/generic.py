"""The messages every class has, implemented once from the datamodel: ``get_all``,
``get_all_records``, ``get_all_where`` and ``get_all_records_where`` (the filter language of
``where.py``), ``get_record``, ``get_by_uuid``, ``get_by_name_label``, field getters, ``set_``
for RW fields, ``add_to_``/``remove_from_`` for maps, ``add_``/``remove_`` for sets, and the
implicit ``create``/``destroy``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from xorca.xapi.datamodel import ClassDef
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.rpc import where
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.methods import DB_SETTERS, Method

Generic = Callable[..., Awaitable[Any]]

#: the kinds (methods.tsv) of the messages generated for a class's fields
_FIELD_KINDS = frozenset({"getter", "setter", "add", "remove"})


def handler_for(cdef: ClassDef | None, method: Method) -> Generic | None:
    """The generic implementation of ``method``, if it has one.

    Field messages that the datamodel declares explicitly (``VM.add_to_other_config`` validates
    keys in xapi) fall back to the generic behaviour too, unless a handler was registered; of the
    hidden ones, only those xapi implements as the bare database setter (`DB_SETTERS`).
    """
    if cdef is None:  # a class outside the database (Diagnostics)
        return None
    cls, name, kind = cdef.name, method.name, method.kind
    custom = kind == "custom" and (method.message is not None or method.wire in DB_SETTERS)
    if kind in _FIELD_KINDS or custom:
        fields = cdef.fields
        for prefix, make, arity in _FIELD_MESSAGES:
            if name.startswith(prefix) and name[len(prefix) :] in fields:
                # a custom message only when it takes what the generic one does
                # (not pool.set_vswitch_controller(address), nor subject.add_to_roles(self, role))
                if custom and (method.params is None or len(method.params) != arity):
                    continue
                return make(cls, name[len(prefix) :])
        return None
    make_generic = _OBJECT_MESSAGES.get(kind)
    return make_generic(cls) if make_generic is not None else None


def _get_all(cls: str) -> Generic:
    async def get_all(ctx: CallContext) -> Value:
        return ctx.db.refs(cls)  # type: ignore[return-value]

    return get_all


def _get_all_records(cls: str) -> Generic:
    async def get_all_records(ctx: CallContext) -> Value:
        return dict(ctx.db.records(cls))

    return get_all_records


def _get_all_where(cls: str) -> Generic:
    async def get_all_where(ctx: CallContext, expr: str) -> Value:
        return [ref for ref, _ in _matching(ctx, cls, expr)]

    return get_all_where


def _get_all_records_where(cls: str) -> Generic:
    async def get_all_records_where(ctx: CallContext, expr: str) -> Value:
        return dict(_matching(ctx, cls, expr))

    return get_all_records_where


def _matching(ctx: CallContext, cls: str, expr: str) -> list[tuple[str, dict[str, Value]]]:
    """The rows of ``cls`` that ``expr`` selects (db_cache_impl.ml find_refs_with_filter)."""
    tree = where.parse(expr)
    columns = where.columns(ctx.db.dm, cls)
    try:
        return [
            (ref, record)
            for ref, record in ctx.db.records(cls)
            if where.evaluate(tree, where.row_lookup(columns, ref, record))
        ]
    except where.MissingField as e:
        raise e.xapi_error() from None


def _get_record(cls: str) -> Generic:
    async def get_record(ctx: CallContext, ref: str) -> Value:
        return ctx.db.get(cls, ref)

    return get_record


def _get_by_uuid(cls: str) -> Generic:
    async def get_by_uuid(ctx: CallContext, uuid: str) -> Value:
        return ctx.db.by_uuid_ref(cls, uuid)

    return get_by_uuid


def _get_by_name_label(cls: str) -> Generic:
    async def get_by_name_label(ctx: CallContext, label: str) -> Value:
        return ctx.db.find(cls, name_label=label)  # type: ignore[return-value]

    return get_by_name_label


def _create(cls: str) -> Generic:
    async def create(ctx: CallContext, record: dict[str, Value]) -> Value:
        return ctx.db.create(cls, None, **record)

    return create


def _destroy(cls: str) -> Generic:
    async def destroy(ctx: CallContext, ref: str) -> Value:
        ctx.db.destroy(cls, ref)
        return ""

    return destroy


#: kind (methods.tsv) -> the generic implementation of that object message
_OBJECT_MESSAGES: dict[str, Callable[[str], Generic]] = {
    "get_all": _get_all,
    "get_all_records": _get_all_records,
    "get_all_where": _get_all_where,
    "get_all_records_where": _get_all_records_where,
    "get_record": _get_record,
    "get_by_uuid": _get_by_uuid,
    "get_by_label": _get_by_name_label,
    "make": _create,
    "delete": _destroy,
}


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


# (prefix, implementation, parameters after the session); order matters: "remove_from_" before
# "remove_", "add_to_" before "add_"
_FIELD_MESSAGES: list[tuple[str, Callable[[str, str], Generic], int]] = [
    ("get_", _getter, 1),
    ("set_", _setter, 2),
    ("add_to_", _map_add, 3),
    ("remove_from_", _map_remove, 2),
    ("add_", _set_add, 2),
    ("remove_", _set_remove, 2),
]
