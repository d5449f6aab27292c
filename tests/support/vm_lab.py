"""A small hand-built pool for the VM lifecycle tests: two hosts with their dom0s, shared, local
and small SRs, a VM with tools, a PV VM without, a bare one, templates; operations take
`OP_SECONDS`."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.small_pool import (
    GIB,
    MIB,
    HostsLab,
    control_domain,
    lab_pool,
    numbered_host,
    plugged_sr,
)
from tests.support.waiting import eventually
from xorca.xapi.datamodel import NULL_REF
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers import storage
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.vm import operation, placement

OP_SECONDS = 0.04
DISKS_XML = (
    '<provision><disk device="0" size="4294967296" sr="" bootable="true" type="system"/>'
    '<disk device="1" size="1073741824" sr="" bootable="false" type="user"/></provision>'
)


@dataclass
class Lab(HostsLab):
    srs: dict[str, str] = field(default_factory=dict)
    vms: dict[str, str] = field(default_factory=dict)

    def vm(self, name: str) -> dict[str, Value]:
        return self.db.get("VM", self.vms[name])

    async def wait_task(self, task: str) -> dict[str, Value]:
        """Poll the task as a client does, until it leaves pending/cancelling; its record."""

        async def finished() -> bool:
            status = await self.call("task.get_status", task)
            assert status not in ("pending", "cancelling"), f"status {status}"
            return True

        await eventually(finished, what=f"task {task} to finish", interval=OP_SECONDS / 10)
        record = await self.call("task.get_record", task)
        assert isinstance(record, dict)
        return record

    async def operation_started(self, vm: str) -> str:
        """Let an Async call reach its handler; return the task it marked on the VM."""

        def marked() -> str | None:
            ops = self.db.field("VM", vm, "current_operations")
            assert isinstance(ops, dict)
            return next(iter(ops), None)

        # interval 0: each look lets the loop run once, so the mark is seen as soon as it is made
        return await eventually(marked, what=f"an operation marked on {vm}", interval=0)


def _host(db: Database, n: int, total: int) -> str:
    host = numbered_host(db, n, total)
    control_domain(
        db,
        host,
        vcpus=4,
        memory_static_max=2 * GIB,
        memory_dynamic_min=2 * GIB,
        memory_static_min=2 * GIB,
    )
    return host


def _vm(
    db: Database, name: str, sr: str, network: str, *, disks: bool = True, **values: Value
) -> str:
    fields: dict[str, Value] = {
        "name_label": name,
        "power_state": "Halted",
        "domid": -1,
        "memory_static_min": 512 * MIB,
        "memory_dynamic_min": 1 * GIB,
        "memory_dynamic_max": 2 * GIB,
        "memory_static_max": 2 * GIB,
        "memory_overhead": 16 * MIB,
        "VCPUs_max": 2,
        "VCPUs_at_startup": 2,
        "HVM_boot_policy": "BIOS order",
        "domain_type": "hvm",
        "metrics": db.create("VM_metrics"),
        "other_config": {"mac_seed": "seed-" + name},
    }
    fields.update(values)
    vm = db.create("VM", None, **fields)
    if disks:
        disk = db.create(
            "VDI",
            name_label=f"{name} 0",
            SR=sr,
            virtual_size=10 * GIB,
            physical_utilisation=10 * GIB,  # written full: a copy moves all of it
            type="system",
        )
        db.create("VBD", VM=vm, VDI=disk, userdevice="0", type="Disk", mode="RW", bootable=True)
    db.create("VBD", VM=vm, VDI=NULL_REF, userdevice="3", type="CD", mode="RO", empty=True)
    db.create("VIF", VM=vm, network=network, device="0", MAC="aa:00:00:00:00:01", MTU=1500)
    return vm


def build_lab() -> Lab:
    db = Database()
    hosts = [_host(db, 1, 16 * GIB), _host(db, 2, 8 * GIB)]
    shared = plugged_sr(db, hosts, "NFS", 2 << 40, type="nfs", shared=True)
    local = plugged_sr(db, hosts[:1], "Local storage host1", 500 * GIB, type="ext", shared=False)
    small = plugged_sr(db, hosts, "Small", 12 * GIB, type="nfs", shared=True)
    db.create("pool", name_label="lab", master=hosts[0], default_SR=shared, suspend_image_SR=shared)
    network = db.create("network", name_label="Pool-wide network", bridge="xenbr0")
    tools = db.create(
        "VM_guest_metrics",
        PV_drivers_version={"major": "9", "minor": "1"},
        PV_drivers_detected=True,
        other={"feature-suspend": "1", "feature-shutdown": "1"},
    )
    vms = {
        "web": _vm(db, "web", shared, network, guest_metrics=tools),
        "pv": _vm(db, "pv", local, network, domain_type="pv", HVM_boot_policy=""),
        "bare": _vm(db, "bare", shared, network),
        "tpl": _vm(
            db,
            "tpl",
            shared,
            network,
            disks=False,
            is_a_template=True,
            other_config={"disks": DISKS_XML},
        ),
        "default": _vm(
            db, "default", shared, network, is_a_template=True, is_default_template=True
        ),
    }
    for ref in db.refs("VM"):
        operation.update_allowed_operations(db, ref)
    for host in hosts:
        placement.refresh_host_memory(db, host)
    for sr in (shared, local, small):
        storage.recompute_usage(db, sr)
    pool = lab_pool(db, operation_seconds=OP_SECONDS)
    return Lab(pool, hosts=hosts, srs={"shared": shared, "local": local, "small": small}, vms=vms)
