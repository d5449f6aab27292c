"""``SR.*``, ``VDI.*``, ``VBD.*`` and ``PBD.*`` through ``dispatch.call`` on a small hand-built
pool: one host, a thick (LVM) SR, a thin (ext) SR, an ISO SR, a running PV guest, a running HVM
guest and a halted guest, each with a disk and an empty CD drive."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.support.small_pool import GIB, MIB, OneHostLab, lab_pool, lone_host, plugged_sr
from tests.support.waiting import eventually
from xorca.xapi.datamodel import NULL_REF
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers import storage, vbd
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.db import Database, Record

OP_SECONDS = 0.05


@dataclass
class Lab(OneHostLab):
    srs: dict[str, str] = field(default_factory=dict)
    vms: dict[str, str] = field(default_factory=dict)

    def sr(self, name: str) -> Record:
        return self.db.get("SR", self.srs[name])

    def disk(self, vm: str) -> str:
        """The VM's root disk drive (slot 0)."""
        (ref,) = self.db.find("VBD", VM=self.vms[vm], userdevice="0")
        return ref

    def cd(self, vm: str) -> str:
        (ref,) = self.db.find("VBD", VM=self.vms[vm], type="CD")
        return ref

    async def new_vdi(self, sr: str, size: int, **extra: Value) -> str:
        record: dict[str, Value] = {"SR": self.srs[sr], "virtual_size": size, "type": "user"}
        record.update(name_label="data", sharable=False, read_only=False, other_config={})
        record.update(extra)
        ref = await self.call("VDI.create", record)
        assert isinstance(ref, str)
        return ref


def _vm(db: Database, host: str, sr: str, name: str, power: str, kind: str) -> str:
    vm = db.create(
        "VM",
        None,
        name_label=name,
        power_state=power,
        resident_on=host if power == "Running" else NULL_REF,
        domain_type=kind,
        HVM_boot_policy="BIOS order" if kind == "hvm" else "",
    )
    running = power == "Running"
    disk = db.create("VDI", SR=sr, virtual_size=4 * GIB, physical_utilisation=4 * GIB, managed=True)
    db.create(
        "VBD",
        VM=vm,
        VDI=disk,
        userdevice="0",
        device="xvda" if running else "",
        type="Disk",
        mode="RW",
        unpluggable=False,
        currently_attached=running,
    )
    db.create("VBD", VM=vm, VDI=NULL_REF, userdevice="3", type="CD", mode="RO", empty=True)
    return vm


def build_lab() -> Lab:
    db = Database()
    host = lone_host(db, memory_total=64 * GIB)
    srs = {
        "lvm": plugged_sr(db, [host], "LVM", 40 * GIB, type="lvm", content_type="user"),
        "ext": plugged_sr(db, [host], "EXT", 100 * GIB, type="ext", content_type="user"),
        "iso": plugged_sr(db, [host], "ISO library", 10 * GIB, type="iso", content_type="user"),
    }
    vms = {
        "pv": _vm(db, host, srs["lvm"], "pv", "Running", "pv"),
        "hvm": _vm(db, host, srs["ext"], "hvm", "Running", "hvm"),
        "off": _vm(db, host, srs["ext"], "off", "Halted", "hvm"),
    }
    for sr in srs.values():
        storage.recompute_usage(db, sr)
    for vm in vms.values():
        vbd.refresh_vm_disks(db, vm)
    return Lab(lab_pool(db, operation_seconds=OP_SECONDS), host=host, srs=srs, vms=vms)


@pytest.fixture
async def lab() -> Lab:
    return await build_lab().log_in()


# ---- VDI and SR space ------------------------------------------------------------------------


async def test_thick_vdi_takes_its_size_plus_metadata_and_updates_the_sr(lab: Lab) -> None:
    before = lab.sr("lvm")
    vdi = await lab.new_vdi("lvm", 4 * GIB)
    record = lab.get("VDI", vdi)
    assert record["physical_utilisation"] == 4 * GIB + 16 * MIB  # as recorded LVM pools show
    assert record["location"] == record["uuid"]
    assert record["managed"] is True
    assert "destroy" in record["allowed_operations"]  # type: ignore[operator]
    after = lab.sr("lvm")
    assert after["physical_utilisation"] == before["physical_utilisation"] + 4 * GIB + 16 * MIB  # type: ignore[operator]
    assert after["virtual_allocation"] == before["virtual_allocation"] + 4 * GIB  # type: ignore[operator]
    assert vdi in after["VDIs"]  # type: ignore[operator]


async def test_thin_vdi_starts_with_only_its_vhd_metadata(lab: Lab) -> None:
    before = lab.sr("ext")
    vdi = await lab.new_vdi("ext", 10 * GIB)
    used = lab.get("VDI", vdi)["physical_utilisation"]
    assert 0 < used < MIB  # type: ignore[operator]
    after = lab.sr("ext")
    assert after["virtual_allocation"] == before["virtual_allocation"] + 10 * GIB  # type: ignore[operator]
    assert after["physical_utilisation"] == before["physical_utilisation"] + used  # type: ignore[operator]


async def test_a_vdi_that_does_not_fit_a_thick_sr_is_sr_full(lab: Lab) -> None:
    before = lab.sr("lvm")
    code, requested, maximum = await lab.fails(
        "VDI.create",
        {"SR": lab.srs["lvm"], "virtual_size": 64 * GIB, "type": "user", "name_label": "big"},
    )
    assert code == "SR_FULL"
    assert int(maximum) == 40 * GIB
    assert int(requested) > int(maximum)
    assert lab.sr("lvm") == before


async def test_vdi_create_needs_a_driver_that_creates_and_a_plugged_sr(lab: Lab) -> None:
    iso = lab.srs["iso"]
    assert await lab.fails("VDI.create", {"SR": iso, "virtual_size": GIB, "type": "user"}) == [
        "SR_OPERATION_NOT_SUPPORTED",
        iso,
    ]
    (pbd,) = lab.sr("ext")["PBDs"]  # type: ignore[misc]
    lab.db.update("PBD", str(pbd), currently_attached=False)
    ext = lab.srs["ext"]
    assert await lab.fails("VDI.create", {"SR": ext, "virtual_size": GIB, "type": "user"}) == [
        "SR_HAS_NO_PBDS",
        ext,
    ]


async def test_vdi_destroy_refuses_an_attached_disk_and_removes_detached_vbds(lab: Lab) -> None:
    attached = str(lab.get("VBD", lab.disk("pv"))["VDI"])
    assert await lab.fails("VDI.destroy", attached) == ["VDI_IN_USE", attached, "destroy"]
    halted_vbd = lab.disk("off")
    vdi = str(lab.get("VBD", halted_vbd)["VDI"])
    before = lab.sr("ext")
    await lab.call("VDI.destroy", vdi)
    assert not lab.db.exists("VDI", vdi)
    assert not lab.db.exists("VBD", halted_vbd)
    assert halted_vbd not in lab.get("VM", lab.vms["off"])["VBDs"]  # type: ignore[operator]
    assert lab.sr("ext")["virtual_allocation"] == before["virtual_allocation"] - 4 * GIB  # type: ignore[operator]


async def test_resize_grows_a_detached_disk_and_never_shrinks(lab: Lab) -> None:
    vdi = await lab.new_vdi("lvm", 4 * GIB)
    await lab.call("VDI.resize", vdi, 8 * GIB)
    assert lab.get("VDI", vdi)["virtual_size"] == 8 * GIB
    assert lab.get("VDI", vdi)["physical_utilisation"] == 8 * GIB + 32 * MIB
    assert (await lab.fails("VDI.resize", vdi, GIB))[0] == "SR_BACKEND_FAILURE_79"
    attached = str(lab.get("VBD", lab.disk("pv"))["VDI"])
    assert await lab.fails("VDI.resize", attached, 8 * GIB) == ["VDI_IN_USE", attached, "resize"]


async def test_snapshot_clone_and_copy(lab: Lab) -> None:
    source = await lab.new_vdi("ext", 2 * GIB, name_label="db disk")
    snap = await lab.call("VDI.snapshot", source)
    snap_record = lab.get("VDI", snap)
    assert snap_record["is_a_snapshot"] is True
    assert snap_record["snapshot_of"] == source
    assert snap in lab.get("VDI", source)["snapshots"]  # type: ignore[operator]
    assert snap_record["virtual_size"] == 2 * GIB
    clone = await lab.call("VDI.clone", source)
    assert lab.get("VDI", clone)["is_a_snapshot"] is False
    assert lab.get("VDI", clone)["name_label"] == "db disk"
    before = lab.sr("lvm")
    copy = await lab.call("VDI.copy", source, lab.srs["lvm"])
    assert lab.get("VDI", copy)["SR"] == lab.srs["lvm"]
    used = lab.sr("lvm")["physical_utilisation"] - before["physical_utilisation"]  # type: ignore[operator]
    assert used == lab.get("VDI", copy)["physical_utilisation"] == 2 * GIB + 8 * MIB


async def test_cancelled_copy_leaves_no_vdi_behind(lab: Lab) -> None:
    source = await lab.new_vdi("ext", 2 * GIB)
    before = lab.sr("lvm")
    vdis_before = set(lab.db.refs("VDI"))
    task = await dispatch.call(
        lab.pool, lab.host, "Async.VDI.copy", [lab.session, source, lab.srs["lvm"]]
    )
    await eventually(
        lambda: set(lab.db.refs("VDI")) != vdis_before, what="the copy", interval=OP_SECONDS / 20
    )
    assert len(set(lab.db.refs("VDI")) - vdis_before) == 1  # visible while it copies
    await lab.call("task.cancel", task)
    await eventually(
        lambda: lab.db.field("task", str(task), "status") == "cancelled",
        what="the copy cancelled",
        interval=OP_SECONDS / 10,
    )
    assert set(lab.db.refs("VDI")) == vdis_before
    assert lab.sr("lvm")["physical_utilisation"] == before["physical_utilisation"]


async def test_scan_recomputes_sr_usage_from_its_vdis(lab: Lab) -> None:
    lab.db.update("SR", lab.srs["ext"], physical_utilisation=1, virtual_allocation=2)
    await lab.call("SR.scan", lab.srs["ext"])
    vdis = [lab.get("VDI", v) for v in lab.sr("ext")["VDIs"]]  # type: ignore[union-attr]
    assert lab.sr("ext")["virtual_allocation"] == sum(v["virtual_size"] for v in vdis)  # type: ignore[misc]


# ---- VBD -------------------------------------------------------------------------------------


async def test_vbd_create_picks_the_first_free_slot_and_rejects_clashes(lab: Lab) -> None:
    vm = lab.vms["pv"]
    vdi = await lab.new_vdi("lvm", GIB)
    record: dict[str, Value] = {
        "VM": vm,
        "VDI": vdi,
        "userdevice": "autodetect",
        "bootable": False,
        "mode": "RW",
        "type": "Disk",
        "empty": False,
        "other_config": {},
        "qos_algorithm_type": "",
        "qos_algorithm_params": {},
    }
    vbd = await lab.call("VBD.create", record)
    created = lab.get("VBD", vbd)
    assert created["userdevice"] == "1"  # 0 and 3 are taken
    assert created["currently_attached"] is False
    assert created["device"] == ""
    assert vbd in lab.get("VM", vm)["VBDs"]  # type: ignore[operator]
    clash = {**record, "userdevice": "xvda"}
    assert await lab.fails("VBD.create", clash) == ["DEVICE_ALREADY_EXISTS", "xvda"]
    assert await lab.fails("VBD.create", {**record, "userdevice": "zz9"}) == [
        "INVALID_DEVICE",
        "zz9",
    ]
    cd = {**record, "type": "CD", "userdevice": "5"}
    assert await lab.fails("VBD.create", cd) == ["VBD_CDS_MUST_BE_READONLY"]
    empty = {**record, "empty": True, "VDI": NULL_REF, "userdevice": "6"}
    assert await lab.fails("VBD.create", empty) == ["VBD_NOT_REMOVABLE_MEDIA", "in constructor"]
    lab.db.update("VDI", vdi, read_only=True)
    assert await lab.fails("VBD.create", {**record, "userdevice": "7"}) == ["VDI_READONLY", vdi]


async def test_plug_and_unplug_follow_power_state_and_attachment(lab: Lab) -> None:
    vm = lab.vms["pv"]
    vdi = await lab.new_vdi("lvm", GIB)
    record: dict[str, Value] = {"VM": vm, "VDI": vdi, "userdevice": "2", "type": "Disk"}
    record.update(mode="RW", bootable=False, empty=False, unpluggable=True, other_config={})
    vbd = str(await lab.call("VBD.create", record))
    assert "plug" in lab.get("VBD", vbd)["allowed_operations"]  # type: ignore[operator]
    await lab.call("VBD.plug", vbd)
    plugged = lab.get("VBD", vbd)
    assert plugged["currently_attached"] is True
    assert plugged["device"] == "xvdc"
    assert set(plugged["allowed_operations"]) >= {"unplug", "unplug_force"}  # type: ignore[arg-type]
    assert await lab.fails("VBD.plug", vbd) == ["DEVICE_ALREADY_ATTACHED", vbd]
    assert (await lab.fails("VBD.destroy", vbd))[0] == "OPERATION_NOT_ALLOWED"
    await lab.call("VBD.unplug", vbd)
    assert lab.get("VBD", vbd)["currently_attached"] is False
    assert lab.get("VBD", vbd)["device"] == "xvdc"  # the name stays, as in recorded pools
    root = lab.disk("pv")
    assert await lab.fails("VBD.unplug", root) == ["VBD_NOT_UNPLUGGABLE", root]
    off = lab.disk("off")
    assert await lab.fails("VBD.plug", off) == [
        "VM_BAD_POWER_STATE",
        lab.vms["off"],
        "running",
        "halted",
    ]
    assert lab.get("VBD", off)["allowed_operations"] == ["attach"]
    await lab.call("VBD.destroy", vbd)
    assert vbd not in lab.get("VDI", vdi)["VBDs"]  # type: ignore[operator]


async def test_a_disk_in_read_write_use_cannot_be_plugged_twice(lab: Lab) -> None:
    busy = str(lab.get("VBD", lab.disk("hvm"))["VDI"])
    record: dict[str, Value] = {"VM": lab.vms["pv"], "VDI": busy, "userdevice": "4"}
    record.update(type="Disk", mode="RW", bootable=False, empty=False, unpluggable=True)
    vbd = str(await lab.call("VBD.create", record))
    assert await lab.fails("VBD.plug", vbd) == ["VDI_IN_USE", busy, "plug"]
    lab.db.update("VDI", busy, sharable=True)
    await lab.call("VBD.plug", vbd)


async def test_cd_insert_and_eject(lab: Lab) -> None:
    iso = lab.db.create("VDI", SR=lab.srs["iso"], virtual_size=GIB, managed=True, read_only=True)
    cd, disk = lab.cd("pv"), lab.disk("pv")
    assert await lab.fails("VBD.insert", disk, iso) == ["VBD_NOT_REMOVABLE_MEDIA", disk]
    assert await lab.fails("VBD.eject", cd) == ["VBD_IS_EMPTY", cd]
    await lab.call("VBD.insert", cd, iso)
    assert lab.get("VBD", cd)["VDI"] == iso
    assert lab.get("VBD", cd)["empty"] is False
    assert cd in lab.get("VDI", iso)["VBDs"]  # type: ignore[operator]
    assert await lab.fails("VBD.insert", cd, iso) == ["VBD_NOT_EMPTY", cd]
    await lab.call("VBD.eject", cd)
    assert lab.get("VBD", cd)["empty"] is True
    assert lab.get("VBD", cd)["VDI"] == NULL_REF
    lab.db.update("VM", lab.vms["pv"], power_state="Suspended")
    assert await lab.fails("VBD.insert", cd, iso) == [
        "VM_BAD_POWER_STATE",
        lab.vms["pv"],
        "halted, running",
        "suspended",
    ]


async def test_hvm_cd_drives_are_not_hot_plugged_and_modes_change_only_when_halted(
    lab: Lab,
) -> None:
    cd = lab.cd("hvm")
    assert (await lab.fails("VBD.plug", cd))[0] == "OPERATION_NOT_ALLOWED"
    disk = lab.disk("hvm")
    assert await lab.fails("VBD.set_mode", disk, "RO") == [
        "VM_BAD_POWER_STATE",
        lab.vms["hvm"],
        "halted",
        "running",
    ]
    await lab.call("VBD.set_mode", lab.disk("off"), "RO")
    assert lab.get("VBD", lab.disk("off"))["mode"] == "RO"


# ---- PBD -------------------------------------------------------------------------------------


async def test_pbd_unplug_refuses_while_a_disk_on_the_sr_is_plugged(lab: Lab) -> None:
    (pbd,) = lab.sr("lvm")["PBDs"]  # type: ignore[misc]
    busy = str(lab.get("VBD", lab.disk("pv"))["VDI"])
    assert await lab.fails("PBD.unplug", pbd) == ["VDI_IN_USE", busy, "unplug"]
    (iso_pbd,) = lab.sr("iso")["PBDs"]  # type: ignore[misc]
    await lab.call("PBD.unplug", iso_pbd)
    assert lab.get("PBD", iso_pbd)["currently_attached"] is False
    await lab.call("PBD.plug", iso_pbd)
    assert lab.get("PBD", iso_pbd)["currently_attached"] is True
