"""Guest VMs as a running XCP-ng pool holds them: the VM row and everything hanging off it.

One call to `add_vm` adds a VM in a given power state with its metrics, guest metrics (when it
has a guest agent), disks, CD drive, network interfaces, consoles and, for some, snapshots. The
side effects of the power state are those xapi leaves behind (XAPI.md §4, ``xapi_vm_lifecycle.ml``
``force_state_reset``): a VM with a domain (Running, Paused) has ``resident_on``, a ``domid`` ≥ 1,
consoles and attached devices; a Halted or Suspended one has none of them, and a Suspended one
keeps its memory image in ``suspend_VDI``. Guest metrics outlive a shutdown (``live`` false, the
last addresses kept), as in the recorded databases.

Rows go into a `Batch`; the inventory builder and the activity mode share this code.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from xorca.xapi.datamodel import EPOCH, NULL_REF
from xorca.xapi.values import DateTime, Value
from xorca.xapi_sim.content import names
from xorca.xapi_sim.content.devices import (
    add_cd_drive,
    add_disks,
    add_vdi,
    add_vifs,
    adjust_sr_usage,
)
from xorca.xapi_sim.content.names import (
    BIOS_STRINGS,
    GIB,
    GUEST_OTHER,
    LINUX_AGENT,
    MIB,
    WINDOWS_AGENT,
    Family,
    OsInfo,
)
from xorca.xapi_sim.content.rowbatch import Batch, Ids, as_int
from xorca.xapi_sim.content.site import Site, Subnet
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.vm import lifecycle, shapes

DAY = 86400.0


def allowed_operations(
    vm: Mapping[str, Value],
    metrics: Mapping[str, Value] | None = None,
    guest_metrics: Mapping[str, Value] | None = None,
) -> list[Value]:
    """What a quiet VM advertises, as `vm.lifecycle` (xapi's rules) computes it.

    The rules cost a fraction of a millisecond per VM, so results are shared between VMs that
    agree on every fact the rules read. Generated VMs differ only in the facts in the key below
    (no PCI, vGPU, VUSB, appliance or reset-on-boot disks, nothing in progress).
    """
    other = vm.get("other_config")
    other = other if isinstance(other, dict) else {}
    gm = guest_metrics or {}
    key = (
        vm.get("power_state"),
        bool(vm.get("is_a_template")),
        bool(vm.get("is_default_template")),
        bool(vm.get("is_a_snapshot")),
        bool(vm.get("is_control_domain")),
        vm.get("domid") == 0,
        repr(vm.get("blocked_operations")),
        other.get("default_template"),
        other.get("is_system_domain"),
        None if metrics is None else (metrics.get("current_domain_type"), metrics.get("hvm")),
        None if guest_metrics is None else repr((gm.get("PV_drivers_version"), gm.get("other"))),
        bool(gm.get("PV_drivers_detected")),
    )
    ops = _ALLOWED.get(key)
    if ops is None:
        facts = lifecycle.VmFacts.from_records("", vm, metrics=metrics, guest_metrics=guest_metrics)
        ops = _ALLOWED[key] = lifecycle.allowed_operations(facts)
    return list(ops)


_ALLOWED: dict[tuple[object, ...], list[str]] = {}


def ipv6_link_local(mac: str) -> str:
    """The EUI-64 link-local address a guest derives from its MAC."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    words = [b[0] << 8 | b[1], b[2] << 8 | 0xFF, 0xFE << 8 | b[3], b[4] << 8 | b[5]]
    return "fe80::" + ":".join(f"{w:x}" for w in words)


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([k for k, _ in table], [w for _, w in table])[0]


_FAMILY_WEIGHTS = [f.weight for f in names.FAMILIES]


def add_vm(
    batch: Batch,
    ids: Ids,
    rng: random.Random,
    site: Site,
    *,
    power_state: str | None = None,
    family: Family | None = None,
    snapshot_rate: float = 0.12,
) -> str:
    """Add one guest VM with everything it owns; returns its ref."""
    family = family or rng.choices(names.FAMILIES, _FAMILY_WEIGHTS)[0]
    os = names.OSES[rng.choice(family.oses)]
    state = power_state or _weighted(rng, names.POWER_STATES)
    live = state in ("Running", "Paused")  # a domain exists
    host = rng.choice(site.hosts)
    name = site.name_for(family)
    ref, now = ids.ref(), site.now
    memory = rng.choice(family.memory_gib) * GIB
    vcpus = rng.choice(family.vcpus)
    installed = now - rng.uniform(30, 1000) * DAY
    started = now - rng.uniform(0.02, 60) * DAY

    domid = -1
    if live:
        domid = host.next_domid
        host.next_domid += 1
    dyn_min = memory if os.windows or rng.random() < 0.7 else memory // 2
    values: dict[str, Value] = {
        "uuid": ids.uuid(),
        "name_label": name,
        "name_description": family.description,
        "power_state": state,
        "user_version": 1,
        "resident_on": host.ref if live else NULL_REF,
        "affinity": host.ref if rng.random() < 0.3 else NULL_REF,
        "memory_overhead": (memory // 128 + vcpus * MIB + MIB) // MIB * MIB,
        "memory_target": memory if live else 0,
        "memory_static_max": memory,
        "memory_dynamic_max": memory,
        "memory_dynamic_min": dyn_min,
        "memory_static_min": min(dyn_min, (2 if os.windows else 1) * GIB),
        "VCPUs_max": vcpus * 2 if rng.random() < 0.2 else vcpus,
        "VCPUs_at_startup": vcpus,
        "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart",
        "actions_after_crash": "restart",
        "domid": domid,
        "domain_type": os.domain_type,
        "tags": list(family.tags),
        "hardware_platform_version": 2,
        "has_vendor_device": os.windows,
        "xenstore_data": {"vm-data": ""},
        "bios_strings": dict(BIOS_STRINGS),
        "last_boot_CPU_flags": dict(site.cpu_flags) if live else {},
        "other_config": {
            "base_template_name": os.template,
            "mac_seed": ids.uuid(),
            **({"auto_poweron": "true"} if "prod" in family.tags else {}),
        },
        **_boot_fields(os, vcpus),
    }
    if ref_template := site.templates.get(os.template):
        values["recommendations"] = _recommendations(batch, ref_template)
    if rng.random() < 0.05:  # "protect from accidental deletion", as Xen Orchestra sets it
        values["blocked_operations"] = {"destroy": "true"}

    values["metrics"] = _vm_metrics(
        batch, ids, rng, os, vcpus, memory, live, started, installed, now
    )
    sr = host.local_sr if rng.random() < 0.2 else site.shared_sr
    kind = os.domain_type
    disks = add_disks(batch, ids, rng, ref, name, sr, rng.choice(family.disks_gib), live, kind)
    add_cd_drive(batch, ids, rng, ref, site, live, kind)
    macs = add_vifs(batch, ids, rng, ref, site, family.nics, live, now)
    values["guest_metrics"] = NULL_REF
    if os.tools and rng.random() < 0.9:  # kept across shutdowns, as xapi does; live while running
        values["guest_metrics"] = _guest_metrics(batch, ids, rng, os, site, macs, started, live)
    if live:
        for protocol in shapes.console_protocols(kind):
            console_uuid = ids.uuid()
            location = shapes.console_location(host.address, console_uuid)
            batch.add(
                "console",
                ids.ref(),
                uuid=console_uuid,
                protocol=protocol,
                VM=ref,
                location=location,
            )
    if state == "Suspended":
        values["suspend_VDI"] = add_vdi(
            batch, ids, site.shared_sr, "Suspend image", memory + 16 * MIB, 1.0, "suspend", False
        )
    metrics = batch.get("VM_metrics", str(values["metrics"]))
    gm = values["guest_metrics"]
    guest = batch.get("VM_guest_metrics", gm) if isinstance(gm, str) and gm != NULL_REF else None
    values["allowed_operations"] = allowed_operations(values, metrics, guest)
    batch.add("VM", ref, **values)
    if rng.random() < snapshot_rate:
        for _ in range(rng.randint(1, 2)):
            add_snapshot(batch, ids, rng, ref, disks, macs, rng.uniform(installed, now))
    return ref


def _boot_fields(os: OsInfo, vcpus: int) -> dict[str, Value]:
    if os.domain_type == "pv":
        return {"PV_bootloader": "pygrub", "PV_args": "-- quiet console=hvc0", "platform": {}}
    platform: dict[str, Value] = {
        "timeoffset": "0",
        "device-model": "qemu-upstream-compat",
        "videoram": "8",
        "hpet": "true",
        "secureboot": "false",
        "vga": "std",
        "nx": "true",
        "pae": "true",
        "apic": "true",
        "acpi": "1",
        "viridian": "true" if os.windows else "false",
        "cores-per-socket": str(vcpus),
    }
    if os.domain_type == "pvh":
        return {"platform": platform, "PV_bootloader": "pygrub"}
    firmware = "uefi" if os.windows else "bios"
    return {
        "HVM_boot_policy": "BIOS order",
        "HVM_boot_params": {"order": "cdn", "firmware": firmware},
        "platform": platform,
    }


def _recommendations(batch: Batch, template: str) -> Value:
    row = batch.rows.get("VM", {}).get(template)
    return row.get("recommendations", "") if row else ""


def _vm_metrics(
    batch: Batch,
    ids: Ids,
    rng: random.Random,
    os: OsInfo,
    vcpus: int,
    memory: int,
    live: bool,
    started: float,
    installed: float,
    now: float,
) -> str:
    return batch.add(
        "VM_metrics",
        ids.ref(),
        uuid=ids.uuid(),
        memory_actual=memory if live else 0,
        VCPUs_number=vcpus if live else 0,
        VCPUs_utilisation={str(i): round(rng.random() * 0.6, 4) for i in range(vcpus)}
        if live
        else {},
        start_time=DateTime.from_timestamp(started) if live else EPOCH,
        install_time=DateTime.from_timestamp(installed),
        last_updated=DateTime.from_timestamp(now),
        hvm=os.domain_type == "hvm",
        current_domain_type=os.domain_type if live else "unspecified",
    )


def _guest_metrics(
    batch: Batch,
    ids: Ids,
    rng: random.Random,
    os: OsInfo,
    site: Site,
    macs: list[tuple[str, Subnet]],
    started: float,
    live: bool,
) -> str:
    """What the guest agent reported; for a VM without a domain, what it reported last."""
    networks: dict[str, Value] = {}
    for i, (mac, subnet) in enumerate(macs):
        ip = subnet.allocate()
        networks.update({f"{i}/ip": ip, f"{i}/ipv4/0": ip, f"{i}/ipv6/0": ipv6_link_local(mac)})
    os_version: dict[str, Value] = {
        "name": os.name,
        "distro": os.distro,
        "major": os.major,
        "minor": os.minor,
    }
    if os.uname:
        os_version["uname"] = os.uname
    agent = WINDOWS_AGENT if os.windows else LINUX_AGENT
    return batch.add(
        "VM_guest_metrics",
        ids.ref(),
        uuid=ids.uuid(),
        os_version=os_version,
        PV_drivers_version=dict(agent),
        PV_drivers_up_to_date=rng.random() < 0.9,
        PV_drivers_detected=True,
        networks=networks,
        other=dict(GUEST_OTHER),
        live=live,
        last_updated=DateTime.from_timestamp(started + rng.uniform(20, 120)),
        can_use_hotplug_vbd="yes",
        can_use_hotplug_vif="yes",
    )


def _copied(v: Value) -> Value:
    """A snapshot gets its own maps and lists: records never share mutable values."""
    if isinstance(v, list):
        return list(v)
    if isinstance(v, dict):
        return dict(v)
    return v


def add_snapshot(
    batch: Batch,
    ids: Ids,
    rng: random.Random,
    vm: str,
    disks: list[tuple[str, dict[str, Value]]],
    macs: list[tuple[str, Subnet]],
    when: float,
) -> str:
    """A disk-only snapshot of ``vm`` (pending in ``batch``) taken at ``when``."""
    parent = batch.get("VM", vm)
    ref = ids.ref()
    taken = DateTime.from_timestamp(when)
    for vdi, vbd in disks:
        source = batch.get("VDI", vdi)
        size = as_int(source["virtual_size"])
        copy = add_vdi(
            batch,
            ids,
            str(source["SR"]),
            str(source["name_label"]),
            size,
            rng.uniform(0.02, 0.3),
            str(source["type"]),
            False,
            is_a_snapshot=True,
            snapshot_of=vdi,
            snapshot_time=taken,
        )
        fields = {**vbd, "VM": ref, "VDI": copy, "currently_attached": False}
        batch.add("VBD", ids.ref(), uuid=ids.uuid(), **{**fields, "allowed_operations": []})
    for i, (mac, subnet) in enumerate(macs):
        batch.add(
            "VIF",
            ids.ref(),
            uuid=ids.uuid(),
            device=str(i),
            network=subnet.network,
            VM=ref,
            MAC=mac,
            MTU=1500,
            MAC_autogenerated=True,
        )
    label = rng.choice(names.SNAPSHOT_LABELS)
    if label == "nightly":
        label = f"nightly {taken[:4]}-{taken[4:6]}-{taken[6:8]}"
    values: dict[str, Value] = {
        **{k: _copied(v) for k, v in parent.items()},
        "uuid": ids.uuid(),
        "name_label": f"{parent['name_label']} {label}",
        "name_description": "",
        "power_state": "Halted",
        "is_a_template": True,
        "is_a_snapshot": True,
        "snapshot_of": vm,
        "snapshot_time": taken,
        "snapshot_info": {
            "power-state-at-snapshot": str(parent["power_state"]),
            "disk-snapshot-type": "crash_consistent",
        },
        "resident_on": NULL_REF,
        "domid": -1,
        "memory_target": 0,
        "guest_metrics": NULL_REF,
        "suspend_VDI": NULL_REF,
        "last_boot_CPU_flags": {},
        "blocked_operations": {},
        "metrics": batch.add(
            "VM_metrics",
            ids.ref(),
            uuid=ids.uuid(),
            install_time=taken,
            last_updated=taken,
            hvm=parent["domain_type"] == "hvm",
        ),
    }
    values["allowed_operations"] = allowed_operations(
        values, batch.get("VM_metrics", str(values["metrics"]))
    )
    return batch.add("VM", ref, **values)


def destroy_vm(db: Database, vm: str) -> None:
    """Remove a VM with everything it owns: devices, metrics, consoles and its writable disks
    (shared ISO images stay). SR usage drops by what its disks used.
    """
    rec = db.get("VM", vm)
    for vbd in list(rec["VBDs"]):  # type: ignore[arg-type]
        vdi = str(db.field("VBD", str(vbd), "VDI"))
        db.destroy("VBD", str(vbd))
        if db.exists("VDI", vdi) and not db.field("VDI", vdi, "read_only"):
            adjust_sr_usage(db, [vdi], -1)
            db.destroy("VDI", vdi)
    for vif in list(rec["VIFs"]):  # type: ignore[arg-type]
        metrics = str(db.field("VIF", str(vif), "metrics"))
        db.destroy("VIF", str(vif))
        if db.exists("VIF_metrics", metrics):
            db.destroy("VIF_metrics", metrics)
    for console in list(rec["consoles"]):  # type: ignore[arg-type]
        db.destroy("console", str(console))
    for cls, field in (("VM_metrics", "metrics"), ("VM_guest_metrics", "guest_metrics")):
        if db.exists(cls, str(rec[field])):
            db.destroy(cls, str(rec[field]))
    db.destroy("VM", vm)
