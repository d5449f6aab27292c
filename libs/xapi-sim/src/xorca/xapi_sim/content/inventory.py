"""A whole simulated pool, as a real XCP-ng 8.3 pool would hold it, built from a seed.

`build_pool` lays out the infrastructure (pool, networks, shared, ISO and tools SRs, default
templates, then each host with its control domain, CPUs, NICs and local storage), asks
`add_vm` for the VMs, and finally settles what depends on the whole: host memory, SR usage and a
week of message history. Rows are assembled in a `Batch` and written in one pass, so 10,000 VMs
build in a few seconds (see ``content/rowbatch.py``).

Everything random comes from one ``random.Random(seed)``, identifiers included: the same seed and
``now`` give the same pool. The field set of every row is the datamodel's (``ClassDef.new_record``
via ``Database.create``); only values that differ from the defaults are written here. The tables
of names, hardware and operating systems are in ``content/names.py``.
"""

from __future__ import annotations

import math
import random
import time

from xorca.xapi.datamodel import NULL_REF, datamodel
from xorca.xapi.values import Value
from xorca.xapi_sim.content import history, names
from xorca.xapi_sim.content.devices import add_iso_vdi, add_pbd, add_sr
from xorca.xapi_sim.content.guests import add_vm, allowed_operations
from xorca.xapi_sim.content.hosts import DOM0_MEMORY, add_host, cpu_info
from xorca.xapi_sim.content.names import GIB, TIB, VLANS
from xorca.xapi_sim.content.rowbatch import Batch, Ids, as_int
from xorca.xapi_sim.content.site import (
    HostSlot,
    Site,
    Subnet,
    host_address,
    load_site,
    subnet_prefix,
)
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.state.pool import SimConfig, SimPool

__all__ = [
    "build_pool",
    "host_address",
    "load_site",
    "subnet_prefix",
]

INTERNAL_NETWORK = {
    "is_guest_installer_network": "true",
    "is_host_internal_management_network": "true",
    "ip_begin": "169.254.0.1",
    "ip_end": "169.254.255.254",
    "netmask": "255.255.0.0",
}


def build_pool(
    *,
    name: str,
    index: int,
    hosts: int,
    vms: int,
    seed: int,
    config: SimConfig | None = None,
    now: float | None = None,
) -> SimPool:
    """A fresh `SimPool` named ``name``: ``hosts`` hosts, ``vms`` guest VMs (plus control domains,
    templates and snapshots), deterministic for ``seed`` and ``now`` (default: the current time).
    """
    if hosts < 1 or vms < 0:
        raise ValueError("a pool needs at least one host and a non-negative number of VMs")
    rng = random.Random(seed)
    ids = Ids(rng)
    now = time.time() if now is None else now
    batch = Batch(datamodel())
    site, pool_ref = _infrastructure(batch, ids, rng, name, index, hosts, now)
    for _ in range(vms):
        add_vm(batch, ids, rng, site)
    _settle_memory(batch, site)
    _settle_storage(batch)
    history.add_tasks(batch, ids, rng, site)
    db = Database()
    batch.insert(db)
    for ref, record in history.messages(db, ids, rng, pool_ref, now):
        db.add_message(record, ref)
    return SimPool(name, config, db)


def _infrastructure(
    batch: Batch, ids: Ids, rng: random.Random, name: str, index: int, count: int, now: float
) -> tuple[Site, str]:
    cpu = rng.choice(names.CPU_MODELS)
    nic = rng.choice(names.NICS)
    site_code = names.SITES[(index - 1) % len(names.SITES)]
    networks = _networks(batch, ids, index)
    shared = add_sr(
        batch,
        ids,
        name_label="NFS VM storage",
        type="nfs",
        content_type="",
        shared=True,
        other_config={"auto-scan": "false"},
        name_description=f"NFS SR [10.{index}.0.20:/export/xcp]",
    )
    iso = add_sr(
        batch,
        ids,
        name_label="ISO library",
        type="iso",
        content_type="iso",
        shared=True,
        other_config={"auto-scan": "true"},
        sm_config={"iso_type": "nfs_iso"},
    )
    tools = add_sr(
        batch,
        ids,
        name_label="XCP-ng Tools",
        type="iso",
        content_type="iso",
        shared=True,
        other_config={
            "xensource_internal": "true",
            "xenserver_tools_sr": "true",
            "i18n-key": "xenserver-tools",
        },
        is_tools_sr=True,
        physical_size=-1,
        physical_utilisation=-1,
    )
    iso_vdis = [add_iso_vdi(batch, ids, iso, file, size, False) for file, size in names.ISO_IMAGES]
    add_iso_vdi(batch, ids, tools, "guest-tools.iso", 41_943_040, True)
    shared_configs: dict[str, dict[str, Value]] = {
        shared: {"server": f"10.{index}.0.20", "serverpath": "/export/xcp", "nfsversion": "4.1"},
        iso: {"location": f"10.{index}.0.20:/export/iso", "type": "nfs_iso"},
        tools: {"location": "/opt/xensource/packages/iso", "legacy_mode": "true"},
    }
    slots: list[HostSlot] = []
    server = rng.choice(names.SERVERS)
    for h in range(1, count + 1):
        slot = add_host(batch, ids, rng, index, h, site_code, cpu, nic, server, networks, now)
        dom0 = str(batch.get("host", slot.ref)["control_domain"])
        for sr, device_config in shared_configs.items():
            add_pbd(batch, ids, slot.ref, sr, device_config, dom0)
        slots.append(slot)
    for sm_type, label, description, caps in names.SM_DRIVERS:
        batch.add(
            "SM",
            ids.ref(),
            uuid=ids.uuid(),
            type=sm_type,
            name_label=label,
            name_description=description,
            vendor="Vates",
            copyright="(C) Vates SAS",
            version="1.0",
            required_api_version="1.0",
            capabilities=list(caps.split()),
            features=dict.fromkeys(caps.split(), 1),
            driver_filename=f"/opt/xensource/sm/{sm_type.upper()}SR",
        )
    templates = {
        label: _template(batch, ids, label, *spec) for label, spec in names.TEMPLATES.items()
    }
    pool_ref = ids.ref()
    batch.add(
        "pool",
        pool_ref,
        uuid=ids.uuid(),
        name_label=name,
        master=slots[0].ref,
        default_SR=shared,
        suspend_image_SR=shared,
        crash_dump_SR=shared,
        other_config={"memory-ratio-hvm": "0.25", "memory-ratio-pv": "0.25"},
        tags=[f"site:{site_code}"],
        cpu_info=cpu_info(cpu, count),
        restrictions={
            "restrict_vlan": "false",
            "restrict_qos": "false",
            "enable_xha": "true",
            "restrict_dmc": "false",
            "restrict_rbac": "false",
            "restrict_wlb": "false",
            "restrict_pooling": "false",
            "restrict_ad": "false",
        },
        allowed_operations=["ha_enable", "cluster_create", "designate_new_master", "cert_refresh"],
        tls_verification_enabled=True,
        uefi_certificates="",
    )
    subnets = [Subnet(ref, subnet_prefix(index, bridge)) for ref, bridge in networks]
    cpu_flags = {"vendor": cpu.vendor, "features": cpu.features}
    return Site(slots, shared, iso_vdis, subnets, templates, cpu_flags, now), pool_ref


def _networks(batch: Batch, ids: Ids, index: int) -> list[tuple[str, str]]:
    """The guest networks as (ref, bridge): eth0's, eth1's, then the VLANs (on eth1)."""
    out: list[tuple[str, str]] = []
    for label, bridge in (
        ("Pool-wide network associated with eth0", "xenbr0"),
        ("Pool-wide network associated with eth1", "xenbr1"),
        *((f"{vlan_name} (VLAN {tag})", bridge) for tag, vlan_name, bridge in VLANS),
    ):
        ref = batch.add(
            "network",
            ids.ref(),
            uuid=ids.uuid(),
            name_label=label,
            bridge=bridge,
            MTU=1500,
            other_config={},
            managed=True,
        )
        out.append((ref, bridge))
    batch.add(
        "network",
        ids.ref(),
        uuid=ids.uuid(),
        name_label="Host internal management network",
        name_description="Network on which guests will be assigned a private link-local IP "
        "address which can be used to talk XenAPI",
        bridge="xenapi",
        MTU=1500,
        other_config=dict(INTERNAL_NETWORK),
    )
    return out


def _template(
    batch: Batch, ids: Ids, label: str, memory_gib: int, vcpus: int, disk_gib: int, uefi: bool
) -> str:
    windows = label.startswith("Windows")
    memory = memory_gib * GIB
    disk = (
        f'<provision><disk device="0" size="{disk_gib * GIB}" sr="" bootable="true" '
        'type="system"/></provision>'
    )
    other: dict[str, Value] = {
        "default_template": "true",
        "install-methods": "cdrom" if windows else "cdrom,nfs,http,ftp",
        "disks": disk,
        "base_template_name": label,
    }
    if not windows and label != "Other install media":
        other["linux_template"] = "true"
    platform: dict[str, Value] = {
        "device-model": "qemu-upstream-compat",
        "nx": "true",
        "acpi": "1",
        "apic": "true",
        "pae": "true",
        "viridian": "true" if windows else "false",
        "secureboot": "false",
        "hpet": "true",
    }
    recommendations = (
        '<restrictions><restriction field="memory-static-max" max="1649267441664"/>'
        '<restriction field="vcpus-max" max="32"/><restriction property="number-of-vbds" '
        'max="255"/><restriction property="number-of-vifs" max="7"/></restrictions>'
    )
    metrics = batch.add("VM_metrics", ids.ref(), uuid=ids.uuid(), hvm=True)
    return batch.add(
        "VM",
        ids.ref(),
        uuid=ids.uuid(),
        name_label=label,
        name_description=f"Template which allows VM installation from {label} install media",
        power_state="Halted",
        user_version=1,
        is_a_template=True,
        is_default_template=True,
        domid=-1,
        memory_static_max=memory,
        memory_dynamic_max=memory,
        memory_dynamic_min=memory,
        memory_static_min=min(memory, GIB),
        VCPUs_max=vcpus,
        VCPUs_at_startup=vcpus,
        actions_after_shutdown="destroy",
        actions_after_reboot="restart",
        actions_after_crash="restart",
        HVM_boot_policy="BIOS order",
        HVM_boot_params={"order": "cdn", "firmware": "uefi" if uefi else "bios"},
        platform=platform,
        other_config=other,
        recommendations=recommendations,
        domain_type="hvm",
        metrics=metrics,
        has_vendor_device=windows,
        allowed_operations=allowed_operations(
            {"power_state": "Halted", "is_a_template": True, "is_default_template": True},
            {"hvm": True},
        ),
    )


def _settle_memory(batch: Batch, site: Site) -> None:
    """Size each host for what runs on it, then report what is left as ``memory_free``."""
    used = {slot.ref: DOM0_MEMORY for slot in site.hosts}
    for values in batch.rows["VM"].values():
        host = values.get("resident_on", NULL_REF)
        if host in used and not values.get("is_control_domain"):
            used[str(host)] += as_int(values["memory_target"]) + as_int(values["memory_overhead"])
    for slot in site.hosts:
        host = batch.get("host", slot.ref)
        metrics = batch.get("host_metrics", str(host["metrics"]))
        total = as_int(metrics["memory_total"])
        need = used[slot.ref] + as_int(host["memory_overhead"])
        if need * 1.1 > total:  # a real pool would not run over its memory: buy bigger hosts
            total = math.ceil(need * 1.25 / (64 * GIB)) * 64 * GIB
        metrics["memory_total"] = total
        metrics["memory_free"] = total - need


def _settle_storage(batch: Batch) -> None:
    """SR usage from the VDIs on each SR; SRs that would be over-full are given larger disks."""
    usage: dict[str, list[int]] = {}
    for values in batch.rows["VDI"].values():
        totals = usage.setdefault(str(values["SR"]), [0, 0])
        totals[0] += as_int(values["virtual_size"])
        totals[1] += as_int(values["physical_utilisation"])
    for ref, values in batch.rows["SR"].items():
        if values["type"] == "udev" or values.get("is_tools_sr"):
            values.setdefault("physical_size", 0)
            continue
        virtual, used = usage.get(ref, [0, 0])
        floor = 16 * TIB if values["shared"] else 2 * TIB
        values["virtual_allocation"] = virtual
        values["physical_utilisation"] = used
        values["physical_size"] = max(floor, math.ceil(used * 1.3 / TIB) * TIB)
