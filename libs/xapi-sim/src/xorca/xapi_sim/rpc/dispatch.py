"""From a decoded call to a result: name resolution, session and master checks, parameter count,
lenient coercion to the datamodel's types, faults, ``Async.*`` tasks. Protocol-independent: the
servers decode XML-RPC or JSON-RPC and hand the method name and parameters here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from xorca.xapi.datamodel import (
    ClassDef,
    Enum,
    MapOf,
    MessageDef,
    OptionOf,
    Prim,
    RecordOf,
    Ref,
    SetOf,
    Type,
    enum_values,
)
from xorca.xapi.errors import XapiError
from xorca.xapi.values import DateTime, Value
from xorca.xapi_sim.rpc import generic
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import HANDLERS, NO_ASYNC_CLASSES, Handler, load_all
from xorca.xapi_sim.state import tasks
from xorca.xapi_sim.state.pool import SimPool

log = logging.getLogger(__name__)

#: calls that work without a session, and on a member host (they answer HOST_IS_SLAVE themselves)
SESSIONLESS = frozenset({"session.login_with_password", "session.slave_local_login_with_password"})


def resolve(pool: SimPool, name: str) -> tuple[ClassDef, MessageDef]:
    """``VM.start`` or its alias ``VM_start`` to the datamodel's class and message."""
    classes = pool.db.dm.classes
    cls, dot, msg = name.partition(".")
    if dot and cls in classes and msg in classes[cls].messages:
        return classes[cls], classes[cls].messages[msg]
    if not dot:
        # Class_message: the longest class name that prefixes the wire name wins
        for cname in sorted(classes, key=len, reverse=True):
            if name.startswith(cname + "_"):
                msg = name[len(cname) + 1 :]
                if msg in classes[cname].messages:
                    return classes[cname], classes[cname].messages[msg]
    raise XapiError("MESSAGE_METHOD_UNKNOWN", [name])


def list_methods(pool: SimPool) -> list[Value]:
    """``system.listMethods``: every wire name, synchronous and ``Async.``."""
    names: list[Value] = ["system.listMethods"]
    for cdef in pool.db.dm.classes.values():
        for mdef in cdef.messages.values():
            names.append(mdef.wire_name)
            if async_allowed(mdef):
                names.append(f"Async.{mdef.wire_name}")
    return names


def async_allowed(mdef: MessageDef) -> bool:
    if mdef.cls in NO_ASYNC_CLASSES:
        return False
    return not (mdef.implicit and mdef.name not in ("create", "destroy"))


async def call(pool: SimPool, host_ref: str, method: str, params: list[Value]) -> Value:
    """Run one API call as the host ``host_ref``; raises `XapiError` as xapi would answer."""
    load_all()
    if pool.faults.latency > 0:
        await asyncio.sleep(pool.faults.latency)
    is_async = method.startswith("Async.")
    name = method[len("Async.") :] if is_async else method
    if name == "system.listMethods":
        return list_methods(pool)
    injected = pool.faults.fail_calls.get(name) or pool.faults.fail_calls.get("*")
    if injected:
        raise XapiError(injected[0], injected[1:])
    cdef, mdef = resolve(pool, name)
    wire = mdef.wire_name
    check_arity(mdef, wire, params)
    ctx = CallContext(pool=pool, host=host_ref, method=wire, is_async=is_async)
    if mdef.takes_session and wire not in SESSIONLESS:
        ctx.session = pool.check_session(params[0])
        if not pool.is_master(host_ref) and not ctx.session.is_pool:
            raise XapiError("HOST_IS_SLAVE", [pool.address_of(pool.master_ref)])
    args = [
        coerce(pool, p.type, value, p.name)
        for p, value in zip(
            mdef.params[1 if mdef.takes_session else 0 :],
            _after_session(mdef, params),
            strict=False,
        )
    ]
    handler = HANDLERS.get(wire) or generic.handler_for(cdef, mdef)
    if handler is None:
        raise XapiError("NOT_IMPLEMENTED", [wire])
    if is_async:
        if not async_allowed(mdef):
            raise XapiError("Fault", [f"No async mode for this operation (rpc: {wire})"])
        return start_async(ctx, handler, args)
    try:
        result: Value = await handler(ctx, *args)
    finally:
        # the hidden task of a synchronous call goes away with the call, as in xapi
        if ctx.task is not None and pool.db.exists("task", ctx.task):
            pool.db.destroy("task", ctx.task)
    return result if result is not None else ""


def _after_session(mdef: MessageDef, params: list[Value]) -> list[Value]:
    return params[1:] if mdef.takes_session else params


def check_arity(mdef: MessageDef, wire: str, params: list[Value]) -> None:
    declared = len(mdef.params)
    required = declared
    while required > 0 and not mdef.params[required - 1].required:
        required -= 1
    if not required <= len(params) <= declared:
        raise XapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", [wire, declared, len(params)])


def start_async(ctx: CallContext, handler: Handler, args: list[Value]) -> str:
    pool = ctx.pool
    task_ref = tasks.create_task(pool, f"Async.{ctx.method}", ctx.host)
    ctx.task = task_ref

    async def run() -> None:
        try:
            result = await handler(ctx, *args)
            tasks.succeed(pool, task_ref, result if result is not None else "")
        except XapiError as e:
            tasks.fail(pool, task_ref, e)
        except asyncio.CancelledError:
            tasks.fail(pool, task_ref, XapiError("TASK_CANCELLED", [task_ref]))
            raise
        except Exception as e:  # a bug in a handler must fail its task, not vanish
            log.exception("async %s failed", ctx.method)
            tasks.fail(pool, task_ref, XapiError("INTERNAL_ERROR", [repr(e)]))
        finally:
            pool.running.pop(task_ref, None)

    pool.running[task_ref] = asyncio.get_running_loop().create_task(run())
    return task_ref


# ---- coercion --------------------------------------------------------------------------------


def coerce(pool: SimPool, t: Type, value: Value, name: str) -> Any:
    """Check ``value`` against a datamodel type, leniently as xapi reads its input (XAPI.md §1)."""
    match t:
        case Prim("string"):
            if isinstance(value, str):
                _check_utf8(value, name)
                return str(value)
        case Prim("int"):
            if isinstance(value, int) and not isinstance(value, bool):
                return int(value)
            if isinstance(value, str):
                try:
                    return int(value.strip())
                except ValueError:
                    pass
        case Prim("float"):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
        case Prim("bool"):
            if isinstance(value, bool):
                return value
        case Prim("datetime"):
            if isinstance(value, str):
                return DateTime(value)
        case Ref():
            if isinstance(value, str):
                _check_utf8(value, name)
                return str(value)
        case Enum(ename):
            if isinstance(value, str):
                if value in enum_values(ename):
                    return str(value)
                lowered = {v.lower(): v for v in enum_values(ename)}
                if value.lower() in lowered:
                    return lowered[value.lower()]
                raise XapiError("INVALID_VALUE", [name, value])
        case SetOf(item):
            if isinstance(value, list):
                return [coerce(pool, item, v, name) for v in value]
        case MapOf(key, val):
            if isinstance(value, dict):
                return {
                    str(coerce(pool, key, k, name)): coerce(pool, val, v, name)
                    for k, v in value.items()
                }
        case RecordOf(cls):
            if isinstance(value, dict):
                return coerce_record(pool, cls, value)
        case OptionOf(inner):
            if isinstance(value, list):
                return [coerce(pool, inner, v, name) for v in value]
            return coerce(pool, inner, value, name)
    raise XapiError("FIELD_TYPE_ERROR", [name])


def coerce_record(pool: SimPool, cls: str, value: dict[str, Value]) -> dict[str, Value]:
    """A constructor's record argument: known fields coerced, unknown ones ignored (as xapi)."""
    cdef = pool.db.dm.classes.get(cls)
    if cdef is None:
        return dict(value)
    out: dict[str, Value] = {}
    for key, v in value.items():
        fdef = cdef.fields.get(key)
        if fdef is not None:
            out[key] = coerce(pool, fdef.type, v, key)
    return out


def _check_utf8(text: str, name: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise XapiError("INVALID_VALUE", [name, text.encode("utf-8", "replace").decode()]) from None
