"""Storage and network devices: SRs and PBDs, VDIs, a VM's disks and CD drive (VBDs), its network
interfaces (VIFs). Allowed operations are those recorded on XenServer for an idle device.
"""

from __future__ import annotations

import random

from xorca.xapi.datamodel import NULL_REF
from xorca.xapi.values import DateTime, Value
from xorca.xapi_sim.content.names import GIB, MIB
from xorca.xapi_sim.content.rowbatch import Batch, Ids, as_int
from xorca.xapi_sim.content.site import Site, Subnet
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.vm import shapes

SR_ALLOWED = [
    "vdi_create", "vdi_snapshot", "pbd_create", "pbd_destroy", "plug", "update", "vdi_destroy",
    "scan", "vdi_clone", "vdi_resize", "unplug",
]  # fmt: skip

DISK_VBD_ALLOWED = {True: ["pause", "unpause", "attach"], False: ["attach"]}

VIF_ALLOWED = {True: ["attach", "unplug"], False: ["attach"]}

VDI_IN_USE_ALLOWED = ["clone", "snapshot"]

VDI_IDLE_ALLOWED = ["generate_config", "update", "resize", "destroy", "clone", "copy", "snapshot"]


def add_sr(batch: Batch, ids: Ids, **fields: Value) -> str:
    """An SR with the given fields (``name_label``, ``type``, ``content_type``, ``shared``…)."""
    return batch.add(
        "SR", ids.ref(), uuid=ids.uuid(), allowed_operations=list(SR_ALLOWED), **fields
    )


def add_pbd(
    batch: Batch, ids: Ids, host: str, sr: str, device_config: dict[str, Value], dom0: str
) -> str:
    return batch.add(
        "PBD",
        ids.ref(),
        uuid=ids.uuid(),
        host=host,
        SR=sr,
        device_config=dict(device_config),
        currently_attached=True,
        other_config={"storage_driver_domain": dom0},
    )


def add_iso_vdi(batch: Batch, ids: Ids, sr: str, file: str, size: int, tools: bool) -> str:
    return batch.add(
        "VDI",
        ids.ref(),
        uuid=ids.uuid(),
        name_label=file,
        SR=sr,
        virtual_size=size,
        physical_utilisation=size,
        type="user",
        read_only=True,
        sharable=False,
        location=file,
        managed=True,
        is_tools_iso=tools,
        allowed_operations=["clone", "destroy"],
    )


def add_vdi(
    batch: Batch,
    ids: Ids,
    sr: str,
    label: str,
    size: int,
    used: float,
    kind: str,
    in_use: bool,
    **extra: Value,
) -> str:
    uuid = ids.uuid()
    return batch.add(
        "VDI",
        ids.ref(),
        uuid=uuid,
        name_label=label,
        name_description="Suspend image"
        if kind == "suspend"
        else "Created by template provisioner",
        SR=sr,
        virtual_size=size,
        physical_utilisation=int(size * used) // (2 * MIB) * (2 * MIB) + 2 * MIB,
        type=kind,
        sharable=False,
        read_only=False,
        location=uuid,
        managed=True,
        sm_config={"vdi_type": "vhd"},
        allowed_operations=list(VDI_IN_USE_ALLOWED if in_use else VDI_IDLE_ALLOWED),
        **extra,
    )


def add_disks(
    batch: Batch,
    ids: Ids,
    rng: random.Random,
    vm: str,
    name: str,
    sr: str,
    layout: tuple[int, ...],
    live: bool,
    kind: str,
) -> list[tuple[str, dict[str, Value]]]:
    """Disk VDIs and their VBDs; returns (VDI ref, VBD fields) for snapshots to copy."""
    out: list[tuple[str, dict[str, Value]]] = []
    for i, size_gib in enumerate(layout):
        userdevice = str(i if i < 3 else i + 1)  # 3 is the CD drive's
        vdi_type = "system" if i == 0 else "user"
        vdi = add_vdi(
            batch, ids, sr, f"{name} {i}", size_gib * GIB, rng.uniform(0.1, 0.9), vdi_type, live
        )
        vbd: dict[str, Value] = {
            "VM": vm,
            "VDI": vdi,
            "device": shapes.vbd_device(userdevice, kind),
            "userdevice": userdevice,
            "bootable": i == 0,
            "mode": "RW",
            "type": "Disk",
            "empty": False,
            "currently_attached": live,
            "allowed_operations": list(DISK_VBD_ALLOWED[live]),
        }
        batch.add("VBD", ids.ref(), uuid=ids.uuid(), **vbd)
        out.append((vdi, vbd))
    return out


def add_cd_drive(
    batch: Batch, ids: Ids, rng: random.Random, vm: str, site: Site, live: bool, kind: str
) -> None:
    iso = rng.choice(site.iso_vdis) if site.iso_vdis and rng.random() < 0.15 else NULL_REF
    empty = iso == NULL_REF
    ops = ["insert"] if empty else ["eject"]
    batch.add(
        "VBD",
        ids.ref(),
        uuid=ids.uuid(),
        VM=vm,
        VDI=iso,
        device=shapes.vbd_device("3", kind),
        userdevice="3",
        bootable=False,
        mode="RO",
        type="CD",
        empty=empty,
        currently_attached=live and not empty,
        allowed_operations=[*ops, "pause", "unpause", "attach"],
    )


def add_vifs(
    batch: Batch,
    ids: Ids,
    rng: random.Random,
    vm: str,
    site: Site,
    count: int,
    live: bool,
    now: float,
) -> list[tuple[str, Subnet]]:
    out: list[tuple[str, Subnet]] = []
    for i in range(count):
        subnet = site.subnets[0] if i == 0 and rng.random() < 0.6 else rng.choice(site.subnets)
        mac = ids.mac()
        metrics = batch.add(
            "VIF_metrics",
            ids.ref(),
            uuid=ids.uuid(),
            last_updated=DateTime.from_timestamp(now),
        )
        batch.add(
            "VIF",
            ids.ref(),
            uuid=ids.uuid(),
            device=str(i),
            network=subnet.network,
            VM=vm,
            MAC=mac,
            MTU=1500,
            currently_attached=live,
            metrics=metrics,
            MAC_autogenerated=True,
            allowed_operations=list(VIF_ALLOWED[live]),
        )
        out.append((mac, subnet))
    return out


def adjust_sr_usage(db: Database, vdis: list[str], sign: int) -> None:
    """Add (``sign`` 1) or remove (-1) the sizes of ``vdis`` to their SRs' usage fields."""
    for vdi in vdis:
        rec = db.get("VDI", vdi)
        sr = db.get("SR", str(rec["SR"]))
        allocated = as_int(sr["virtual_allocation"]) + sign * as_int(rec["virtual_size"])
        used = as_int(sr["physical_utilisation"]) + sign * as_int(rec["physical_utilisation"])
        db.update(
            "SR",
            str(rec["SR"]),
            virtual_allocation=max(0, allocated),
            physical_utilisation=max(0, used),
        )
