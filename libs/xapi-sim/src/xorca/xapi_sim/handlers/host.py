"""``host.*`` beyond the generic getters: maintenance mode, evacuation, reboot and shutdown, time,
memory accounting, the management interface and a few housekeeping calls a manager makes.

The rules are xapi's (``xapi_host.ml``, ``xapi_host_helpers.ml``), because a manager's maintenance
workflow is built on them: disable, then evacuate, then reboot.

- ``reboot``/``shutdown`` need "maintenance mode": the host disabled (``HOST_NOT_DISABLED []``) and
  no running guest (``HOST_IN_USE [host, "vm", vm]``).
- Like xapi they return at once. A "Host is rebooting" task sits in ``current_operations`` while
  the host goes down (``host_metrics.live`` false) and, for a reboot, comes back, re-enabled unless
  ``host.disable(auto_enable=false)`` said otherwise.
- Calls xapi forwards to the host itself fail with ``HOST_OFFLINE [host]`` while it is down.
- ``evacuate`` plans like xapi (``handlers.pool.evacuation_plan``) and moves each VM with
  ``VM.pool_migrate`` through the dispatcher, in batches, so the VM handlers' rules apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import weakref
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from xorca.xapi.datamodel import NULL_REF, enum_values
from xorca.xapi.errors import XapiError
from xorca.xapi.values import DateTime, Value
from xorca.xapi_sim.handlers.pool import (
    as_map,
    as_refs,
    evacuation_plan,
    guests_of,
    is_live,
)
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state import tasks
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.state.pool import SimPool
from xorca.xapi_sim.vm import placement

#: operations that bring VMs onto a host, and those that take them away (xapi_host_helpers.ml)
_CREATING = ("provision", "vm_resume", "vm_migrate")
_REMOVING = ("evacuate", "reboot", "shutdown")
#: operations that take the host itself away; none may overlap another
_POWER = ("reboot", "shutdown", "apply_updates")
#: xapi migrates this many VMs at once when ``evacuate_batch_size`` is 0
DEFAULT_EVACUATE_BATCH = 10
#: hosts disabled with ``auto_enable=false``: they stay disabled across a reboot
_STAY_DISABLED: weakref.WeakKeyDictionary[SimPool, set[str]] = weakref.WeakKeyDictionary()
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


# ---- state helpers (also useful to other handlers) -------------------------------------------


def set_live(pool: SimPool, host: str, live: bool) -> None:
    metrics = str(pool.db.field("host", host, "metrics"))
    if pool.db.exists("host_metrics", metrics):
        pool.db.update("host_metrics", metrics, live=live, last_updated=pool.now())


def assert_reachable(db: Database, host: str) -> None:
    """What a call forwarded to ``host`` meets when the host is down."""
    if not is_live(db, host):
        raise XapiError("HOST_OFFLINE", [host])


def operation_errors(db: Database, host: str) -> dict[str, XapiError | None]:
    """Each host operation mapped to the error that forbids it now (xapi ``valid_operations``)."""
    rec = db.get("host", host)
    current = as_map(rec["current_operations"])
    table: dict[str, XapiError | None] = dict.fromkeys(enum_values("host_allowed_operations"))

    def forbid(code: str, params: list[str], ops: tuple[str, ...]) -> None:
        for op in ops:
            if op in table and table[op] is None:  # the first reason found is the one reported
                table[op] = XapiError(code, params)

    for task, op in current.items():
        busy = ["host", host, op, task]
        if op in _REMOVING:
            forbid("OTHER_OPERATION_IN_PROGRESS", busy, _CREATING)
        if op in _CREATING:
            forbid("OTHER_OPERATION_IN_PROGRESS", busy, _REMOVING)
        if op in _POWER:
            forbid("OTHER_OPERATION_IN_PROGRESS", busy, (*_POWER, "enable"))
    if rec["enabled"]:
        forbid("HOST_NOT_DISABLED", [], _POWER)
    if is_live(db, host):
        forbid("HOST_IS_LIVE", [host], ("power_on",))
    if not rec["power_on_mode"]:
        forbid("HOST_POWER_ON_MODE_DISABLED", [], ("power_on",))
    return table


def refresh_operations(db: Database, host: str) -> None:
    allowed: list[Value] = [op for op, err in operation_errors(db, host).items() if err is None]
    db.update("host", host, allowed_operations=allowed)


def _assert_operation(db: Database, host: str, op: str) -> None:
    error = operation_errors(db, host).get(op)
    if error is not None:
        raise error


def _set_operation(db: Database, host: str, task: str, op: str | None) -> None:
    current = as_map(db.field("host", host, "current_operations"))
    if op is None:
        current.pop(task, None)
    else:
        current[task] = op
    db.update("host", host, current_operations=dict(current))
    refresh_operations(db, host)


# ---- evacuation --------------------------------------------------------------------------------


@api("host.get_vms_which_prevent_evacuation")
async def get_vms_which_prevent_evacuation(ctx: CallContext, host: str) -> Value:
    ctx.db.row("host", host)
    _, errors = evacuation_plan(ctx.db, host)
    return {vm: list[Value](e.description) for vm, e in errors.items()}


@api("host.assert_can_evacuate")
async def assert_can_evacuate(ctx: CallContext, host: str) -> Value:
    ctx.db.row("host", host)
    _, errors = evacuation_plan(ctx.db, host)
    if errors:
        joined = "|".join(",".join(e.description) for e in errors.values())
        raise XapiError("CANNOT_EVACUATE_HOST", [joined])
    return ""


@api("host.get_uncooperative_resident_VMs")
async def get_uncooperative_resident_vms(ctx: CallContext, host: str) -> Value:
    ctx.db.row("host", host)
    return []


@api("host.evacuate")
async def evacuate(
    ctx: CallContext, host: str, network: str = NULL_REF, evacuate_batch_size: int = 0
) -> Value:
    db, pool = ctx.db, ctx.pool
    assert_reachable(db, host)
    _assert_operation(db, host, "evacuate")
    plan, errors = evacuation_plan(db, host)
    if errors:
        raise next(iter(errors.values()))
    assert ctx.session is not None
    task = ctx.ensure_task()
    _set_operation(db, host, task, "evacuate")
    try:
        moves = list(plan.items())
        batch = evacuate_batch_size if evacuate_batch_size > 0 else DEFAULT_EVACUATE_BATCH
        for start in range(0, len(moves), batch):
            tasks.check_cancelled(pool, task)
            chunk = moves[start : start + batch]
            results = await asyncio.gather(
                *(
                    dispatch.call(
                        pool,
                        ctx.host,
                        "VM.pool_migrate",
                        [ctx.session.ref, vm, to, {"live": "true"}],
                    )
                    for vm, to in chunk
                ),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            tasks.set_progress(pool, task, (start + len(chunk)) / len(moves) * 0.99)
    finally:
        if db.exists("host", host):
            _set_operation(db, host, task, None)
    return ""


# ---- maintenance mode, reboot, shutdown, power on ----------------------------------------------


@api("host.disable")
async def disable(ctx: CallContext, host: str, auto_enable: bool = True) -> Value:
    assert_reachable(ctx.db, host)
    ctx.db.update("host", host, enabled=False)
    stay = _STAY_DISABLED.setdefault(ctx.pool, set())
    if auto_enable:
        stay.discard(host)
    else:
        stay.add(host)
    refresh_operations(ctx.db, host)
    return ""


@api("host.enable")
async def enable(ctx: CallContext, host: str) -> Value:
    assert_reachable(ctx.db, host)
    _assert_operation(ctx.db, host, "enable")
    ctx.db.update("host", host, enabled=True)
    _STAY_DISABLED.get(ctx.pool, set()).discard(host)
    refresh_operations(ctx.db, host)
    return ""


def _assert_maintenance_mode(db: Database, host: str, op: str) -> None:
    """xapi's ``assert_bacon_mode``: disabled, no running guest, no disk plugged into dom0."""
    _assert_operation(db, host, op)
    for vm in guests_of(db, host):
        if db.field("VM", vm, "power_state") == "Running":
            raise XapiError("HOST_IN_USE", [host, "vm", vm])
    for vm in db.find("VM", resident_on=host, is_control_domain=True):
        for vbd in as_refs(db.field("VM", vm, "VBDs")):
            if db.field("VBD", vbd, "currently_attached"):
                raise XapiError("HOST_IN_USE", [host, "vbd", vbd])


def _go_down(ctx: CallContext, host: str, op: str, label: str) -> None:
    """Start the background part of a reboot or shutdown, tracked by a task of its own."""
    pool, db = ctx.pool, ctx.db
    task = tasks.create_task(pool, label, host, cancellable=False)
    db.update("task", task, name_description=label, subtask_of=ctx.task or NULL_REF)
    _set_operation(db, host, task, op)
    seconds = pool.config.operation_seconds

    async def cycle() -> None:
        try:
            await asyncio.sleep(seconds / 10)  # xapi lets the API call return first
            set_live(pool, host, False)
            await asyncio.sleep(seconds)
            if op == "reboot" and db.exists("host", host):
                set_live(pool, host, True)
                stay = host in _STAY_DISABLED.get(pool, set())
                db.update("host", host, enabled=not stay)
            tasks.succeed(pool, task, "")
        finally:
            if db.exists("host", host):
                _set_operation(db, host, task, None)
            pool.running.pop(task, None)

    pool.running[task] = asyncio.get_running_loop().create_task(cycle())


@api("host.reboot")
async def reboot(ctx: CallContext, host: str) -> Value:
    assert_reachable(ctx.db, host)
    _assert_maintenance_mode(ctx.db, host, "reboot")
    _go_down(ctx, host, "reboot", "Host is rebooting")
    return ""


@api("host.shutdown")
async def shutdown(ctx: CallContext, host: str) -> Value:
    assert_reachable(ctx.db, host)
    _assert_maintenance_mode(ctx.db, host, "shutdown")
    _go_down(ctx, host, "shutdown", "Host is shutting down")
    return ""


@api("host.power_on")
async def power_on(ctx: CallContext, host: str) -> Value:
    _assert_operation(ctx.db, host, "power_on")
    await ctx.work()
    set_live(ctx.pool, host, True)
    stay = host in _STAY_DISABLED.get(ctx.pool, set())
    ctx.db.update("host", host, enabled=not stay)
    refresh_operations(ctx.db, host)
    return ""


@api("host.destroy")
async def destroy(ctx: CallContext, host: str) -> Value:
    """Forget a dead member: refused while it is live, for the master, or with guests on it."""
    db = ctx.db
    db.row("host", host)
    if is_live(db, host):
        raise XapiError("HOST_IS_LIVE", [host])
    if ctx.pool.is_master(host):
        raise XapiError("HOST_CANNOT_DESTROY_SELF", [host])
    if guests_of(db, host):
        raise XapiError("HOST_HAS_RESIDENT_VMS", [host])
    rec = db.get("host", host)
    for cls, refs in (
        ("VM", db.find("VM", resident_on=host, is_control_domain=True)),
        ("PBD", as_refs(rec["PBDs"])),
        ("PIF", as_refs(rec["PIFs"])),
        ("host_CPU", as_refs(rec["host_CPUs"])),
    ):
        for ref in refs:
            if db.exists(cls, ref):
                db.destroy(cls, ref)
    db.destroy("host", host)
    if db.exists("host_metrics", str(rec["metrics"])):
        db.destroy("host_metrics", str(rec["metrics"]))
    return ""


# ---- time, memory, identity ----------------------------------------------------------------


@api("host.get_servertime")
async def get_servertime(ctx: CallContext, host: str) -> Value:
    assert_reachable(ctx.db, host)
    return ctx.pool.now()


@api("host.get_server_localtime")
async def get_server_localtime(ctx: CallContext, host: str) -> Value:
    """Local time in the host's timezone, without the ``Z`` (as xapi prints it)."""
    assert_reachable(ctx.db, host)
    zone: tzinfo = UTC
    name = str(ctx.db.field("host", host, "timezone"))
    if name:
        with contextlib.suppress(ValueError, KeyError):  # unknown zone: the host runs on UTC
            zone = ZoneInfo(name)
    return DateTime(datetime.now(zone).strftime("%Y%m%dT%H:%M:%S"))


@api("host.compute_free_memory")
async def compute_free_memory(ctx: CallContext, host: str) -> Value:
    ctx.db.row("host", host)
    return max(0, placement.free_memory(ctx.db, host))


@api("host.compute_memory_overhead")
async def compute_memory_overhead(ctx: CallContext, host: str) -> Value:
    return ctx.db.field("host", host, "memory_overhead")


@api("host.get_management_interface")
async def get_management_interface(ctx: CallContext, host: str) -> Value:
    ctx.db.row("host", host)
    pifs = ctx.db.find("PIF", host=host, management=True)
    if not pifs:
        raise XapiError("INTERNAL_ERROR", ["Not_found"])  # what xapi's uncaught Not_found becomes
    return pifs[0]


@api("host.set_hostname_live")
async def set_hostname_live(ctx: CallContext, host: str, hostname: str) -> Value:
    assert_reachable(ctx.db, host)
    if not _HOSTNAME.match(hostname):
        raise XapiError("HOST_NAME_INVALID", ["hostname must be 1-63 letters, digits or '-'"])
    ctx.db.update("host", host, hostname=hostname)
    return ""


@api("host.set_power_on_mode")
async def set_power_on_mode(
    ctx: CallContext, host: str, power_on_mode: str, power_on_config: dict[str, str]
) -> Value:
    config: dict[str, Value] = dict(power_on_config)
    ctx.db.update("host", host, power_on_mode=power_on_mode, power_on_config=config)
    refresh_operations(ctx.db, host)
    return ""


@api("host.apply_edition")
async def apply_edition(ctx: CallContext, host: str, edition: str, force: bool = False) -> Value:
    editions = as_refs(ctx.db.field("host", host, "editions"))
    if editions and edition not in editions:
        raise XapiError("INVALID_EDITION", [edition])
    ctx.db.update("host", host, edition=edition)
    return ""


# ---- plugins, logs and no-ops ------------------------------------------------------------------

#: the few dom0 plugins managers call, with canned answers ((plugin, fn) -> stdout)
PLUGINS: dict[tuple[str, str], str] = {
    ("updater.py", "check_update"): "[]",
    ("hyperthreading.py", "get_hyperthreading"): "true",
}


@api("host.call_plugin")
async def call_plugin(
    ctx: CallContext, host: str, plugin: str, fn: str, args: dict[str, str]
) -> Value:
    assert_reachable(ctx.db, host)
    answer = PLUGINS.get((plugin, fn))
    if answer is not None:
        return answer
    if any(p == plugin for p, _ in PLUGINS):
        raise XapiError("XENAPI_PLUGIN_FAILURE", ["failure", "", f"no function {fn!r}"])
    raise XapiError("XENAPI_MISSING_PLUGIN", [plugin])


@api("host.has_extension")
async def has_extension(ctx: CallContext, host: str, name: str) -> Value:
    ctx.db.row("host", host)
    return False


@api("host.dmesg")
async def dmesg(ctx: CallContext, host: str) -> Value:
    assert_reachable(ctx.db, host)
    name = ctx.db.field("host", host, "hostname")
    return f"(XEN) Xen version 4.17 (simulated host {name})\n(XEN) Brought up all CPUs\n"


@api("host.get_log", "host.dmesg_clear")
async def not_implemented_in_xapi(ctx: CallContext, host: str) -> Value:
    """xapi itself answers these with NOT_IMPLEMENTED."""
    raise XapiError("NOT_IMPLEMENTED", [ctx.method.partition(".")[2]])


@api("host.get_system_status_capabilities")
async def get_system_status_capabilities(ctx: CallContext, host: str) -> Value:
    assert_reachable(ctx.db, host)
    return (
        '<?xml version="1.0" ?><system-status-capabilities>'
        '<capability content-type="text/plain" default-checked="yes" key="xenserver-logs" '
        'max-size="52428800" max-time="-1" min-size="-1" min-time="-1" pii="maybe"/>'
        "</system-status-capabilities>"
    )


@api(
    "host.restart_agent",
    "host.syslog_reconfigure",
    "host.sync_data",
    "host.refresh_server_certificate",
)
async def no_op(ctx: CallContext, host: str) -> Value:
    assert_reachable(ctx.db, host)
    return ""


@api("host.send_debug_keys", "host.backup_rrds")
async def no_op_with_argument(ctx: CallContext, host: str, _arg: Value) -> Value:
    assert_reachable(ctx.db, host)
    return ""
