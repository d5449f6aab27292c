"""``pool.*`` calls a manager makes beyond the generic ones, and the pool-wide placement facts
they and ``host.evacuate`` share: host liveness, which hosts see an SR or a network, and
evacuation plans.

Placement follows xapi (``xapi_host.ml`` ``compute_evacuation_plan_no_wlb``,
``xapi_vm_helpers.ml`` ``assert_can_see_networks``) and reuses the VM handlers' memory and
boot-here rules (``placement.free_memory``/``host_error``), so a plan never promises what
``VM.pool_migrate`` would then refuse: the biggest guests are placed first, each on the host with
the most memory left that passes every check.
"""

from __future__ import annotations

from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.vm import placement
from xorca.xapi_sim.vm.shapes import resident_memory


def as_int(v: Value) -> int:
    return int(v) if isinstance(v, int | float | str) else 0


def as_refs(v: Value) -> list[str]:
    return [str(x) for x in v] if isinstance(v, list) else []


def as_map(v: Value) -> dict[str, str]:
    return {k: str(x) for k, x in v.items()} if isinstance(v, dict) else {}


# ---- placement ---------------------------------------------------------------------------------


def is_live(db: Database, host: str) -> bool:
    """``host_metrics.live``; a host without metrics counts as up."""
    metrics = str(db.field("host", host, "metrics"))
    return not db.exists("host_metrics", metrics) or bool(db.field("host_metrics", metrics, "live"))


def hosts_seeing_sr(db: Database, sr: str) -> set[str]:
    """Hosts with an attached PBD for ``sr``."""
    return {
        str(db.field("PBD", pbd, "host"))
        for pbd in as_refs(db.field("SR", sr, "PBDs"))
        if db.exists("PBD", pbd) and db.field("PBD", pbd, "currently_attached")
    }


def network_available_on(db: Database, network: str, host: str) -> bool:
    """A network reaches a host through an attached PIF there; a PIF-less (internal) network only
    reaches the host where every running VM using it already is."""
    pifs = as_refs(db.field("network", network, "PIFs"))
    if pifs:
        return any(
            db.field("PIF", p, "host") == host and db.field("PIF", p, "currently_attached")
            for p in pifs
        )
    for vif in as_refs(db.field("network", network, "VIFs")):
        vm = str(db.field("VIF", vif, "VM"))
        if not db.exists("VM", vm) or db.field("VM", vm, "power_state") != "Running":
            continue
        if db.field("VM", vm, "resident_on") != host:
            return False
    return True


def guests_of(db: Database, host: str) -> list[str]:
    """Resident VMs other than control domains."""
    return [
        vm
        for vm in as_refs(db.field("host", host, "resident_VMs"))
        if db.exists("VM", vm) and not db.field("VM", vm, "is_control_domain")
    ]


def _network_error(db: Database, vm: str, host: str) -> XapiError | None:
    for vif in as_refs(db.field("VM", vm, "VIFs")):
        network = str(db.field("VIF", vif, "network"))
        if db.exists("network", network) and not network_available_on(db, network, host):
            return XapiError("VM_REQUIRES_NETWORK", [vm, network])
    return None


def evacuation_plan(db: Database, host: str) -> tuple[dict[str, str], dict[str, XapiError]]:
    """(VM -> target host, VM -> why it cannot move) for every guest resident on ``host``.

    Targets are the other enabled, live hosts, each checked with the VM handlers' ``host_error``
    (SRs, memory: the rules ``VM.pool_migrate`` applies) plus network visibility, counting the
    memory of the VMs already planned onto it. Error shapes are the declared ones; xapi itself
    puts the VM ref in ``NO_HOSTS_AVAILABLE`` and ``HOST_NOT_ENOUGH_FREE_MEMORY`` here.
    """
    others = [
        h
        for h in db.refs("host")
        if h != host and db.field("host", h, "enabled") and is_live(db, h)
    ]
    planned = dict.fromkeys(others, 0)
    plan: dict[str, str] = {}
    errors: dict[str, XapiError] = {}
    if not others:
        return plan, {vm: XapiError("NO_HOSTS_AVAILABLE", []) for vm in guests_of(db, host)}

    def need(vm: str) -> int:
        rec = db.get("VM", vm)
        metrics = str(rec["metrics"])
        return resident_memory(
            rec, db.get("VM_metrics", metrics) if db.exists("VM_metrics", metrics) else None
        )

    for vm in sorted(guests_of(db, host), key=lambda v: -need(v)):
        needed = need(vm)
        first: XapiError | None = None
        for target in sorted(others, key=lambda h: planned[h] - placement.free_memory(db, h)):
            error = placement.host_error(
                db, vm, target, needed + planned[target]
            ) or _network_error(db, vm, target)
            if error is not None and error.code == "HOST_NOT_ENOUGH_FREE_MEMORY":
                free = max(0, placement.free_memory(db, target) - planned[target])
                error = XapiError(error.code, [needed, free])
            if error is None:
                plan[vm] = target
                planned[target] += needed
                break
            first = first or error
        else:
            errors[vm] = first or XapiError("NO_HOSTS_AVAILABLE", [])
    return plan, errors


# ---- pool.* ------------------------------------------------------------------------------------


@api("pool.get_license_state")
async def get_license_state(ctx: CallContext, pool: str) -> Value:
    """The hosts' edition (they share one once ``apply_edition`` ran); licences never expire."""
    ctx.db.row("pool", pool)
    editions = sorted({str(r["edition"]) for _, r in ctx.db.records("host")})
    return {"edition": editions[0] if editions else "", "expiry": "never"}


@api("pool.apply_edition")
async def apply_edition(ctx: CallContext, pool: str, edition: str) -> Value:
    ctx.db.row("pool", pool)
    for host, rec in list(ctx.db.records("host")):
        editions = as_refs(rec["editions"])
        if editions and edition not in editions:
            raise XapiError("INVALID_EDITION", [edition])
        ctx.db.update("host", host, edition=edition)
    return ""


@api("pool.has_extension")
async def has_extension(ctx: CallContext, pool: str, name: str) -> Value:
    ctx.db.row("pool", pool)
    return False


@api("pool.add_to_guest_agent_config")
async def add_to_guest_agent_config(ctx: CallContext, pool: str, key: str, value: str) -> Value:
    config: dict[str, Value] = {**as_map(ctx.db.field("pool", pool, "guest_agent_config"))}
    config[key] = value
    ctx.db.update("pool", pool, guest_agent_config=config)
    return ""


@api("pool.remove_from_guest_agent_config")
async def remove_from_guest_agent_config(ctx: CallContext, pool: str, key: str) -> Value:
    config = as_map(ctx.db.field("pool", pool, "guest_agent_config"))
    ctx.db.update("pool", pool, guest_agent_config={k: v for k, v in config.items() if k != key})
    return ""


@api("pool.set_ha_host_failures_to_tolerate")
async def set_ha_host_failures_to_tolerate(ctx: CallContext, pool: str, value: int) -> Value:
    if value < 0:
        raise XapiError("INVALID_VALUE", ["ha_host_failures_to_tolerate", value])
    ctx.db.update("pool", pool, ha_host_failures_to_tolerate=value)
    return ""


@api("pool.ha_compute_max_host_failures_to_tolerate")
async def ha_compute_max_host_failures_to_tolerate(ctx: CallContext) -> Value:
    """Every host but one may fail when the survivors can take the protected VMs; approximated by
    the host count, capped at xapi's limit of 3."""
    return min(3, max(0, len(ctx.db.refs("host")) - 1))


@api("pool.enable_ha")
async def enable_ha(
    ctx: CallContext, heartbeat_srs: list[str], configuration: dict[str, str]
) -> Value:
    db, pool = ctx.db, ctx.pool.pool_ref
    if db.field("pool", pool, "ha_enabled"):
        raise XapiError("HA_IS_ENABLED", [])
    hosts = set(db.refs("host"))
    for sr in heartbeat_srs:
        db.row("SR", sr)
        if not db.field("SR", sr, "shared") or hosts_seeing_sr(db, sr) != hosts:
            raise XapiError("HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED", [sr])
    await ctx.work()
    tolerate = await ha_compute_max_host_failures_to_tolerate(ctx)
    db.update(
        "pool",
        pool,
        ha_enabled=True,
        ha_configuration={**configuration},
        ha_host_failures_to_tolerate=tolerate,
        ha_plan_exists_for=tolerate,
    )
    return ""


@api("pool.disable_ha")
async def disable_ha(ctx: CallContext) -> Value:
    db, pool = ctx.db, ctx.pool.pool_ref
    if not db.field("pool", pool, "ha_enabled"):
        raise XapiError("HA_NOT_ENABLED", [])
    await ctx.work()
    db.update(
        "pool", pool, ha_enabled=False, ha_configuration={}, ha_statefiles=[], ha_plan_exists_for=0
    )
    return ""


@api("pool.sync_database")
async def sync_database(ctx: CallContext) -> Value:
    return ""
