"""VM records: ``vm``, ``vm-template``, ``vm-snapshot`` and ``vm-controller`` objects.

One VM object gathers what XAPI spreads over several records: its metrics (memory actually used,
live VCPUs, start time), its guest metrics (OS, addresses, PV drivers), its disks (VBD → VDI →
SR), its interfaces (VIFs) and consoles. Each of those is read through the lookup, so a change to
any of them re-translates the VM.
"""

from __future__ import annotations

from xorca.projection.core.translate.context import Context, Linked
from xorca.projection.core.translate.fields import (
    Record,
    get_bool,
    get_int,
    get_map,
    get_ref,
    get_refs,
    get_str,
    get_str_map,
    to_float,
)
from xorca.projection.core.translate.guest import (
    SHOWS_ADDRESSES,
    addresses,
    main_address,
    os_info,
    pv_drivers,
)
from xorca.projection.core.translate.values import iso_datetime, some

__all__ = ["translate_vm", "vm_type"]


def vm_type(record: Record) -> str:
    # Snapshots are templates too in XAPI (is_a_template is set on them): test them first.
    if get_bool(record, "is_control_domain"):
        return "vm-controller"
    if get_bool(record, "is_a_snapshot"):
        return "vm-snapshot"
    if get_bool(record, "is_a_template"):
        return "vm-template"
    return "vm"


def translate_vm(ctx: Context) -> dict[str, object]:
    r = ctx.record
    power_state = get_str(r, "power_state")
    metrics = ctx.linked(get_ref(r, "metrics"), "vm_metrics")
    guest = ctx.linked(get_ref(r, "guest_metrics"), "vm_guest_metrics")
    host = ctx.link(get_ref(r, "resident_on"), "host")
    vbds = ctx.all_linked(get_refs(r, "VBDs"), "vbd")
    vifs = ctx.all_linked(get_refs(r, "VIFs"), "vif")
    return {
        **ctx.common(named=True, tagged=True),
        "power_state": power_state,
        "is_a_template": get_bool(r, "is_a_template"),
        "is_a_snapshot": get_bool(r, "is_a_snapshot"),
        "is_control_domain": get_bool(r, "is_control_domain"),
        "is_default_template": _is_default_template(r),
        "$host": host,
        "$container": host or ctx.pool,
        "$affinity": ctx.link(get_ref(r, "affinity"), "host"),
        "domid": get_int(r, "domid"),
        "domain_type": get_str(r, "domain_type"),
        "memory": _memory(r, metrics),
        "cpus": _cpus(r, metrics),
        "start_time": iso_datetime(metrics.record.get("start_time")) if metrics else None,
        "install_time": iso_datetime(metrics.record.get("install_time")) if metrics else None,
        **_guest(guest, power_state),
        "disks": [_disk(ctx, vbd) for vbd in sorted(vbds, key=_device_order)],
        "$vbds": [vbd.uuid for vbd in vbds],
        "nics": [_nic(vif) for vif in sorted(vifs, key=_device_order)],
        "$vifs": [vif.uuid for vif in vifs],
        "consoles": _consoles(ctx),
        "$snapshots": ctx.links(get_refs(r, "snapshots"), "vm"),
        "$snapshot_of": ctx.link(get_ref(r, "snapshot_of"), "vm"),
        "snapshot_time": iso_datetime(r.get("snapshot_time")),
        "$parent": ctx.link(get_ref(r, "parent"), "vm"),
        "$suspend_vdi": ctx.link(get_ref(r, "suspend_VDI"), "vdi"),
        "ha_restart_priority": get_str(r, "ha_restart_priority"),
        **ctx.operations(),
        "blocked_operations": ctx.sorted_str_map("blocked_operations"),
    }


def _is_default_template(r: Record) -> bool | None:
    # The field is recent (XenServer 7.5); before it, XAPI said so in other_config.
    flag = get_bool(r, "is_default_template")
    if flag is None and get_bool(r, "is_a_template"):
        other = get_str_map(r, "other_config") or {}
        flag = other.get("default_template") == "true"
    return flag


def _memory(r: Record, metrics: Linked | None) -> dict[str, object] | None:
    return some(
        {
            "static_min": get_int(r, "memory_static_min"),
            "static_max": get_int(r, "memory_static_max"),
            "dynamic_min": get_int(r, "memory_dynamic_min"),
            "dynamic_max": get_int(r, "memory_dynamic_max"),
            "actual": get_int(metrics.record, "memory_actual") if metrics else None,
        }
    )


def _cpus(r: Record, metrics: Linked | None) -> dict[str, object] | None:
    cpus: dict[str, object] = {
        "max": get_int(r, "VCPUs_max"),
        "at_startup": get_int(r, "VCPUs_at_startup"),
    }
    if metrics is not None:
        cpus["number"] = get_int(metrics.record, "VCPUs_number")
        usage = _utilisation(metrics.record)
        if usage:
            cpus["utilisation"] = usage
            cpus["usage"] = sum(usage) / len(usage)
    return some(cpus)


def _utilisation(metrics: Record) -> list[float]:
    """``VCPUs_utilisation`` ({"0": 0.12, …}) as a list in VCPU order (0..1 each)."""
    per_vcpu = get_map(metrics, "VCPUs_utilisation") or {}
    found: list[tuple[int, float]] = []
    for key, value in per_vcpu.items():
        usage = to_float(value)
        if key.isdigit() and usage is not None:
            found.append((int(key), usage))
    return [usage for _, usage in sorted(found)]


def _guest(guest: Linked | None, power_state: str | None) -> dict[str, object]:
    if guest is None:
        return {}
    fields: dict[str, object] = {"os": os_info(guest.record), **pv_drivers(guest.record)}
    if power_state in SHOWS_ADDRESSES:
        found = addresses(guest.record)
        fields["addresses"] = found
        fields["main_address"] = main_address(found)
    return fields


def _device_order(linked: Linked) -> tuple[int, str, str]:
    """VBDs by userdevice, VIFs by device: numerically where they are numbers."""
    slot = get_str(linked.record, "userdevice") or get_str(linked.record, "device") or ""
    return (int(slot) if slot.isdigit() else 1 << 30, slot, linked.uuid)


def _disk(ctx: Context, vbd: Linked) -> dict[str, object]:
    v = vbd.record
    vdi = ctx.linked(get_ref(v, "VDI"), "vdi")
    disk: dict[str, object] = {
        "$vbd": vbd.uuid,
        "device": get_str(v, "device"),
        "userdevice": get_str(v, "userdevice"),
        "mode": get_str(v, "mode"),
        "type": get_str(v, "type"),
        "bootable": get_bool(v, "bootable"),
        "empty": get_bool(v, "empty"),
        "currently_attached": get_bool(v, "currently_attached"),
    }
    if vdi is not None:
        disk["$vdi"] = vdi.uuid
        disk["name_label"] = get_str(vdi.record, "name_label")
        disk["size"] = get_int(vdi.record, "virtual_size")
        disk["$sr"] = ctx.link(get_ref(vdi.record, "SR"), "sr")
    return disk


def _nic(vif: Linked) -> dict[str, object]:
    return {
        "$vif": vif.uuid,
        "device": get_str(vif.record, "device"),
        "mac": get_str(vif.record, "MAC"),
        "currently_attached": get_bool(vif.record, "currently_attached"),
    }


def _consoles(ctx: Context) -> list[dict[str, object]]:
    # consoles are not client objects: their uuid is a plain field, not a $link
    consoles = ctx.all_linked(get_refs(ctx.record, "consoles"), "console")
    found: list[dict[str, object]] = [
        {
            "uuid": console.uuid,
            "protocol": get_str(console.record, "protocol"),
            "location": get_str(console.record, "location"),
        }
        for console in consoles
    ]
    return sorted(found, key=lambda c: (str(c["protocol"] or ""), str(c["uuid"])))
