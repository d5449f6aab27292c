"""The VM lifecycle through ``dispatch.call``, on a small hand-built pool (two hosts, dom0s,
shared/local/small SRs, a tools VM, a PV VM without tools, templates)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.small_pool import GIB, MIB
from tests.support.vm_lab import OP_SECONDS, Lab, build_lab
from tests.support.waiting import eventually
from xorca.xapi.datamodel import NULL_REF, vm_operation_rules
from xorca.xapi.values import Value


@pytest.fixture
async def lab() -> Lab:
    return await build_lab().log_in()


def _free(lab: Lab, host: str) -> int:
    metrics = lab.db.get("host", host)["metrics"]
    value = lab.db.get("host_metrics", str(metrics))["memory_free"]
    assert isinstance(value, int)
    return value


def _records(lab: Lab, cls: str, refs: Value) -> list[dict[str, Value]]:
    assert isinstance(refs, list)
    return [lab.db.get(cls, str(r)) for r in refs]


def _disk_vdis(lab: Lab, vm: str) -> list[str]:
    vbds = _records(lab, "VBD", lab.db.field("VM", vm, "VBDs"))
    return [str(v["VDI"]) for v in vbds if v["type"] == "Disk"]


#: what XenServer 7.2 listed for a quiet Running and Halted VM (XAPI.md §4)
OBSERVED = vm_operation_rules()["observed_allowed_operations (XenServer 7.2, ansible fixtures)"]
RUNNING_OPS: list[str] = OBSERVED["Running"]
HALTED_OPS: list[str] = OBSERVED["Halted"]


# ---- start and its side effects --------------------------------------------------------------


async def test_start_boots_on_the_host_with_most_memory(lab: Lab) -> None:
    web = lab.vms["web"]
    host1, host2 = lab.hosts
    before = _free(lab, host1)
    assert await lab.call("VM.start", web, False, False) == ""
    vm = lab.vm("web")
    assert vm["power_state"] == "Running"
    assert vm["resident_on"] == host1
    assert vm["domid"] == 1
    assert vm["current_operations"] == {}
    assert vm["allowed_operations"] == RUNNING_OPS
    metrics = lab.db.get("VM_metrics", str(vm["metrics"]))
    assert metrics["memory_actual"] == 2 * GIB
    assert metrics["VCPUs_number"] == 2
    assert metrics["start_time"] != "19700101T00:00:00Z"
    assert metrics["current_domain_type"] == "hvm"
    (console,) = _records(lab, "console", vm["consoles"])
    assert console["protocol"] == "rfb"
    assert console["location"] == f"https://127.101.0.1/console?uuid={console['uuid']}"
    assert all(v["currently_attached"] for v in _records(lab, "VBD", vm["VBDs"]))
    assert [v["device"] for v in _records(lab, "VBD", vm["VBDs"])] == ["hda", "hdd"]
    assert all(v["currently_attached"] for v in _records(lab, "VIF", vm["VIFs"]))
    (disk,) = _disk_vdis(lab, web)
    assert "destroy" not in lab.db.field("VDI", disk, "allowed_operations")  # type: ignore[operator]
    guest = lab.db.get("VM_guest_metrics", str(vm["guest_metrics"]))
    assert guest["live"] is True
    networks = guest["networks"]
    assert isinstance(networks, dict)
    assert set(networks) == {"0/ip", "0/ipv4/0", "0/ipv6/0"}
    assert _free(lab, host1) == before - 2 * GIB - 16 * MIB
    assert _free(lab, host2) == 8 * GIB - 256 * MIB - 2 * GIB


async def test_pv_guests_get_a_text_console_and_no_guest_metrics_without_tools(lab: Lab) -> None:
    pv = lab.vms["pv"]
    await lab.call("VM.start", pv, False, False)
    vm = lab.vm("pv")
    assert sorted(str(c["protocol"]) for c in _records(lab, "console", vm["consoles"])) == [
        "rfb",
        "vt100",
    ]
    assert vm["guest_metrics"] == NULL_REF
    assert [v["device"] for v in _records(lab, "VBD", vm["VBDs"])] == ["xvda", "xvdd"]
    # a PV guest needs no drivers for a clean shutdown
    assert "clean_shutdown" in vm["allowed_operations"]  # type: ignore[operator]


async def test_domids_grow_per_host_and_are_not_reused(lab: Lab) -> None:
    web, bare = lab.vms["web"], lab.vms["bare"]
    host1, host2 = lab.hosts
    await lab.call("VM.start_on", web, host1, False, False)
    await lab.call("VM.start_on", bare, host1, False, False)
    assert (lab.vm("web")["domid"], lab.vm("bare")["domid"]) == (1, 2)
    await lab.call("VM.hard_shutdown", web)
    await lab.call("VM.start_on", web, host1, False, False)
    assert lab.vm("web")["domid"] == 3
    await lab.call("VM.hard_shutdown", web)
    await lab.call("VM.start_on", web, host2, True, False)
    assert lab.vm("web")["domid"] == 1
    assert lab.vm("web")["power_state"] == "Paused"


async def test_start_errors(lab: Lab) -> None:
    web, pv, tpl = lab.vms["web"], lab.vms["pv"], lab.vms["tpl"]
    host1, host2 = lab.hosts
    assert await lab.fails("VM.start", "OpaqueRef:nope", False, False) == [
        "HANDLE_INVALID",
        "VM",
        "OpaqueRef:nope",
    ]
    assert await lab.fails("VM.start", host1, False, False) == ["HANDLE_INVALID", "VM", host1]
    assert await lab.fails("VM.start", tpl, False, False) == ["VM_IS_TEMPLATE", tpl, "start"]
    assert await lab.fails("VM.start_on", pv, host2, False, False) == [
        "VM_REQUIRES_SR",
        pv,
        lab.srs["local"],
    ]
    lab.db.update("host", host2, enabled=False)
    assert await lab.fails("VM.start_on", web, host2, False, False) == ["HOST_DISABLED", host2]
    lab.db.update("VM", web, blocked_operations={"start": "frozen by ops"})
    assert await lab.fails("VM.start", web, False, False) == [
        "OPERATION_BLOCKED",
        web,
        "frozen by ops",
    ]
    lab.db.update("VM", web, blocked_operations={})
    await lab.call("VM.start", web, False, False)
    assert await lab.fails("VM.start", web, False, False) == [
        "VM_BAD_POWER_STATE",
        web,
        "halted",
        "running",
    ]
    assert lab.vm("web")["current_operations"] == {}


async def test_memory_is_accounted_per_host(lab: Lab) -> None:
    bare = lab.vms["bare"]
    host1, host2 = lab.hosts
    lab.db.update(
        "VM", bare, memory_static_max=7 * GIB, memory_dynamic_max=7 * GIB, memory_dynamic_min=GIB
    )
    available = 8 * GIB - 256 * MIB - 2 * GIB
    assert await lab.fails("VM.start_on", bare, host2, False, False) == [
        "HOST_NOT_ENOUGH_FREE_MEMORY",
        str(7 * GIB + 16 * MIB),
        str(available),
    ]
    await lab.call("VM.start", bare, False, False)  # only host1 has room
    assert lab.vm("bare")["resident_on"] == host1
    lab.db.update("VM", lab.vms["web"], memory_static_max=5 * GIB, memory_dynamic_max=5 * GIB)
    await lab.call("VM.start", lab.vms["web"], False, False)  # host1 still has the most room
    assert lab.vm("web")["resident_on"] == host1
    lab.db.update("VM", lab.vms["pv"], memory_static_max=7 * GIB, memory_dynamic_max=7 * GIB)
    assert await lab.fails("VM.start", lab.vms["pv"], False, False) == ["NO_HOSTS_AVAILABLE"]


# ---- shutdown, reboot, suspend, pause ----------------------------------------------------


async def test_clean_shutdown_undoes_every_side_effect(lab: Lab) -> None:
    web = lab.vms["web"]
    host1 = lab.hosts[0]
    free = _free(lab, host1)
    await lab.call("VM.start", web, False, False)
    consoles = lab.vm("web")["consoles"]
    await lab.call("VM.clean_shutdown", web)
    vm = lab.vm("web")
    assert vm["power_state"] == "Halted"
    assert vm["resident_on"] == NULL_REF
    assert vm["domid"] == -1
    assert vm["consoles"] == []
    assert isinstance(consoles, list)
    assert not any(lab.db.exists("console", str(c)) for c in consoles)
    assert not any(v["currently_attached"] for v in _records(lab, "VBD", vm["VBDs"]))
    assert not any(v["currently_attached"] for v in _records(lab, "VIF", vm["VIFs"]))
    assert lab.db.get("VM_guest_metrics", str(vm["guest_metrics"]))["live"] is False
    (disk,) = _disk_vdis(lab, web)
    assert "destroy" in lab.db.field("VDI", disk, "allowed_operations")  # type: ignore[operator]
    assert vm["allowed_operations"] == HALTED_OPS
    assert _free(lab, host1) == free


async def test_guests_without_drivers_cannot_shut_down_cleanly(lab: Lab) -> None:
    bare = lab.vms["bare"]
    await lab.call("VM.start", bare, False, False)
    assert lab.vm("bare")["allowed_operations"] == [
        "changing_dynamic_range",
        "hard_reboot",
        "hard_shutdown",
        "pause",
        "snapshot",
    ]
    assert await lab.fails("VM.clean_shutdown", bare) == ["VM_LACKS_FEATURE", bare]
    assert await lab.fails("VM.suspend", bare) == ["VM_LACKS_FEATURE", bare]
    await lab.call("VM.shutdown", bare)  # falls back to a hard shutdown
    assert lab.vm("bare")["power_state"] == "Halted"


async def test_control_domain_refuses_lifecycle_operations(lab: Lab) -> None:
    (dom0,) = [r for r, v in lab.db.records("VM") if v["is_control_domain"] and v["domid"] == 0][:1]
    assert await lab.fails("VM.clean_shutdown", dom0) == [
        "OPERATION_NOT_ALLOWED",
        "This operation is not allowed on a control domain",
    ]
    assert await lab.fails("VM.power_state_reset", dom0) == ["CANNOT_RESET_CONTROL_DOMAIN", dom0]


async def test_reboots_give_a_new_domain(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    (console,) = _records(lab, "console", lab.vm("web")["consoles"])
    await lab.call("VM.clean_reboot", web)
    vm = lab.vm("web")
    assert (vm["power_state"], vm["domid"]) == ("Running", 2)
    (after,) = _records(lab, "console", vm["consoles"])
    assert after["uuid"] != console["uuid"]
    await lab.call("VM.pause", web)
    await lab.call("VM.hard_reboot", web)
    assert (lab.vm("web")["power_state"], lab.vm("web")["domid"]) == ("Running", 3)


async def test_suspend_and_resume_elsewhere(lab: Lab) -> None:
    web = lab.vms["web"]
    host1, host2 = lab.hosts
    shared = lab.srs["shared"]
    allocation = lab.db.get("SR", shared)["virtual_allocation"]
    await lab.call("VM.start_on", web, host1, False, False)
    await lab.call("VM.suspend", web)
    vm = lab.vm("web")
    image = str(vm["suspend_VDI"])
    vdi = lab.db.get("VDI", image)
    assert (vm["power_state"], vm["resident_on"], vm["domid"]) == ("Suspended", NULL_REF, -1)
    assert vm["consoles"] == []
    assert (vdi["type"], vdi["SR"], vdi["virtual_size"]) == ("suspend", shared, 2 * GIB)
    assert lab.db.get("SR", shared)["virtual_allocation"] == allocation + 2 * GIB  # type: ignore[operator]
    assert vm["allowed_operations"] == [
        "migrate_send", "destroy", "export", "resume_on", "resume", "hard_shutdown",
        "checkpoint", "snapshot",
    ]  # fmt: skip
    assert _free(lab, host1) == 16 * GIB - 256 * MIB - 2 * GIB
    assert await lab.fails("VM.resume_on", web, "OpaqueRef:nohost", False, False) == [
        "HANDLE_INVALID",
        "host",
        "OpaqueRef:nohost",
    ]
    await lab.call("VM.resume_on", web, host2, False, False)
    vm = lab.vm("web")
    assert (vm["power_state"], vm["resident_on"], vm["suspend_VDI"]) == ("Running", host2, NULL_REF)
    assert not lab.db.exists("VDI", image)
    assert lab.db.get("SR", shared)["virtual_allocation"] == allocation
    assert await lab.fails("VM.resume", web, False, False) == [
        "VM_BAD_POWER_STATE",
        web,
        "suspended",
        "running",
    ]
    await lab.call("VM.suspend", web)
    await lab.call("VM.resume", web, True, False)  # picks a host itself, and may stay paused
    vm = lab.vm("web")
    assert (vm["power_state"], vm["resident_on"]) == ("Paused", host1)


async def test_suspend_needs_a_suspend_sr(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    lab.db.update("pool", lab.db.refs("pool")[0], suspend_image_SR=NULL_REF)
    assert await lab.fails("VM.suspend", web) == ["VM_NO_SUSPEND_SR", web]
    assert lab.vm("web")["power_state"] == "Running"
    lab.db.update("VM", web, suspend_SR=lab.srs["local"])
    await lab.call("VM.suspend", web)
    image = str(lab.vm("web")["suspend_VDI"])
    assert lab.db.field("VDI", image, "SR") == lab.srs["local"]
    await lab.call("VM.hard_shutdown", web)  # a suspended VM's hard shutdown drops its image
    assert not lab.db.exists("VDI", image)
    assert lab.vm("web")["power_state"] == "Halted"


async def test_pause_keeps_the_domain(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    domid, consoles = lab.vm("web")["domid"], lab.vm("web")["consoles"]
    await lab.call("VM.pause", web)
    vm = lab.vm("web")
    assert (vm["power_state"], vm["domid"], vm["consoles"]) == ("Paused", domid, consoles)
    assert await lab.fails("VM.pause", web) == ["VM_BAD_POWER_STATE", web, "running", "paused"]
    await lab.call("VM.unpause", web)
    assert lab.vm("web")["power_state"] == "Running"


# ---- migration -------------------------------------------------------------------------------


async def test_pool_migrate_moves_domain_consoles_and_memory(lab: Lab) -> None:
    web = lab.vms["web"]
    host1, host2 = lab.hosts
    await lab.call("VM.start_on", web, host1, False, False)
    free1 = _free(lab, host1)
    await lab.call("VM.pool_migrate", web, host2, {})
    vm = lab.vm("web")
    assert (vm["resident_on"], vm["domid"], vm["power_state"]) == (host2, 1, "Running")
    (console,) = _records(lab, "console", vm["consoles"])
    assert console["location"] == f"https://127.101.0.2/console?uuid={console['uuid']}"
    assert _free(lab, host1) == free1 + 2 * GIB + 16 * MIB
    assert _free(lab, host2) == 8 * GIB - 256 * MIB - 2 * GIB - 2 * GIB - 16 * MIB
    # a localhost migration is legal: a new domain on the same host
    await lab.call("VM.pool_migrate", web, host2, {})
    assert (lab.vm("web")["resident_on"], lab.vm("web")["domid"]) == (host2, 2)


async def test_pool_migrate_errors(lab: Lab) -> None:
    web, pv, bare = lab.vms["web"], lab.vms["pv"], lab.vms["bare"]
    host1, host2 = lab.hosts
    assert await lab.fails("VM.pool_migrate", web, host2, {}) == [
        "VM_BAD_POWER_STATE",
        web,
        "running",
        "halted",
    ]
    await lab.call("VM.start_on", pv, host1, False, False)
    assert await lab.fails("VM.pool_migrate", pv, host2, {}) == [
        "VM_REQUIRES_SR",
        pv,
        lab.srs["local"],
    ]
    await lab.call("VM.start_on", bare, host1, False, False)
    assert await lab.fails("VM.pool_migrate", bare, host2, {}) == ["VM_LACKS_FEATURE", bare]
    await lab.call("VM.pool_migrate", bare, host2, {"force": "true"})
    assert lab.vm("bare")["resident_on"] == host2
    lab.db.update("VM", web, memory_static_max=5 * GIB, memory_dynamic_max=5 * GIB)
    await lab.call("VM.start_on", web, host1, False, False)
    assert await lab.fails("VM.pool_migrate", web, host2, {}) == [
        "HOST_NOT_ENOUGH_FREE_MEMORY",
        str(5 * GIB + 16 * MIB),
        str(8 * GIB - 256 * MIB - 2 * GIB - 2 * GIB - 16 * MIB),
    ]
    assert lab.vm("web")["scheduled_to_be_resident_on"] == NULL_REF


# ---- clone, copy, snapshot, checkpoint, revert -----------------------------------------------


async def test_clone_gives_a_halted_vm_with_new_disks_and_macs(lab: Lab) -> None:
    web = lab.vms["web"]
    clone = await lab.call("VM.clone", web, "web-clone")
    assert isinstance(clone, str)
    vm = lab.db.get("VM", clone)
    assert (vm["name_label"], vm["power_state"], vm["is_a_template"]) == (
        "web-clone",
        "Halted",
        False,
    )
    assert (vm["is_a_snapshot"], vm["snapshot_of"], vm["resident_on"]) == (
        False,
        NULL_REF,
        NULL_REF,
    )
    assert vm["allowed_operations"] == HALTED_OPS
    assert vm["guest_metrics"] == NULL_REF
    assert vm["metrics"] != lab.vm("web")["metrics"]
    (old_vdi,), (new_vdi,) = _disk_vdis(lab, web), _disk_vdis(lab, clone)
    assert new_vdi != old_vdi
    vdi = lab.db.get("VDI", new_vdi)
    assert (vdi["SR"], vdi["is_a_snapshot"], vdi["virtual_size"]) == (
        lab.srs["shared"],
        False,
        10 * GIB,
    )
    cd = [v for v in _records(lab, "VBD", vm["VBDs"]) if v["type"] == "CD"]
    assert cd[0]["empty"] is True
    (old_vif,), (new_vif,) = (_records(lab, "VIF", v["VIFs"]) for v in (lab.vm("web"), vm))
    assert new_vif["MAC"] != old_vif["MAC"]
    assert new_vif["network"] == old_vif["network"]
    await lab.call("VM.start", web, False, False)
    assert await lab.fails("VM.clone", web, "x") == ["VM_BAD_POWER_STATE", web, "halted", "running"]


async def test_clones_of_templates_stay_templates_but_not_default_ones(lab: Lab) -> None:
    clone = await lab.call("VM.clone", lab.vms["default"], "from default")
    assert isinstance(clone, str)
    vm = lab.db.get("VM", clone)
    assert (vm["is_a_template"], vm["is_default_template"]) == (True, False)
    assert "destroy" in vm["allowed_operations"]  # type: ignore[operator]


async def test_copy_onto_another_sr_and_sr_full(lab: Lab) -> None:
    web, small = lab.vms["web"], lab.srs["small"]
    copy = await lab.call("VM.copy", web, "web-copy", small)
    assert isinstance(copy, str)
    (vdi,) = _disk_vdis(lab, copy)
    assert lab.db.field("VDI", vdi, "SR") == small
    assert lab.db.get("SR", small)["virtual_allocation"] == 10 * GIB
    assert await lab.fails("VM.copy", web, "too big", small) == [
        "SR_FULL",
        str(20 * GIB),
        str(12 * GIB),
    ]
    same = await lab.call("VM.copy", web, "same SRs", NULL_REF)
    assert isinstance(same, str)
    (vdi,) = _disk_vdis(lab, same)
    assert lab.db.field("VDI", vdi, "SR") == lab.srs["shared"]


async def test_snapshot_of_a_running_vm(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    snap = await lab.call("VM.snapshot", web, "before upgrade")
    assert isinstance(snap, str)
    vm, parent = lab.db.get("VM", snap), lab.vm("web")
    assert (vm["is_a_snapshot"], vm["is_a_template"], vm["snapshot_of"]) == (True, True, web)
    assert (vm["power_state"], vm["resident_on"], vm["domid"]) == ("Halted", NULL_REF, -1)
    assert vm["snapshot_time"] != "19700101T00:00:00Z"
    assert vm["snapshot_info"] == {
        "disk-snapshot-type": "crash_consistent",
        "power-state-at-snapshot": "Running",
    }
    assert vm["allowed_operations"] == ["destroy", "export", "revert", "clone", "copy"]
    assert parent["snapshots"] == [snap]
    assert parent["parent"] == snap
    assert parent["power_state"] == "Running"
    (orig,), (copy,) = _disk_vdis(lab, web), _disk_vdis(lab, snap)
    vdi = lab.db.get("VDI", copy)
    assert (vdi["is_a_snapshot"], vdi["snapshot_of"]) == (True, orig)
    assert lab.db.field("VDI", orig, "snapshots") == [copy]
    (pv,), (sv,) = (_records(lab, "VIF", v["VIFs"]) for v in (parent, vm))
    assert sv["MAC"] == pv["MAC"]
    assert vm["guest_metrics"] not in (NULL_REF, parent["guest_metrics"])
    assert await lab.fails("VM.start", snap, False, False) == ["VM_IS_SNAPSHOT", snap, "start"]
    second = await lab.call("VM.snapshot", web, "no disks", [orig])
    assert _disk_vdis(lab, str(second)) == []
    assert lab.db.field("VM", str(second), "parent") == snap


async def test_checkpoint_keeps_memory_in_the_snapshot(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    snap = await lab.call("VM.checkpoint", web, "with memory")
    assert isinstance(snap, str)
    vm = lab.db.get("VM", snap)
    assert vm["power_state"] == "Suspended"
    image = lab.db.get("VDI", str(vm["suspend_VDI"]))
    assert (image["type"], image["SR"]) == ("suspend", lab.srs["shared"])
    assert vm["allowed_operations"] == [
        "destroy", "export", "hard_shutdown", "revert", "clone", "copy",
    ]  # fmt: skip
    assert lab.vm("web")["power_state"] == "Running"


async def test_revert_restores_disks_settings_and_power_state(lab: Lab) -> None:
    web = lab.vms["web"]
    snap = await lab.call("VM.snapshot", web, "clean")
    assert isinstance(snap, str)
    (before,) = _disk_vdis(lab, web)
    lab.db.update("VM", web, VCPUs_at_startup=1)
    await lab.call("VM.start", web, False, False)
    # not a snapshot: no snapshot metadata to find its VM by, before any lifecycle check
    assert await lab.fails("VM.revert", web) == ["VM_REVERT_FAILED", web, NULL_REF]
    await lab.call("VM.revert", snap)
    vm = lab.vm("web")
    assert (vm["power_state"], vm["resident_on"], vm["VCPUs_at_startup"]) == ("Halted", NULL_REF, 2)
    assert vm["parent"] == snap
    (after,) = _disk_vdis(lab, web)
    assert after != before
    assert not lab.db.exists("VDI", before)
    assert lab.db.field("VDI", after, "is_a_snapshot") is False
    assert lab.db.field("VM", snap, "current_operations") == {}
    assert vm["current_operations"] == {}
    # a checkpoint reverts to a suspended VM
    await lab.call("VM.start", web, False, False)
    checkpoint = await lab.call("VM.checkpoint", web, "live")
    await lab.call("VM.revert", checkpoint)
    vm = lab.vm("web")
    assert vm["power_state"] == "Suspended"
    assert lab.db.field("VDI", str(vm["suspend_VDI"]), "type") == "suspend"


async def test_revert_recreates_a_destroyed_vm(lab: Lab) -> None:
    web = lab.vms["web"]
    snap = await lab.call("VM.snapshot", web, "keep")
    assert isinstance(snap, str)
    await lab.call("VM.destroy", web)
    assert lab.db.field("VM", snap, "snapshot_of") == NULL_REF
    await lab.call("VM.revert", snap)
    vm = str(lab.db.field("VM", snap, "snapshot_of"))
    assert lab.db.get("VM", vm)["name_label"] == "keep"
    assert lab.db.get("VM", vm)["is_a_snapshot"] is False
    assert len(_disk_vdis(lab, vm)) == 1


# ---- destroy, provision, the rest ------------------------------------------------------------


async def test_destroy_removes_the_vm_but_keeps_its_disks(lab: Lab) -> None:
    web = lab.vms["web"]
    vm = lab.vm("web")
    (vdi,) = _disk_vdis(lab, web)
    await lab.call("VM.destroy", web)
    assert not lab.db.exists("VM", web)
    assert not any(lab.db.exists("VBD", str(r)) for r in vm["VBDs"])  # type: ignore[union-attr]
    assert not any(lab.db.exists("VIF", str(r)) for r in vm["VIFs"])  # type: ignore[union-attr]
    assert not lab.db.exists("VM_metrics", str(vm["metrics"]))
    assert not lab.db.exists("VM_guest_metrics", str(vm["guest_metrics"]))
    assert lab.db.field("VDI", vdi, "VBDs") == []
    await lab.call("VM.start", lab.vms["bare"], False, False)
    assert await lab.fails("VM.destroy", lab.vms["bare"]) == [
        "VM_BAD_POWER_STATE",
        lab.vms["bare"],
        "halted, suspended",
        "running",
    ]
    default = lab.vms["default"]
    assert await lab.fails("VM.destroy", default) == ["VM_IS_TEMPLATE", default, "destroy"]


async def test_destroy_rebases_children(lab: Lab) -> None:
    web = lab.vms["web"]
    first = await lab.call("VM.snapshot", web, "one")
    second = await lab.call("VM.snapshot", web, "two")
    assert lab.db.field("VM", str(second), "parent") == first
    await lab.call("VM.destroy", first)
    assert lab.db.field("VM", str(second), "parent") == NULL_REF
    assert lab.vm("web")["snapshots"] == [second]


async def test_provision_creates_the_template_disks(lab: Lab) -> None:
    tpl = lab.vms["tpl"]
    assert await lab.fails("VM.provision", lab.vms["web"]) == ["PROVISION_ONLY_ALLOWED_ON_TEMPLATE"]
    await lab.call("VM.provision", tpl)
    disks = {
        str(v["userdevice"]): (v["bootable"], lab.db.get("VDI", str(v["VDI"])))
        for v in _records(lab, "VBD", lab.vm("tpl")["VBDs"])
        if v["type"] == "Disk"
    }
    assert sorted(disks) == ["0", "1"]
    boot, root = disks["0"]
    assert (boot, root["virtual_size"], root["type"], root["SR"]) == (
        True,
        4 * GIB,
        "system",
        lab.srs["shared"],
    )
    assert (disks["1"][0], disks["1"][1]["virtual_size"], disks["1"][1]["type"]) == (
        False,
        GIB,
        "user",
    )
    assert lab.vm("tpl")["other_config"] == {}
    await lab.call("VM.provision", tpl)  # the key is gone: nothing more to create
    assert len(_disk_vdis(lab, tpl)) == 2


async def test_power_state_reset_forgets_the_domain(lab: Lab) -> None:
    web = lab.vms["web"]
    host1 = lab.hosts[0]
    free = _free(lab, host1)
    await lab.call("VM.start_on", web, host1, False, False)
    await lab.call("VM.power_state_reset", web)
    vm = lab.vm("web")
    assert (vm["power_state"], vm["resident_on"], vm["domid"]) == ("Halted", NULL_REF, -1)
    assert vm["allowed_operations"] == HALTED_OPS
    assert _free(lab, host1) == free


async def test_assert_and_update_allowed_operations(lab: Lab) -> None:
    web = lab.vms["web"]
    assert await lab.call("VM.assert_operation_valid", web, "start") == ""
    assert await lab.fails("VM.assert_operation_valid", web, "pause") == [
        "VM_BAD_POWER_STATE",
        web,
        "running",
        "halted",
    ]
    lab.db.update("VM", web, allowed_operations=[])
    await lab.call("VM.update_allowed_operations", web)
    assert lab.vm("web")["allowed_operations"] == HALTED_OPS
    assert await lab.call("VM.get_allowed_VBD_devices", web) == ["1", "2", *map(str, range(4, 16))]
    assert await lab.call("VM.get_allowed_VIF_devices", web) == ["1", "2", "3", "4", "5", "6"]
    assert await lab.call("VM.get_allowed_VBD_devices", lab.vms["bare"]) == ["1", "2"]


async def test_memory_and_vcpu_setters(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.set_memory_dynamic_range", web, GIB, 3 * GIB // 2)
    assert (lab.vm("web")["memory_dynamic_min"], lab.vm("web")["memory_dynamic_max"]) == (
        GIB,
        3 * GIB // 2,
    )
    assert await lab.fails("VM.set_memory_dynamic_range", web, GIB, 3 * GIB) == [
        "MEMORY_CONSTRAINT_VIOLATION_ORDER"
    ]
    await lab.call("VM.set_memory", web, 4 * GIB)
    assert lab.vm("web")["memory_static_max"] == 4 * GIB
    await lab.call("VM.set_VCPUs_max", web, 4)
    await lab.call("VM.set_VCPUs_at_startup", web, 3)
    assert await lab.fails("VM.set_VCPUs_at_startup", web, 5) == [
        "VALUE_NOT_SUPPORTED",
        "VCPUs_at_startup",
        "5",
        "VCPU values must satisfy: 0 < VCPUs_at_startup <= VCPUs_max",
    ]
    await lab.call("VM.start_on", web, lab.hosts[1], False, False)
    assert await lab.fails("VM.set_VCPUs_max", web, 8) == [
        "VM_BAD_POWER_STATE",
        web,
        "halted",
        "running",
    ]
    await lab.call("VM.set_VCPUs_number_live", web, 4)
    assert lab.db.field("VM_metrics", str(lab.vm("web")["metrics"]), "VCPUs_number") == 4
    free = _free(lab, lab.hosts[1])
    await lab.call("VM.set_memory_dynamic_range", web, 2 * GIB, 3 * GIB)
    assert _free(lab, lab.hosts[1]) == free + GIB
    await lab.call("VM.set_memory_dynamic_range", web, 2 * GIB, 4 * GIB)
    assert _free(lab, lab.hosts[1]) == free
    assert await lab.fails("VM.set_memory_dynamic_max", web, 4 * GIB + 1) == [
        "MEMORY_CONSTRAINT_VIOLATION_ORDER"
    ]


# ---- tasks, cancellation, concurrency --------------------------------------------------------


async def test_async_calls_run_as_tasks(lab: Lab) -> None:
    web = lab.vms["web"]
    task = await lab.call("Async.VM.start", web, False, False)
    assert isinstance(task, str)
    assert await lab.operation_started(web) == task
    assert lab.vm("web")["current_operations"] == {task: "start"}
    assert lab.vm("web")["allowed_operations"] == []
    assert lab.db.get("task", task)["name_label"] == "Async.VM.start"
    done = await lab.wait_task(task)
    assert (done["status"], done["progress"], done["result"]) == ("success", 1.0, "<value></value>")
    assert lab.vm("web")["power_state"] == "Running"
    assert lab.vm("web")["current_operations"] == {}
    snap_task = await lab.call("Async.VM.snapshot", web, "async")
    done = await lab.wait_task(str(snap_task))
    snapshots = lab.vm("web")["snapshots"]
    assert isinstance(snapshots, list)
    (snap,) = snapshots
    assert done["result"] == f"<value>{snap}</value>"
    failing = await lab.call("Async.VM.start", web, False, False)
    done = await lab.wait_task(str(failing))
    assert done["status"] == "failure"
    assert done["error_info"] == ["VM_BAD_POWER_STATE", web, "halted", "running"]


async def test_progress_is_reported_while_running(lab: Lab) -> None:
    web = lab.vms["web"]
    task = str(await lab.call("Async.VM.start", web, False, False))
    seen: list[Value] = []

    def finished() -> bool:
        record = lab.db.get("task", task)
        if record["status"] == "pending":
            seen.append(record["progress"])
            return False
        return True

    await eventually(finished, what="the start to finish", interval=OP_SECONDS / 20)
    assert all(isinstance(p, float) for p in seen)
    assert any(0.0 < p < 1.0 for p in seen if isinstance(p, float))


async def test_cancel_leaves_the_vm_as_it_was(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    domid = lab.vm("web")["domid"]
    task = str(await lab.call("Async.VM.clean_shutdown", web))
    await lab.operation_started(web)
    await lab.call("task.cancel", task)
    done = await lab.wait_task(task)
    assert done["status"] == "cancelled"
    assert done["error_info"] == ["TASK_CANCELLED", task]
    vm = lab.vm("web")
    assert (vm["power_state"], vm["domid"], vm["current_operations"]) == ("Running", domid, {})
    assert vm["allowed_operations"] == RUNNING_OPS


async def test_cancelled_start_releases_its_reservation(lab: Lab) -> None:
    web = lab.vms["web"]
    host1 = lab.hosts[0]
    free = _free(lab, host1)
    task = str(await lab.call("Async.VM.start_on", web, host1, False, False))
    await lab.operation_started(web)
    assert lab.vm("web")["scheduled_to_be_resident_on"] == host1
    assert _free(lab, host1) == free - 2 * GIB - 16 * MIB
    await lab.call("task.cancel", task)
    assert (await lab.wait_task(task))["status"] == "cancelled"
    vm = lab.vm("web")
    assert (vm["power_state"], vm["scheduled_to_be_resident_on"]) == ("Halted", NULL_REF)
    assert _free(lab, host1) == free


async def test_a_second_operation_meets_the_first(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    task = str(await lab.call("Async.VM.clean_shutdown", web))
    await lab.operation_started(web)
    assert await lab.fails("VM.pause", web) == [
        "OTHER_OPERATION_IN_PROGRESS",
        "VM",
        web,
        "clean_shutdown",
        task,
    ]
    assert lab.vm("web")["allowed_operations"] == ["hard_reboot", "hard_shutdown"]
    assert (await lab.wait_task(task))["status"] == "success"


async def test_snapshots_may_run_together(lab: Lab) -> None:
    web = lab.vms["web"]
    first = str(await lab.call("Async.VM.snapshot", web, "a"))
    await lab.operation_started(web)
    second = str(await lab.call("Async.VM.snapshot", web, "b"))
    results = [await lab.wait_task(t) for t in (first, second)]
    assert [r["status"] for r in results] == ["success", "success"]
    assert len(lab.vm("web")["snapshots"]) == 2  # type: ignore[arg-type]


async def test_hard_shutdown_cancels_a_clean_shutdown_in_flight(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    clean = str(await lab.call("Async.VM.clean_shutdown", web))
    await lab.operation_started(web)
    await lab.call("VM.hard_shutdown", web)
    assert (await lab.wait_task(clean))["status"] == "cancelled"
    assert lab.vm("web")["power_state"] == "Halted"
    assert lab.vm("web")["current_operations"] == {}


async def test_sync_calls_are_tracked_by_a_hidden_task(lab: Lab) -> None:
    web = lab.vms["web"]
    call = asyncio.ensure_future(lab.call("VM.start", web, False, False))
    task = await lab.operation_started(web)
    assert lab.db.get("task", task)["name_label"] == "VM.start"
    await call
    assert not lab.db.exists("task", task)


async def test_shutdown_is_one_operation_of_its_own(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    task = str(await lab.call("Async.VM.shutdown", web))
    assert await lab.operation_started(web) == task
    assert lab.vm("web")["current_operations"] == {task: "shutdown"}
    assert (await lab.wait_task(task))["status"] == "success"
    assert lab.vm("web")["power_state"] == "Halted"
    await lab.call("VM.start", web, False, False)
    await lab.call("VM.suspend", web)
    image = str(lab.vm("web")["suspend_VDI"])
    await lab.call("VM.shutdown", web)  # a suspended VM just loses its image
    assert lab.vm("web")["power_state"] == "Halted"
    assert not lab.db.exists("VDI", image)


async def test_hard_shutdown_cancels_a_shutdown_in_flight(lab: Lab) -> None:
    web = lab.vms["web"]
    await lab.call("VM.start", web, False, False)
    soft = str(await lab.call("Async.VM.shutdown", web))
    await lab.operation_started(web)
    await lab.call("VM.hard_shutdown", web)
    done = await lab.wait_task(soft)
    assert (done["status"], done["error_info"]) == ("cancelled", ["TASK_CANCELLED", soft])


# ---- errors checked against xapi's own order ---------------------------------------------


async def test_revert_of_what_is_not_a_snapshot_fails_before_any_check(lab: Lab) -> None:
    web, tpl = lab.vms["web"], lab.vms["tpl"]
    lab.db.update("VM", web, blocked_operations={"revert": "no"})
    assert await lab.fails("VM.revert", web) == ["VM_REVERT_FAILED", web, NULL_REF]
    assert await lab.fails("VM.revert", tpl) == ["VM_REVERT_FAILED", tpl, NULL_REF]
    assert await lab.fails("VM.revert", "OpaqueRef:nope") == [
        "HANDLE_INVALID",
        "VM",
        "OpaqueRef:nope",
    ]
    lab.db.update("VM", web, blocked_operations={})
    # the lifecycle rule itself is what assert_operation_valid reports
    assert await lab.fails("VM.assert_operation_valid", web, "revert") == [
        "REVERT_ONLY_ALLOWED_ON_SNAPSHOT"
    ]
    assert lab.vm("web")["current_operations"] == {}


async def test_a_guest_that_cannot_suspend_says_why(lab: Lab) -> None:
    web, bare = lab.vms["web"], lab.vms["bare"]
    reason = "UEFI guests cannot be resumed"
    gm = str(lab.vm("web")["guest_metrics"])
    lab.db.update(
        "VM_guest_metrics",
        gm,
        other={"feature-suspend": "1", "data-cant-suspend-reason": reason},
    )
    # halted: the power state is checked first
    assert await lab.fails("VM.suspend", web) == ["VM_BAD_POWER_STATE", web, "running", "halted"]
    await lab.call("VM.start", web, False, False)
    for op in ("suspend", "checkpoint", "pool_migrate", "migrate_send"):
        assert op not in lab.vm("web")["allowed_operations"]  # type: ignore[operator]
    assert await lab.fails("VM.suspend", web) == ["VM_NON_SUSPENDABLE", web, reason]
    assert await lab.fails("VM.checkpoint", web, "cp") == ["VM_NON_SUSPENDABLE", web, reason]
    assert await lab.fails("VM.pool_migrate", web, lab.hosts[1], {"force": "true"}) == [
        "VM_NON_SUSPENDABLE",
        web,
        reason,
    ]  # strict or not
    assert "snapshot" in lab.vm("web")["allowed_operations"]  # type: ignore[operator]
    await lab.call("VM.pause", web)
    assert await lab.fails("VM.checkpoint", web, "cp") == ["VM_NON_SUSPENDABLE", web, reason]
    # the reason wins over a guest without drivers that lacks feature-suspend too
    lab.db.update("VM", bare, guest_metrics=lab.db.create("VM_guest_metrics", other={}))
    await lab.call("VM.start", bare, False, False)
    assert await lab.fails("VM.suspend", bare) == ["VM_LACKS_FEATURE", bare]
    gm_bare = str(lab.vm("bare")["guest_metrics"])
    lab.db.update("VM_guest_metrics", gm_bare, other={"data-cant-suspend-reason": "x"})
    assert await lab.fails("VM.suspend", bare) == ["VM_NON_SUSPENDABLE", bare, "x"]


async def test_a_paused_guest_without_drivers_cannot_checkpoint(lab: Lab) -> None:
    bare = lab.vms["bare"]
    await lab.call("VM.start", bare, True, False)
    assert lab.vm("bare")["power_state"] == "Paused"
    assert await lab.fails("VM.checkpoint", bare, "cp") == ["VM_LACKS_FEATURE", bare]
    assert "checkpoint" not in lab.vm("bare")["allowed_operations"]  # type: ignore[operator]


async def test_snapshot_with_quiesce_is_always_refused(lab: Lab) -> None:
    web = lab.vms["web"]
    op = "snapshot_with_quiesce"
    assert await lab.fails("VM.assert_operation_valid", web, op) == [
        "VM_BAD_POWER_STATE",
        web,
        "running",
        "halted",
    ]
    gm = str(lab.vm("web")["guest_metrics"])
    lab.db.update("VM_guest_metrics", gm, other={"feature-quiesce": "1", "feature-snapshot": "1"})
    await lab.call("VM.start", web, False, False)
    assert op not in lab.vm("web")["allowed_operations"]  # type: ignore[operator]
    assert await lab.fails("VM.assert_operation_valid", web, op) == [
        "VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED",
        web,
    ]
    lab.db.update("VM", web, blocked_operations={op: "frozen"})
    assert await lab.fails("VM.assert_operation_valid", web, op) == [
        "OPERATION_BLOCKED",
        web,
        "frozen",
    ]


# ---- task.cancel, exactly ------------------------------------------------------------------


def _cancel_entry(record: dict[str, Value]) -> list[tuple[str, str]]:
    ops = record["current_operations"]
    assert isinstance(ops, dict)
    return [(str(k), str(v)) for k, v in ops.items()]


async def test_cancel_marks_the_task_and_leaves_its_status(lab: Lab) -> None:
    web = lab.vms["web"]
    task = str(await lab.call("Async.VM.start", web, False, False))
    await lab.operation_started(web)
    assert await lab.call("task.cancel", task) == ""
    record = lab.db.get("task", task)
    assert record["status"] == "pending"  # xapi never writes "cancelling" here
    ((key, op),) = _cancel_entry(record)
    assert op == "cancel"
    assert key.startswith("DummyRef:|") and key.endswith("|task.cancel")  # the cancel call's task
    done = await lab.wait_task(task)
    assert (done["status"], done["error_info"]) == ("cancelled", ["TASK_CANCELLED", task])
    assert _cancel_entry(done) == [(key, "cancel")]  # finishing keeps it
    assert done["allowed_operations"] == []


async def test_cancel_refuses_only_an_unknown_task(lab: Lab) -> None:
    assert await lab.fails("task.cancel", "OpaqueRef:nope") == [
        "HANDLE_INVALID",
        "task",
        "OpaqueRef:nope",
    ]
    web = lab.vms["web"]
    task = str(await lab.call("Async.VM.start", web, False, False))
    done = await lab.wait_task(task)
    assert await lab.call("task.cancel", task) == ""  # finished: accepted, and nothing changes
    after = lab.db.get("task", task)
    assert (after["status"], after["result"]) == ("success", done["result"])
    assert [op for _, op in _cancel_entry(after)] == ["cancel"]
    # a task another client made, advertising no cancel, a subtask: all accepted
    other = lab.db.create("task", name_label="other", status="pending", allowed_operations=[])
    sub = lab.db.create("task", name_label="sub", status="pending", subtask_of=other)
    for ref in (other, sub):
        assert await lab.call("task.cancel", ref) == ""
        assert [op for _, op in _cancel_entry(lab.db.get("task", ref))] == ["cancel"]
        assert lab.db.get("task", ref)["status"] == "pending"


async def test_a_revert_cannot_be_cancelled(lab: Lab) -> None:
    web = lab.vms["web"]
    snap = str(await lab.call("VM.snapshot", web, "base"))
    task = str(await lab.call("Async.VM.revert", snap))
    await lab.operation_started(snap)
    await asyncio.sleep(OP_SECONDS / 5)
    assert lab.db.get("task", task)["allowed_operations"] == []
    await lab.call("task.cancel", task)
    assert (await lab.wait_task(task))["status"] == "success"


async def test_destroy_of_a_running_task_marks_it_and_it_goes_when_done(lab: Lab) -> None:
    web = lab.vms["web"]
    task = str(await lab.call("Async.VM.start", web, False, False))
    await lab.operation_started(web)
    await lab.call("task.destroy", task)
    assert lab.db.get("task", task)["current_operations"] == {"task": "destroy"}
    await eventually(
        lambda: not lab.db.exists("task", task), what="the task gone", interval=OP_SECONDS / 10
    )
    assert lab.vm("web")["power_state"] == "Running"
    # a cancel replaces the mark: the task then stays once cancelled (xapi_task.ml cancel)
    await lab.call("VM.hard_shutdown", web)
    task = str(await lab.call("Async.VM.start", web, False, False))
    await lab.operation_started(web)
    await lab.call("task.destroy", task)
    await lab.call("task.cancel", task)
    assert (await lab.wait_task(task))["status"] == "cancelled"
    assert lab.db.exists("task", task)
