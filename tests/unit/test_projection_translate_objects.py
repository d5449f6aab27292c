"""Hosts, pools, storage and networks, each from a small hand-built set of records, compared whole.

Refs are ``OpaqueRef:<name>`` and uuids ``<name>-uuid`` so that every link in an expected object
says where it comes from. Records hold only the fields a case needs: what is missing must be
left out of the object, never fail. `Records` (tests/support/raw_records.py) holds them.
"""

from __future__ import annotations

import pytest

from tests.support.raw_records import NULL, POOL, Records, ref

# ---- host and pool -----------------------------------------------------------------------------


@pytest.fixture
def hosts() -> Records:
    db = Records()
    db.add("host_metrics", "hm1", live=True, memory_total=68719476736, memory_free=34359738368)
    db.add("vm", "dom0", is_control_domain=True)
    db.add("vm", "vm1")
    db.add("pif", "pif1")
    db.add("pbd", "pbd1")
    db.add("host", "h1", name_label="xcp-1", name_description="rack 3", tags=[],
           hostname="xcp-1", address="10.0.0.1", enabled=True, metrics=ref("hm1"),
           memory_overhead=1275068416, host_CPUs=[ref("c0"), ref("c1"), ref("c2"), ref("c3")],
           cpu_info={"cpu_count": "4", "socket_count": "1", "vendor": "GenuineIntel",
                     "modelname": "Intel(R) Xeon(R) Gold 6338", "speed": "2000.000"},
           software_version={"product_brand": "XCP-ng", "product_version": "8.3.0",
                             "build_number": "cloud", "xapi": "25.6"},
           edition="xcp-ng",
           bios_strings={"bios-vendor": "Dell Inc.", "system-manufacturer": "Dell Inc.",
                         "system-product-name": "PowerEdge R650"},
           other_config={"boot_time": "1794990746.", "iscsi_iqn": "iqn.x"},
           control_domain=ref("dom0"), resident_VMs=[ref("vm1"), ref("dom0")],
           PIFs=[ref("pif1")], PBDs=[ref("pbd1")], allowed_operations=["evacuate"],
           current_operations={})  # fmt: skip
    db.add("host", "h2", name_label="xcp-2", metrics=ref("hm2"))
    db.add("host_metrics", "hm2", live=False)
    db.add("host", "h3", name_label="xcp-3")
    db.add("sr", "sr1")
    db.add("pool", "p", name_label="Paris", name_description="", tags=["dc"], master=ref("h1"),
           default_SR=ref("sr1"), ha_enabled=False, ha_host_failures_to_tolerate=0,
           cpu_info={"cpu_count": "8", "socket_count": "2", "vendor": "GenuineIntel"},
           allowed_operations=["ha_enable"], current_operations={},
           other_config={"memory-ratio-hvm": "0.25"})  # fmt: skip
    return db


def test_a_host(hosts: Records) -> None:
    assert hosts.object("h1").data == {
        "id": "h1-uuid",
        "type": "host",
        "$pool": POOL,
        "name_label": "xcp-1",
        "name_description": "rack 3",
        "tags": [],
        "hostname": "xcp-1",
        "address": "10.0.0.1",
        "enabled": True,
        "live": True,
        "power_state": "Running",
        "memory": {"total": 68719476736, "free": 34359738368, "overhead": 1275068416},
        "cpus": {
            "count": 4,
            "sockets": 1,
            "vendor": "GenuineIntel",
            "model": "Intel(R) Xeon(R) Gold 6338",
            "speed_mhz": 2000.0,
        },
        "product_brand": "XCP-ng",
        "product_version": "8.3.0",
        "build_number": "cloud",
        "edition": "xcp-ng",
        "bios_vendor": "Dell Inc.",
        "system_manufacturer": "Dell Inc.",
        "system_product_name": "PowerEdge R650",
        "boot_time": "2026-11-18T08:32:26Z",
        "$control_domain": "dom0-uuid",
        "resident_vm_count": 2,
        "$pifs": ["pif1-uuid"],
        "$pbds": ["pbd1-uuid"],
        "allowed_operations": ["evacuate"],
        "current_operations": {},
    }


def test_host_power_state_follows_liveness(hosts: Records) -> None:
    assert hosts.object("h2").data["power_state"] == "Halted"
    assert hosts.object("h2").data["live"] is False
    assert hosts.object("h3").data["power_state"] == "Unknown"  # no metrics: nobody knows
    assert "live" not in hosts.object("h3").data


def test_a_pool(hosts: Records) -> None:
    pool = hosts.object("p")
    assert (pool.type, pool.id, pool.pool) == ("pool", "p-uuid", POOL)
    assert pool.data == {
        "id": "p-uuid",
        "type": "pool",
        "$pool": POOL,
        "name_label": "Paris",
        "name_description": "",
        "tags": ["dc"],
        "$master": "h1-uuid",
        "$default_sr": "sr1-uuid",
        "ha_enabled": False,
        "ha_host_failures_to_tolerate": 0,
        "cpus": {"count": 8, "sockets": 2, "vendor": "GenuineIntel"},
        "allowed_operations": ["ha_enable"],
        "current_operations": {},
    }


# ---- storage -----------------------------------------------------------------------------------


@pytest.fixture
def storage() -> Records:
    db = Records()
    db.add("host", "h1")
    db.add("host", "h2")
    db.add("vm", "vm1")
    db.add("pbd", "pbd1", host=ref("h1"), SR=ref("sr1"), currently_attached=True,
           device_config={"server": "10.0.0.9", "serverpath": "/vms", "chappassword": "x",
                          "chappassword_secret": "s-uuid", "CIFSPassword": "y"})  # fmt: skip
    db.add("pbd", "pbd2", host=ref("h2"), SR=ref("sr1"), currently_attached=False)
    db.add("vbd", "vbd1", VM=ref("vm1"), VDI=ref("vdi1"), device="xvda", userdevice="0",
           mode="RW", type="Disk", bootable=True, currently_attached=False, empty=False,
           allowed_operations=["attach"], current_operations={})  # fmt: skip
    db.add("vdi", "vdi1", name_label="disk", name_description="", tags=[], SR=ref("sr1"),
           virtual_size=10737418240, physical_utilisation=2147483648, type="user",
           sharable=False, read_only=False, managed=True, missing=False, is_a_snapshot=False,
           snapshot_of=NULL, snapshots=[ref("vdis")], snapshot_time="19700101T00:00:00Z",
           VBDs=[ref("vbd1")], allowed_operations=["snapshot", "clone"],
           current_operations={})  # fmt: skip
    db.add("vdi", "vdis", is_a_snapshot=True, snapshot_of=ref("vdi1"),
           snapshot_time="2026-11-20T10:00:00Z", SR=ref("sr1"))  # fmt: skip
    db.add("sr", "sr1", name_label="NFS", name_description="shared", tags=[], type="nfs",
           content_type="user", shared=True, physical_size=1000, physical_utilisation=250,
           virtual_allocation=1200, PBDs=[ref("pbd2"), ref("pbd1")],
           VDIs=[ref("vdis"), ref("vdi1")], allowed_operations=["scan"],
           current_operations={})  # fmt: skip
    db.add("sr", "iso", type="iso", physical_size=-1, physical_utilisation=0, PBDs=[])
    return db


def test_an_sr(storage: Records) -> None:
    assert storage.object("sr1").data == {
        "id": "sr1-uuid",
        "type": "sr",
        "$pool": POOL,
        "name_label": "NFS",
        "name_description": "shared",
        "tags": [],
        "sr_type": "nfs",
        "content_type": "user",
        "shared": True,
        "physical_size": 1000,
        "physical_utilisation": 250,
        "virtual_allocation": 1200,
        "usage": 0.25,
        "attached": True,
        "$pbds": ["pbd1-uuid", "pbd2-uuid"],
        "$hosts": ["h1-uuid", "h2-uuid"],
        "vdi_count": 2,
        "allowed_operations": ["scan"],
        "current_operations": {},
    }


def test_an_unsized_sr_has_no_usage_and_is_not_attached_without_pbds(storage: Records) -> None:
    iso = storage.object("iso").data
    assert "usage" not in iso
    assert iso["attached"] is False
    assert iso["physical_size"] == -1


def test_a_vdi_and_its_snapshot(storage: Records) -> None:
    assert storage.object("vdi1").data == {
        "id": "vdi1-uuid",
        "type": "vdi",
        "$pool": POOL,
        "name_label": "disk",
        "name_description": "",
        "tags": [],
        "virtual_size": 10737418240,
        "physical_utilisation": 2147483648,
        "vdi_type": "user",
        "sharable": False,
        "read_only": False,
        "managed": True,
        "missing": False,
        "is_a_snapshot": False,
        "$snapshots": ["vdis-uuid"],
        "$sr": "sr1-uuid",
        "$vbds": ["vbd1-uuid"],
        "$vms": ["vm1-uuid"],
        "allowed_operations": ["clone", "snapshot"],
        "current_operations": {},
    }
    snapshot = storage.object("vdis")
    assert snapshot.type == "vdi-snapshot"
    assert snapshot.data["$snapshot_of"] == "vdi1-uuid"
    assert snapshot.data["snapshot_time"] == "2026-11-20T10:00:00Z"


def test_a_vbd(storage: Records) -> None:
    assert storage.object("vbd1").data == {
        "id": "vbd1-uuid",
        "type": "vbd",
        "$pool": POOL,
        "device": "xvda",
        "userdevice": "0",
        "mode": "RW",
        "vbd_type": "Disk",
        "bootable": True,
        "currently_attached": False,
        "empty": False,
        "$vm": "vm1-uuid",
        "$vdi": "vdi1-uuid",
        "allowed_operations": ["attach"],
        "current_operations": {},
    }


def test_a_pbd_never_shows_secrets(storage: Records) -> None:
    assert storage.object("pbd1").data == {
        "id": "pbd1-uuid",
        "type": "pbd",
        "$pool": POOL,
        "currently_attached": True,
        "device_config": {"server": "10.0.0.9", "serverpath": "/vms"},
        "$host": "h1-uuid",
        "$sr": "sr1-uuid",
    }


# ---- network -----------------------------------------------------------------------------------


@pytest.fixture
def network() -> Records:
    db = Records()
    db.add("host", "h1")
    db.add(
        "vm_guest_metrics",
        "g1",
        networks={
            "0/ip": "10.0.0.5",
            "0/ipv4/0": "10.0.0.5",
            "0/ipv6/0": "fe80::1",
            "1/ipv4/0": "10.9.9.9",
        },
    )
    db.add("vm", "vm1", power_state="Running", guest_metrics=ref("g1"))
    db.add("vm", "off", power_state="Halted", guest_metrics=ref("g1"))
    db.add("vif", "vif0", VM=ref("vm1"), network=ref("n1"), device="0", MAC="aa:00:00:00:00:00",
           MTU=1500, currently_attached=True, locking_mode="network_default",
           ipv4_allowed=[], ipv6_allowed=[], allowed_operations=["unplug"],
           current_operations={})  # fmt: skip
    db.add("vif", "vif-off", VM=ref("off"), network=ref("n1"), device="0")
    db.add(
        "pif_metrics",
        "pm1",
        carrier=True,
        speed=10000,
        duplex=True,
        vendor_name="Intel Corporation",
        device_name="Ethernet Controller X710",
    )
    db.add("pif", "pif1", device="eth0", MAC="b8:00:00:00:00:01", MTU=1500, host=ref("h1"),
           network=ref("n1"), ip_configuration_mode="Static", IP="10.0.0.1",
           netmask="255.255.255.0", gateway="10.0.0.254", DNS="10.0.0.53",
           ipv6_configuration_mode="None", IPv6=[], ipv6_gateway="", VLAN=-1, physical=True,
           management=True, currently_attached=True, metrics=ref("pm1"))  # fmt: skip
    db.add("pif", "vlan", device="eth0", VLAN=20, network=ref("n1"), host=ref("h1"))
    db.add("network", "n1", name_label="Pool-wide network associated with eth0",
           name_description="", tags=[], bridge="xenbr0", MTU=1500, managed=True,
           default_locking_mode="unlocked", purpose=[], PIFs=[ref("vlan"), ref("pif1")],
           VIFs=[ref("vif0"), ref("vif-off")], allowed_operations=[],
           current_operations={}, other_config={"automatic": "true"})  # fmt: skip
    return db


def test_a_vif_with_the_addresses_its_guest_reports(network: Records) -> None:
    assert network.object("vif0").data == {
        "id": "vif0-uuid",
        "type": "vif",
        "$pool": POOL,
        "device": "0",
        "mac": "aa:00:00:00:00:00",
        "mtu": 1500,
        "currently_attached": True,
        "locking_mode": "network_default",
        "ipv4_allowed": [],
        "ipv6_allowed": [],
        "ips": ["10.0.0.5", "fe80::1"],
        "$vm": "vm1-uuid",
        "$network": "n1-uuid",
        "allowed_operations": ["unplug"],
        "current_operations": {},
    }
    assert ref("g1") in network.asked  # the VIF follows its VM's guest metrics
    assert "ips" not in network.object("vif-off").data


def test_a_pif(network: Records) -> None:
    assert network.object("pif1").data == {
        "id": "pif1-uuid",
        "type": "pif",
        "$pool": POOL,
        "device": "eth0",
        "mac": "b8:00:00:00:00:01",
        "mtu": 1500,
        "ip_configuration_mode": "Static",
        "ip": "10.0.0.1",
        "netmask": "255.255.255.0",
        "gateway": "10.0.0.254",
        "dns": "10.0.0.53",
        "ipv6_configuration_mode": "None",
        "ipv6": [],
        "ipv6_gateway": "",
        "physical": True,
        "management": True,
        "currently_attached": True,
        "$host": "h1-uuid",
        "$network": "n1-uuid",
        "carrier": True,
        "speed": 10000,
        "duplex": True,
        "vendor_name": "Intel Corporation",
        "device_name": "Ethernet Controller X710",
    }
    assert network.object("vlan").data["vlan"] == 20


def test_a_network(network: Records) -> None:
    assert network.object("n1").data == {
        "id": "n1-uuid",
        "type": "network",
        "$pool": POOL,
        "name_label": "Pool-wide network associated with eth0",
        "name_description": "",
        "tags": [],
        "bridge": "xenbr0",
        "mtu": 1500,
        "managed": True,
        "default_locking_mode": "unlocked",
        "purpose": [],
        "$pifs": ["pif1-uuid", "vlan-uuid"],
        "vif_count": 2,
        "allowed_operations": [],
        "current_operations": {},
    }
