"""From a decoded call to a result, in the order xapi's generated dispatcher checks things
(``ocaml/idl/ocaml_backend/gen_server.ml``, ``ocaml/xapi/server_helpers.ml``,
``ocaml/xapi/session_check.ml``, all at xen-api e2ee48d6):

1. every parameter must be valid UTF-8, else ``INVALID_VALUE ["Invalid UTF-8 string in
   parameter", <Rpc.to_string of it>]``, before anything else;
2. an ``Async.`` (or ``InternalAsync.``) prefix is removed; what is left is the called name;
3. the name is matched against every method and its ``Class_message`` alias (`methods.table`);
4. the parameter count (``MESSAGE_PARAMETER_COUNT_MISMATCH``);
5. a removed message checks its session and answers ``MESSAGE_REMOVED``;
6. the arguments are unmarshalled (here: checked and coerced, `coerce`), then the session is
   checked: ``SESSION_INVALID``, then a pool-internal message refuses an ordinary session with
   ``INTERNAL_ERROR``, then a member refuses an ordinary session with ``HOST_IS_SLAVE``;
7. ``Async.`` of a message without an async form is the Fault "No async mode…";
8. the call runs, as a task for ``Async.`` (a message the simulator does not implement answers
   ``NOT_IMPLEMENTED [name]`` here, synchronously).

A name matching no method falls through to ``system.listMethods``, ``system.isAlive:*`` and, last,
the unknown-method path, which checks a session first when there is a parameter.

Protocol-independent: the servers decode XML-RPC or JSON-RPC and hand the method name and
parameters here. Fault injection (``pool.faults``, by called name) answers right after step 2,
for every name but ``system.listMethods``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from xorca.xapi.datamodel import (
    Enum,
    MapOf,
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
from xorca.xapi_sim.rpc import generic, methods
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import HANDLERS, Handler, load_all
from xorca.xapi_sim.state import tasks
from xorca.xapi_sim.state.pool import SessionState, SimPool

log = logging.getLogger(__name__)

#: server_helpers.ml sync_ty_and_maybe_remove_prefix: ``Async.`` first, then ``InternalAsync.``
#: (so ``Async_VM_start`` is no async call but an unknown name)
ASYNC_PREFIXES = ("Async.", "InternalAsync.")


async def call(pool: SimPool, host_ref: str, method: str, params: list[Value]) -> Value:
    """Run one API call as the host ``host_ref``; raises `XapiError` as xapi would answer."""
    load_all()
    if pool.faults.latency > 0:
        await asyncio.sleep(pool.faults.latency)
    check_utf8(params)
    name, sync = _without_async_prefix(method)
    table = methods.table(pool.db.dm)
    if name == "system.listMethods":
        return list_methods(pool)
    injected = pool.faults.fail_calls.get(name) or pool.faults.fail_calls.get("*")
    if injected:
        raise XapiError(injected[0], injected[1:])
    found = table.by_name.get(name)
    if found is None:
        return _unlisted(pool, host_ref, name, params)
    found.check_count(name, len(params))
    if found.removed:
        # gen_server.ml: a removed message unmarshals only its session and checks it
        if found.session:
            session_of(pool, host_ref, params, found)
        raise XapiError("MESSAGE_REMOVED", [])
    args = _arguments(pool, found, params)
    ctx = CallContext(pool=pool, host=host_ref, method=found.wire, is_async=not sync)
    if found.session:
        ctx.session = session_of(pool, host_ref, params, found)
    if not sync and not found.has_async:
        # server_helpers.ml do_dispatch, with the called name
        raise XapiError("Fault", [f"No async mode for this operation (rpc: {name})"])
    handler = HANDLERS.get(found.wire) or generic.handler_for(
        pool.db.dm.classes.get(found.cls), found
    )
    if handler is None:
        # the simulator's own answer (xapi implements them all), given at once even for
        # Async. so that callers such as content/activity.py can tell it from a failed task
        raise XapiError("NOT_IMPLEMENTED", [found.wire])
    if not sync:
        # the task is named after the call as it arrived (Context.of_http_req ~label)
        return start_async(ctx, handler, args, method)
    try:
        result: Value = await handler(ctx, *args)
    finally:
        # the hidden task of a synchronous call goes away with the call, as in xapi
        if ctx.task is not None and pool.db.exists("task", ctx.task):
            pool.db.destroy("task", ctx.task)
    return result if result is not None else ""


def list_methods(pool: SimPool) -> list[Value]:
    """``system.listMethods``: the synchronous wire name of every method, and nothing else
    (gen_server.ml lists the objects' messages; neither ``Async.`` names nor ``system.*``)."""
    return list(methods.table(pool.db.dm).names)


def _without_async_prefix(method: str) -> tuple[str, bool]:
    """The called name and whether the call is synchronous."""
    for prefix in ASYNC_PREFIXES:
        if method.startswith(prefix):
            return method[len(prefix) :], False
    return method, True


def _unlisted(pool: SimPool, host_ref: str, name: str, params: list[Value]) -> Value:
    """gen_server.ml's last branch, ``| func ->``, for a name that is no method."""
    # Scanf "system.isAlive:%s" matches any name with that prefix (%s may be empty); the answer
    # is the first parameter, and List.hd of none fails inside dispatch_exn_wrapper
    if name.startswith("system.isAlive:"):
        if not params:
            raise XapiError("INTERNAL_ERROR", ['Failure("hd")'])
        return params[0]
    # with a parameter, xapi takes it for a session (as Host.call_extension does) before
    # looking for an extension of that name, which it does not find
    if params:
        session_of(pool, host_ref, params, None)
    raise XapiError("MESSAGE_METHOD_UNKNOWN", [name])


def session_of(
    pool: SimPool, host_ref: str, params: list[Value], method: methods.Method | None
) -> SessionState:
    """session_check.ml ``check``: a local session of this host passes; else the session must
    exist (``SESSION_INVALID``), a pool-internal message needs a pool session (``INTERNAL_ERROR``)
    and a member serves only pool sessions (``HOST_IS_SLAVE``)."""
    # a hidden message of unknown arity called with no parameter at all: no session to check
    ref = params[0] if params else ""
    if pool.local_sessions:
        local = pool.local_sessions.get(ref) if isinstance(ref, str) else None
        if local is not None and local[0] == host_ref:
            local[1].last_active = time.time()
            return local[1]
    state = pool.check_session(ref)
    if not state.is_pool:
        if method is not None and method.pool_internal:
            message = (
                f'Internal API "{method.wire}" call attempted with non-pool (external) session'
            )
            raise XapiError("INTERNAL_ERROR", [message])
        if not pool.is_master(host_ref):
            raise XapiError("HOST_IS_SLAVE", [pool.address_of(pool.master_ref)])
    return state


def _arguments(pool: SimPool, method: methods.Method, params: list[Value]) -> list[Any]:
    """The arguments after the session, coerced to their declared types; beyond the declared
    parameters they are dropped (gen_server.ml reads defaulted ones from ``default_args`` by
    position and ignores the rest). Unknown parameter lists pass the arguments unchecked."""
    given = params[1:] if method.session else params
    if method.params is None:
        return given
    return [coerce(pool, p.type, v, p.name) for p, v in zip(method.params, given, strict=False)]


def start_async(
    ctx: CallContext, handler: Handler, args: list[Value], label: str | None = None
) -> str:
    """Run ``handler`` as a task named ``label`` (the call as made; ``Async.<wire>`` if None)."""
    pool = ctx.pool
    task_ref = tasks.create_task(pool, label or f"Async.{ctx.method}", ctx.host)
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


# ---- UTF-8 -----------------------------------------------------------------------------------


def check_utf8(params: list[Value]) -> None:
    """gen_server.ml ``dispatch_call``: ``Utf8.is_valid (Rpc.to_string p)`` for each parameter.

    The codecs hand over Python strings, so the only invalid UTF-8 that reaches here is a lone
    surrogate (a JSON ``\\ud800`` escape; xapi's JSON parser writes it as the invalid bytes
    ED A0 80). Keys of structs count, as ``Rpc.to_string`` prints them too.
    """
    for p in params:
        if not _valid(p):
            raise XapiError("INVALID_VALUE", ["Invalid UTF-8 string in parameter", rpc_text(p)])


def _valid(value: Value) -> bool:
    pending = [value]
    while pending:
        v = pending.pop()
        if isinstance(v, str):
            if not v.isascii() and not _encodable(v):
                return False
        elif isinstance(v, list):
            pending.extend(v)
        elif isinstance(v, dict):
            for k, item in v.items():
                if not k.isascii() and not _encodable(k):
                    return False
                pending.append(item)
    return True


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def rpc_text(value: Value) -> str:
    """ocaml-rpc's ``Rpc.to_string``: ``S(text)``, ``I(1)``, ``B(true)``, ``F(%g)``, ``D(…)``,
    ``[a;b]``, ``{k:v;…}`` (explicit stack: parameters may nest deeply)."""
    out: list[str] = []
    pending: list[tuple[bool, Value]] = [(False, value)]  # (already text, value)
    while pending:
        literal, v = pending.pop()
        if literal:
            out.append(str(v))
        elif isinstance(v, bool):
            out.append("B(true)" if v else "B(false)")
        elif isinstance(v, int):
            out.append(f"I({v})")
        elif isinstance(v, float):
            out.append("F(%g)" % v)  # noqa: UP031 - C's %g, as OCaml's Printf
        elif isinstance(v, DateTime):
            out.append(f"D({v})")
        elif isinstance(v, str):
            out.append(f"S({v})")
        elif isinstance(v, list):
            pending.append((True, "]"))
            for i, item in enumerate(reversed(v)):
                pending.append((False, item))
                if i < len(v) - 1:
                    pending.append((True, ";"))
            pending.append((True, "["))
        else:
            pending.append((True, "}"))
            items = list(v.items())
            for i, (k, item) in enumerate(reversed(items)):
                pending.append((False, item))
                pending.append((True, f"{k}:"))
                if i < len(items) - 1:
                    pending.append((True, ";"))
            pending.append((True, "{"))
    return "".join(out)


# ---- coercion --------------------------------------------------------------------------------


def coerce(pool: SimPool, t: Type, value: Value, name: str) -> Any:
    """Check ``value`` against a datamodel type, leniently as xapi reads its input (XAPI.md §1)."""
    match t:
        case Prim("string"):
            if isinstance(value, str):
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
