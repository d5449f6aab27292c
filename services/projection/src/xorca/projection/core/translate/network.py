"""Network records: ``network``, ``vif`` and ``pif`` objects.

A VIF's addresses are what the guest agent of its VM reports for the VIF's device (VIF → VM →
VM_guest_metrics), and a PIF's link state is in its ``PIF_metrics`` record.
"""

from __future__ import annotations

from xorca.projection.core.translate.context import Context
from xorca.projection.core.translate.fields import (
    get_bool,
    get_int,
    get_ref,
    get_refs,
    get_str,
    get_strs,
)
from xorca.projection.core.translate.guest import SHOWS_ADDRESSES, device_ips

__all__ = ["translate_network", "translate_pif", "translate_vif"]


def _sorted(values: list[str] | None) -> list[str] | None:
    return None if values is None else sorted(set(values))


def _device_number(device: str) -> str:
    # guest agents key networks by the device number, without leading zeros
    device = device.strip()
    return str(int(device)) if device.isdigit() else device


def translate_network(ctx: Context) -> dict[str, object]:
    r = ctx.record
    return {
        **ctx.common(named=True, tagged=True),
        "bridge": get_str(r, "bridge"),
        "mtu": get_int(r, "MTU"),
        "managed": get_bool(r, "managed"),
        "default_locking_mode": get_str(r, "default_locking_mode"),
        "purpose": _sorted(get_strs(r, "purpose")),
        "$pifs": ctx.links(get_refs(r, "PIFs"), "pif"),
        "vif_count": len(get_refs(r, "VIFs")),  # not the ids: each VIF links its `$network`
        **ctx.operations(),
    }


def translate_vif(ctx: Context) -> dict[str, object]:
    r = ctx.record
    device = get_str(r, "device")
    vm = ctx.linked(get_ref(r, "VM"), "vm")
    ips = None
    if vm is not None and get_str(vm.record, "power_state") in SHOWS_ADDRESSES:
        guest = ctx.linked(get_ref(vm.record, "guest_metrics"), "vm_guest_metrics")
        if guest is not None and device is not None:
            ips = device_ips(guest.record).get(_device_number(device), [])
    return {
        **ctx.common(named=False),
        "device": device,
        "mac": get_str(r, "MAC"),
        "mtu": get_int(r, "MTU"),
        "currently_attached": get_bool(r, "currently_attached"),
        "locking_mode": get_str(r, "locking_mode"),
        "ipv4_allowed": _sorted(get_strs(r, "ipv4_allowed")),
        "ipv6_allowed": _sorted(get_strs(r, "ipv6_allowed")),
        "ips": ips,
        "$vm": vm.uuid if vm is not None else None,
        "$network": ctx.link(get_ref(r, "network"), "network"),
        **ctx.operations(),
    }


def translate_pif(ctx: Context) -> dict[str, object]:
    r = ctx.record
    metrics = ctx.linked(get_ref(r, "metrics"), "pif_metrics")
    vlan = get_int(r, "VLAN")
    data: dict[str, object] = {
        **ctx.common(named=False),
        "device": get_str(r, "device"),
        "mac": get_str(r, "MAC"),
        "mtu": get_int(r, "MTU"),
        "ip_configuration_mode": get_str(r, "ip_configuration_mode"),
        "ip": get_str(r, "IP"),
        "netmask": get_str(r, "netmask"),
        "gateway": get_str(r, "gateway"),
        "dns": get_str(r, "DNS"),
        "ipv6_configuration_mode": get_str(r, "ipv6_configuration_mode"),
        "ipv6": _sorted(get_strs(r, "IPv6")),
        "ipv6_gateway": get_str(r, "ipv6_gateway"),
        # XAPI says -1 for "not a VLAN": the key is absent then
        "vlan": vlan if vlan is not None and vlan >= 0 else None,
        "physical": get_bool(r, "physical"),
        "management": get_bool(r, "management"),
        "currently_attached": get_bool(r, "currently_attached"),
        "$host": ctx.link(get_ref(r, "host"), "host"),
        "$network": ctx.link(get_ref(r, "network"), "network"),
    }
    if metrics is not None:
        m = metrics.record
        data |= {
            "carrier": get_bool(m, "carrier"),
            "speed": get_int(m, "speed"),
            "duplex": get_bool(m, "duplex"),
            "vendor_name": get_str(m, "vendor_name"),
            "device_name": get_str(m, "device_name"),
        }
    return data
