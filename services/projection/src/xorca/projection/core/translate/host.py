"""Host and pool records: ``host`` and ``pool`` objects.

A host's liveness and memory live in its ``host_metrics`` record (read through the lookup); its
hardware in ``cpu_info``, ``software_version`` and ``bios_strings``. Which host is the pool's
master is said by the pool object (``$master``): the host record does not link to its pool.
"""

from __future__ import annotations

from xorca.projection.core.translate.context import Context, Linked
from xorca.projection.core.translate.fields import (
    Record,
    get_bool,
    get_int,
    get_ref,
    get_refs,
    get_str,
    get_str_map,
    to_float,
    to_int,
)
from xorca.projection.core.translate.values import iso_from_timestamp, some

__all__ = ["translate_host", "translate_pool"]


def translate_host(ctx: Context) -> dict[str, object]:
    r = ctx.record
    metrics = ctx.linked(get_ref(r, "metrics"), "host_metrics")
    live = get_bool(metrics.record, "live") if metrics else None
    software = get_str_map(r, "software_version") or {}
    bios = get_str_map(r, "bios_strings") or {}
    other = get_str_map(r, "other_config") or {}
    return {
        **ctx.common(named=True, tagged=True),
        "hostname": get_str(r, "hostname"),
        "address": get_str(r, "address"),
        "enabled": get_bool(r, "enabled"),
        "live": live,
        "power_state": _power_state(metrics, live),
        "memory": some(
            {
                "total": get_int(metrics.record, "memory_total") if metrics else None,
                "free": get_int(metrics.record, "memory_free") if metrics else None,
                "overhead": get_int(r, "memory_overhead"),
            }
        ),
        "cpus": _cpus(r),
        "product_brand": software.get("product_brand"),
        "product_version": software.get("product_version"),
        "build_number": software.get("build_number"),
        "edition": get_str(r, "edition"),
        "bios_vendor": bios.get("bios-vendor"),
        "system_manufacturer": bios.get("system-manufacturer"),
        "system_product_name": bios.get("system-product-name"),
        "boot_time": iso_from_timestamp(to_float(other.get("boot_time"))),
        "$control_domain": ctx.link(get_ref(r, "control_domain"), "vm"),
        # a count, not the ids: a host runs hundreds of VMs, and reading each of them would
        # translate the host again at every VM change (each VM links its host: `$host`)
        "resident_vm_count": len(get_refs(r, "resident_VMs")),
        "$pifs": ctx.links(get_refs(r, "PIFs"), "pif"),
        "$pbds": ctx.links(get_refs(r, "PBDs"), "pbd"),
        **ctx.operations(),
    }


def _power_state(metrics: Linked | None, live: bool | None) -> str:
    # XAPI has no host power state: xapi's liveness monitor is the best there is.
    if metrics is None or live is None:
        return "Unknown"
    return "Running" if live else "Halted"


def _cpus(r: Record) -> dict[str, object] | None:
    info = get_str_map(r, "cpu_info") or {}
    threads = get_refs(r, "host_CPUs")
    return some(
        {
            "count": len(threads) if threads else to_int(info.get("cpu_count")),
            "sockets": to_int(info.get("socket_count")),
            "vendor": info.get("vendor"),
            "model": info.get("modelname"),
            "speed_mhz": to_float(info.get("speed")),
        }
    )


def translate_pool(ctx: Context) -> dict[str, object]:
    r = ctx.record
    info = get_str_map(r, "cpu_info") or {}
    return {
        **ctx.common(named=True, tagged=True),
        "$master": ctx.link(get_ref(r, "master"), "host"),
        "$default_sr": ctx.link(get_ref(r, "default_SR"), "sr"),
        "ha_enabled": get_bool(r, "ha_enabled"),
        "ha_host_failures_to_tolerate": get_int(r, "ha_host_failures_to_tolerate"),
        "cpus": some(
            {
                "count": to_int(info.get("cpu_count")),
                "sockets": to_int(info.get("socket_count")),
                "vendor": info.get("vendor"),
            }
        ),
        **ctx.operations(),
    }
