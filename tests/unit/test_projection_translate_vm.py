"""VM objects (of all four types) from hand-built records, compared whole, and what their
translation reads through the lookup."""

from __future__ import annotations

import pytest

from tests.support.raw_records import NULL, POOL, Records, ref
from xorca.projection.core.records import Raw

# ---- vm ----------------------------------------------------------------------------------------


@pytest.fixture
def running_vm() -> Records:
    db = Records()
    db.add("host", "h1", name_label="host one")
    db.add("sr", "sr1", name_label="NFS")
    db.add("vdi", "vdi1", name_label="web 0", virtual_size=21474836480, SR=ref("sr1"))
    db.add(
        "vbd",
        "vbd1",
        VM=ref("vm1"),
        VDI=ref("vdi1"),
        device="xvda",
        userdevice="0",
        mode="RW",
        type="Disk",
        bootable=True,
        empty=False,
        currently_attached=True,
    )
    db.add(
        "vbd",
        "vbd2",
        VM=ref("vm1"),
        VDI=NULL,
        device="xvdd",
        userdevice="3",
        mode="RO",
        type="CD",
        bootable=False,
        empty=True,
        currently_attached=True,
    )
    db.add(
        "vif", "vif1", VM=ref("vm1"), device="1", MAC="aa:00:00:00:00:01", currently_attached=True
    )
    db.add(
        "vif", "vif0", VM=ref("vm1"), device="0", MAC="aa:00:00:00:00:00", currently_attached=True
    )
    db.add("console", "con1", protocol="rfb", location="https://10.0.0.1/console?uuid=con1-uuid")
    db.add("task", "t1", name_label="Async.VM.snapshot")
    db.add(
        "vm_metrics",
        "m1",
        memory_actual=2147483648,
        VCPUs_number=2,
        VCPUs_utilisation={"1": 0.5, "0": 0.25},
        start_time="20261126T09:00:00Z",
        install_time="19700101T00:00:00Z",
    )
    db.add(
        "vm_guest_metrics",
        "g1",
        os_version={
            "name": "Debian GNU/Linux 12 (bookworm)",
            "distro": "debian",
            "uname": "6.1.0-25-amd64",
            "major": "12",
            "minor": "7",
        },
        PV_drivers_version={"major": "8", "minor": "4", "micro": "0", "build": "1"},
        PV_drivers_up_to_date=True,
        PV_drivers_detected=True,
        networks={
            "0/ip": "10.0.0.5",
            "0/ipv4/0": "10.0.0.5",
            "0/ipv6/0": "fe80::1",
            "1/ipv4/0": "192.168.1.5",
            "1/ipv4/1": "192.168.1.6",
        },
    )
    db.add("vm", "vm1", name_label="web", name_description="front end", tags=["prod", "b", "prod"],
           power_state="Running", is_a_template=False, is_a_snapshot=False,
           is_control_domain=False, resident_on=ref("h1"), affinity=ref("h1"), domid=3,
           domain_type="hvm", memory_static_min=1073741824, memory_static_max=4294967296,
           memory_dynamic_min=2147483648, memory_dynamic_max=2147483648, VCPUs_max=4,
           VCPUs_at_startup=2, metrics=ref("m1"), guest_metrics=ref("g1"),
           VBDs=[ref("vbd2"), ref("vbd1")], VIFs=[ref("vif1"), ref("vif0")],
           consoles=[ref("con1")], snapshots=[], snapshot_of=NULL, parent=NULL,
           suspend_VDI=NULL, snapshot_time="19700101T00:00:00Z", ha_restart_priority="restart",
           allowed_operations=["snapshot", "clean_shutdown"],
           current_operations={ref("t1"): "snapshot", ref("gone"): "checkpoint"},
           blocked_operations={"destroy": "protected"},
           other_config={"mac_seed": "x", "xo:resource_set": "y"})  # fmt: skip
    return db


def test_a_running_vm(running_vm: Records) -> None:
    vm = running_vm.object("vm1")
    assert (vm.type, vm.id, vm.pool) == ("vm", "vm1-uuid", POOL)
    assert vm.data == {
        "id": "vm1-uuid",
        "type": "vm",
        "$pool": POOL,
        "name_label": "web",
        "name_description": "front end",
        "tags": ["b", "prod"],
        "power_state": "Running",
        "is_a_template": False,
        "is_a_snapshot": False,
        "is_control_domain": False,
        "$host": "h1-uuid",
        "$container": "h1-uuid",
        "$affinity": "h1-uuid",
        "domid": 3,
        "domain_type": "hvm",
        "memory": {
            "static_min": 1073741824,
            "static_max": 4294967296,
            "dynamic_min": 2147483648,
            "dynamic_max": 2147483648,
            "actual": 2147483648,
        },
        "cpus": {
            "max": 4,
            "at_startup": 2,
            "number": 2,
            "utilisation": [0.25, 0.5],
            "usage": 0.375,
        },
        "start_time": "2026-11-26T09:00:00Z",
        "os": {
            "name": "Debian GNU/Linux 12 (bookworm)",
            "distro": "debian",
            "uname": "6.1.0-25-amd64",
            "major": "12",
            "minor": "7",
        },
        "pv_drivers_version": "8.4.0-1",
        "pv_drivers_up_to_date": True,
        "pv_drivers_detected": True,
        "addresses": [
            {"device": "0", "ip": "10.0.0.5"},
            {"device": "0", "ip": "fe80::1"},
            {"device": "1", "ip": "192.168.1.5"},
            {"device": "1", "ip": "192.168.1.6"},
        ],
        "main_address": "10.0.0.5",
        "disks": [
            {
                "$vbd": "vbd1-uuid",
                "device": "xvda",
                "userdevice": "0",
                "mode": "RW",
                "type": "Disk",
                "bootable": True,
                "empty": False,
                "currently_attached": True,
                "$vdi": "vdi1-uuid",
                "name_label": "web 0",
                "size": 21474836480,
                "$sr": "sr1-uuid",
            },
            {
                "$vbd": "vbd2-uuid",
                "device": "xvdd",
                "userdevice": "3",
                "mode": "RO",
                "type": "CD",
                "bootable": False,
                "empty": True,
                "currently_attached": True,
            },
        ],
        "$vbds": ["vbd1-uuid", "vbd2-uuid"],
        "nics": [
            {
                "$vif": "vif0-uuid",
                "device": "0",
                "mac": "aa:00:00:00:00:00",
                "currently_attached": True,
            },
            {
                "$vif": "vif1-uuid",
                "device": "1",
                "mac": "aa:00:00:00:00:01",
                "currently_attached": True,
            },
        ],
        "$vifs": ["vif0-uuid", "vif1-uuid"],
        "consoles": [
            {
                "uuid": "con1-uuid",
                "protocol": "rfb",
                "location": "https://10.0.0.1/console?uuid=con1-uuid",
            },
        ],
        "$snapshots": [],
        "ha_restart_priority": "restart",
        "allowed_operations": ["clean_shutdown", "snapshot"],
        # a task the lookup does not know keeps its ref as the key
        "current_operations": {"t1-uuid": "snapshot", "OpaqueRef:gone": "checkpoint"},
        "blocked_operations": {"destroy": "protected"},
    }


def test_a_vm_translation_reads_its_linked_records_through_the_lookup(
    running_vm: Records,
) -> None:
    running_vm.object("vm1")
    asked = set(running_vm.asked)
    for name in ("h1", "m1", "g1", "vbd1", "vbd2", "vdi1", "sr1", "vif0", "vif1", "con1", "t1"):
        assert ref(name) in asked
    assert NULL not in asked  # a null ref is no link: nothing to look up


def test_a_halted_vm_sits_in_its_pool_and_shows_no_stale_addresses(running_vm: Records) -> None:
    vm1 = running_vm.by_ref[ref("vm1")]
    halted = {**vm1.record, "power_state": "Halted", "resident_on": NULL, "domid": -1}
    running_vm.add("vm", "vm2", **{k: v for k, v in halted.items() if k != "uuid"})
    vm = running_vm.object("vm2").data
    assert "$host" not in vm
    assert vm["$container"] == POOL
    assert "addresses" not in vm and "main_address" not in vm
    assert vm["os"]["distro"] == "debian"  # what is installed stays true


def test_a_vm_without_metrics_or_links_is_still_a_vm() -> None:
    db = Records()
    db.add("vm", "bare", name_label="bare", power_state="Halted", metrics=ref("missing"),
           guest_metrics=NULL, VBDs=[ref("missing-vbd")], resident_on="")  # fmt: skip
    assert db.object("bare").data == {
        "id": "bare-uuid",
        "type": "vm",
        "$pool": POOL,
        "name_label": "bare",
        "power_state": "Halted",
        "$container": POOL,
        "disks": [],
        "$vbds": [],
        "nics": [],
        "$vifs": [],
        "consoles": [],
        "$snapshots": [],
    }


def test_snapshots_templates_and_control_domains() -> None:
    db = Records()
    db.add("vm", "base", power_state="Halted", snapshots=[ref("snap"), ref("nothing")])
    db.add("vm", "snap", power_state="Halted", is_a_snapshot=True, is_a_template=True,
           snapshot_of=ref("base"), snapshot_time="20261125T23:30:00Z", parent=ref("base"),
           suspend_VDI=ref("sv"))  # fmt: skip
    db.add("vdi", "sv", SR=NULL)
    db.add("vm", "tpl", is_a_template=True, other_config={"default_template": "true"})
    db.add("vm", "dom0", is_control_domain=True, power_state="Running", resident_on=ref("h"))
    db.add("host", "h")
    snap = db.object("snap")
    assert snap.type == "vm-snapshot"
    assert {k: snap.data.get(k) for k in ("$snapshot_of", "$parent", "$suspend_vdi")} == {
        "$snapshot_of": "base-uuid",
        "$parent": "base-uuid",
        "$suspend_vdi": "sv-uuid",
    }
    assert snap.data["snapshot_time"] == "2026-11-25T23:30:00Z"
    assert db.object("base").data["$snapshots"] == ["snap-uuid"]
    template = db.object("tpl")
    assert (template.type, template.data["is_default_template"]) == ("vm-template", True)
    dom0 = db.object("dom0")
    assert (dom0.type, dom0.data["$container"]) == ("vm-controller", "h-uuid")


def test_translation_is_deterministic(running_vm: Records) -> None:
    first = running_vm.object("vm1")
    vm = running_vm.by_ref[ref("vm1")]
    shuffled = {**vm.record, "VBDs": list(reversed(vm.record["VBDs"])),
                "VIFs": list(reversed(vm.record["VIFs"])), "tags": ["prod", "b"]}  # fmt: skip
    running_vm.by_ref[vm.ref] = Raw(vm.pool, vm.cls, vm.ref, vm.uuid, shuffled)
    assert running_vm.object("vm1") == first
