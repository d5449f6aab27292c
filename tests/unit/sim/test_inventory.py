"""The built pool looks like a real one: complete records, relations kept both ways, power-state
side effects, unique identities, consistent capacities, and the same pool for the same seed."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from xorca.xapi.codec import encode_xmlrpc_value
from xorca.xapi.datamodel import NULL_REF
from xorca.xapi_sim.content import names
from xorca.xapi_sim.content.inventory import build_pool, host_address, load_site
from xorca.xapi_sim.content.rowbatch import as_int
from xorca.xapi_sim.handlers.session import open_session
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.db import Database, Record
from xorca.xapi_sim.state.pool import SimConfig, SimPool
from xorca.xapi_sim.state.relations import pointers_of
from xorca.xapi_sim.vm import lifecycle, shapes

NOW = 1_780_000_000.0
CONFIG = SimConfig(operation_seconds=0.05, failed_login_delay=0.01)


@pytest.fixture(scope="module")
def pool() -> SimPool:
    return build_pool(name="Paris DC", index=2, hosts=3, vms=300, seed=7, config=CONFIG, now=NOW)


def guests(db: Database) -> list[tuple[str, Record]]:
    return [
        (ref, vm)
        for ref, vm in db.records("VM")
        if not (vm["is_a_template"] or vm["is_control_domain"] or vm["is_a_snapshot"])
    ]


def expected_allowed_operations(db: Database, ref: str, vm: Record) -> list[str]:
    """What xapi's rules (`vm.lifecycle`) say this VM allows, computed afresh."""
    metrics = db.get("VM_metrics", str(vm["metrics"]))
    gm = str(vm["guest_metrics"])
    guest = db.get("VM_guest_metrics", gm) if gm != NULL_REF else None
    facts = lifecycle.VmFacts.from_records(ref, vm, metrics=metrics, guest_metrics=guest)
    return lifecycle.allowed_operations(facts)


def refs(value: object) -> list[str]:
    assert isinstance(value, list)
    return [str(v) for v in value]


def test_every_record_has_exactly_the_datamodel_fields(pool: SimPool) -> None:
    db = pool.db
    for cls, cdef in db.dm.classes.items():
        for ref, record in db.records(cls):
            assert set(record) == set(cdef.fields), (cls, ref)
    message = set(db.dm.cls("message").fields)
    assert all(set(m) == message for m in db.messages.values())


def test_relations_agree_both_ways(pool: SimPool) -> None:
    db = pool.db
    checked = 0
    for cls in db.dm.classes:
        for rel in pointers_of(db.dm, cls):
            for ref, record in db.records(cls):
                target = str(record[rel.many_field])
                if target != NULL_REF:
                    assert ref in refs(db.field(rel.one_cls, target, rel.one_field)), (rel, ref)
                    checked += 1
            for one, record in db.records(rel.one_cls):
                for member in refs(record[rel.one_field]):
                    assert db.field(cls, member, rel.many_field) == one, (rel, one, member)
    assert checked > 3000


def test_the_relations_clients_walk(pool: SimPool) -> None:
    db = pool.db
    for ref, vbd in db.records("VBD"):
        assert ref in refs(db.field("VM", str(vbd["VM"]), "VBDs"))
    for host, record in db.records("host"):
        resident = {vm for vm, r in db.records("VM") if r["resident_on"] == host}
        assert set(refs(record["resident_VMs"])) == resident
        assert set(refs(record["PIFs"])) == set(db.find("PIF", host=host))
        assert set(refs(record["PBDs"])) == set(db.find("PBD", host=host))
    for sr, record in db.records("SR"):
        assert set(refs(record["VDIs"])) == set(db.find("VDI", SR=sr))
    for net, record in db.records("network"):
        assert set(refs(record["VIFs"])) == set(db.find("VIF", network=net))
        assert set(refs(record["PIFs"])) == set(db.find("PIF", network=net))
    for vm, record in db.records("VM"):
        assert set(refs(record["consoles"])) == set(db.find("console", VM=vm))


def test_pool_layout(pool: SimPool) -> None:
    db = pool.db
    assert len(db.refs("pool")) == 1
    p = db.get("pool", pool.pool_ref)
    assert p["name_label"] == "Paris DC"
    hosts = db.refs("host")
    assert len(hosts) == 3
    assert pool.address_of(pool.master_ref) == host_address(2, 1) == "127.102.0.1"
    assert sorted(pool.address_of(h) for h in hosts) == [f"127.102.0.{i}" for i in (1, 2, 3)]
    shared = db.get("SR", str(p["default_SR"]))
    assert (shared["type"], shared["shared"]) == ("nfs", True)
    assert p["suspend_image_SR"] == p["crash_dump_SR"] == p["default_SR"]
    assert {db.field("PBD", pbd, "host") for pbd in refs(shared["PBDs"])} == set(hosts)
    for host in hosts:
        record = db.get("host", host)
        software = record["software_version"]
        assert isinstance(software, dict)
        assert software["product_brand"] == "XCP-ng"
        assert (record["API_version_major"], record["API_version_minor"]) == (2, 21)
        dom0 = db.get("VM", str(record["control_domain"]))
        assert dom0["is_control_domain"]
        assert dom0["allowed_operations"] == expected_allowed_operations(
            db, str(record["control_domain"]), dom0
        )
        assert (dom0["resident_on"], dom0["domid"]) == (host, 0)
        assert len(refs(record["host_CPUs"])) > 0
        management = [db.get("PIF", pif) for pif in refs(record["PIFs"])]
        assert [pif["IP"] for pif in management if pif["management"]] == [record["address"]]
        local = [db.get("SR", str(db.field("PBD", pbd, "SR"))) for pbd in refs(record["PBDs"])]
        assert sum(1 for sr in local if sr["content_type"] == "user" and not sr["shared"]) == 1
        for console in refs(dom0["consoles"]):
            location = db.field("console", console, "location")
            assert location == f"https://{record['address']}/console?ref={record['control_domain']}"
    labels = {str(r["name_label"]) for _, r in db.records("network")}
    assert {"Pool-wide network associated with eth0", "Host internal management network"} <= labels
    assert len(db.refs("VLAN")) == 3 * len(names.VLANS)
    templates = {str(r["name_label"]) for _, r in db.records("VM") if r["is_default_template"]}
    for ref, template in db.records("VM"):
        if template["is_default_template"]:
            assert template["allowed_operations"] == expected_allowed_operations(db, ref, template)
    assert templates == set(names.TEMPLATES)
    iso = [sr for _, sr in db.records("SR") if sr["type"] == "iso" and not sr["is_tools_sr"]]
    assert len(iso) == 1
    assert len(refs(iso[0]["VDIs"])) == len(names.ISO_IMAGES)


def test_guest_vms_and_power_state_side_effects(pool: SimPool) -> None:
    db = pool.db
    vms = guests(db)
    assert len(vms) == 300
    states = Counter(str(vm["power_state"]) for _, vm in vms)
    assert states["Running"] > 200
    assert states["Halted"] > 15
    for ref, vm in vms:
        state = str(vm["power_state"])
        live = state in ("Running", "Paused")
        assert vm["allowed_operations"] == expected_allowed_operations(db, ref, vm)
        assert vm["current_operations"] == {}
        metrics = db.get("VM_metrics", str(vm["metrics"]))
        devices = [db.get("VBD", v) for v in refs(vm["VBDs"])]
        disks = [d for d in devices if d["type"] == "Disk"]
        assert 1 <= len(disks) <= 3
        assert [d["userdevice"] for d in disks] == [str(i) for i in range(len(disks))]
        kind = str(vm["domain_type"])
        assert all(d["device"] == shapes.vbd_device(str(d["userdevice"]), kind) for d in devices)
        assert disks[0]["bootable"]
        assert [d["type"] for d in devices].count("CD") == 1
        vifs = [db.get("VIF", v) for v in refs(vm["VIFs"])]
        assert 1 <= len(vifs) <= 2
        if live:
            host = db.get("host", str(vm["resident_on"]))
            assert isinstance(vm["domid"], int)
            assert vm["domid"] >= 1
            assert all(d["currently_attached"] for d in disks + vifs)
            consoles = [db.get("console", c) for c in refs(vm["consoles"])]
            protocols = sorted(str(c["protocol"]) for c in consoles)
            assert protocols == (["rfb"] if vm["domain_type"] == "hvm" else ["rfb", "vt100"])
            for c in consoles:
                assert c["location"] == f"https://{host['address']}/console?uuid={c['uuid']}"
            assert metrics["memory_actual"] == vm["memory_dynamic_max"]
            assert metrics["VCPUs_number"] == vm["VCPUs_at_startup"]
        else:
            assert vm["resident_on"] == NULL_REF
            assert vm["domid"] == -1
            assert vm["consoles"] == []
            if vm["guest_metrics"] != NULL_REF:  # kept from the last run, no longer live
                assert db.field("VM_guest_metrics", str(vm["guest_metrics"]), "live") is False
            assert not any(d["currently_attached"] for d in devices + vifs)
            assert metrics["memory_actual"] == 0
        if state == "Suspended":
            assert db.field("VDI", str(vm["suspend_VDI"]), "type") == "suspend"
        else:
            assert vm["suspend_VDI"] == NULL_REF
        if vm["domain_type"] == "hvm":
            assert vm["HVM_boot_policy"] == "BIOS order"
        kinds = ("static_min", "dynamic_min", "dynamic_max", "static_max")
        mem = [as_int(vm[f"memory_{k}"]) for k in kinds]
        assert mem == sorted(mem)


def test_guest_metrics_report_addresses(pool: SimPool) -> None:
    db = pool.db
    with_tools = [vm for _, vm in guests(db) if vm["guest_metrics"] != NULL_REF]
    assert len(with_tools) > 200
    addresses: list[str] = []
    for vm in with_tools:
        gm = db.get("VM_guest_metrics", str(vm["guest_metrics"]))
        assert gm["live"] is (vm["power_state"] in ("Running", "Paused"))
        networks = gm["networks"]
        assert isinstance(networks, dict)
        assert networks["0/ip"] == networks["0/ipv4/0"]
        assert str(networks["0/ipv6/0"]).startswith("fe80::")
        assert str(networks["0/ip"]).startswith(("10.", "172.", "192.168."))
        addresses += [str(v) for k, v in networks.items() if k.endswith("/ipv4/0")]
        os_version = gm["os_version"]
        assert isinstance(os_version, dict)
        assert {"name", "distro", "major", "minor"} <= set(os_version)
    assert len(addresses) == len(set(addresses))


def test_snapshots_are_disk_copies_of_their_vm(pool: SimPool) -> None:
    db = pool.db
    snapshots = [(ref, vm) for ref, vm in db.records("VM") if vm["is_a_snapshot"]]
    assert snapshots
    for ref, snap in snapshots:
        assert snap["allowed_operations"] == expected_allowed_operations(db, ref, snap)
        parent = db.get("VM", str(snap["snapshot_of"]))
        assert str(snap["name_label"]).startswith(f"{parent['name_label']} ")
        assert snap["is_a_template"]
        assert snap["power_state"] == "Halted"
        assert ref in refs(parent["snapshots"])
        for vbd in refs(snap["VBDs"]):
            vdi = str(db.field("VBD", vbd, "VDI"))
            if vdi != NULL_REF:
                copy = db.get("VDI", vdi)
                assert copy["is_a_snapshot"]
                original = db.get("VDI", str(copy["snapshot_of"]))
                assert original["virtual_size"] == copy["virtual_size"]


def test_identities_are_unique(pool: SimPool) -> None:
    db = pool.db
    names_ = [str(vm["name_label"]) for _, vm in guests(db)]
    assert len(names_) == len(set(names_))
    macs = [str(db.field("VIF", v, "MAC")) for _, vm in guests(db) for v in refs(vm["VIFs"])]
    assert len(macs) == len(set(macs))
    assert all(int(m.split(":")[0], 16) & 0x03 == 0x02 for m in macs)  # local, unicast
    pifs = [str(p["MAC"]) for _, p in db.records("PIF") if p["physical"]]
    assert len(pifs) == len(set(pifs))
    uuids = [str(r["uuid"]) for cls in db.dm.classes for _, r in db.records(cls) if "uuid" in r]
    uuids += [str(m["uuid"]) for m in db.messages.values()]
    assert len(uuids) == len(set(uuids))
    assert db.generation == sum(db.counts().values())  # one write per row: nothing re-linked


def test_capacities_are_consistent(pool: SimPool) -> None:
    db = pool.db
    for _, record in db.records("SR"):
        vdis = [db.get("VDI", v) for v in refs(record["VDIs"])]
        if record["type"] in ("nfs", "ext", "iso") and not record["is_tools_sr"]:
            assert record["virtual_allocation"] == sum(as_int(v["virtual_size"]) for v in vdis)
            used = sum(as_int(v["physical_utilisation"]) for v in vdis)
            assert record["physical_utilisation"] == used
            assert as_int(record["physical_size"]) >= used
    for _, host in db.records("host"):
        metrics = db.get("host_metrics", str(host["metrics"]))
        assert 0 <= as_int(metrics["memory_free"]) < as_int(metrics["memory_total"])


def test_history_messages_point_at_real_objects(pool: SimPool) -> None:
    db = pool.db
    assert 10 <= len(db.messages) <= 60
    tables = {"VM": "VM", "Host": "host", "SR": "SR", "Pool": "pool"}
    for message in db.messages.values():
        assert 1 <= as_int(message["priority"]) <= 5
        db.by_uuid_ref(tables[str(message["cls"])], str(message["obj_uuid"]))
        if message["name"] == "ALARM":
            assert str(message["body"]).startswith("value: ")
            assert "<alarm_trigger_level value=" in str(message["body"])
    assert {str(m["name"]) for m in db.messages.values()} & {"ALARM"}
    assert all(db.field("task", t, "status") in ("success", "failure") for t in db.refs("task"))


def test_same_seed_same_pool_other_seed_other_pool() -> None:
    def snapshot(p: SimPool) -> tuple[dict[str, dict[str, Record]], dict[str, Record]]:
        tables = {cls: dict(p.db.records(cls)) for cls in p.db.dm.classes}
        return tables, dict(p.db.messages)

    a = build_pool(name="A", index=1, hosts=2, vms=40, seed=11, now=NOW)
    b = build_pool(name="A", index=1, hosts=2, vms=40, seed=11, now=NOW)
    c = build_pool(name="A", index=1, hosts=2, vms=40, seed=12, now=NOW)
    assert snapshot(a) == snapshot(b)
    assert a.uuid == b.uuid != c.uuid
    names_a = sorted(str(vm["name_label"]) for _, vm in guests(a.db))
    names_c = sorted(str(vm["name_label"]) for _, vm in guests(c.db))
    assert names_a != names_c


def test_every_record_is_wire_encodable(pool: SimPool) -> None:
    for cls in ("VM", "host", "SR", "VDI", "VBD", "VIF", "PIF", "pool", "VM_guest_metrics"):
        encode_xmlrpc_value(dict(pool.db.records(cls)))
    encode_xmlrpc_value(dict(pool.db.messages))


async def test_served_through_the_api(pool: SimPool) -> None:
    session = open_session(pool, pool.master_ref, "root", "test", is_pool=False)
    records = await dispatch.call(pool, pool.master_ref, "VM.get_all_records", [session])
    assert isinstance(records, dict)
    assert len(records) == len(pool.db.refs("VM"))
    hosts = await dispatch.call(pool, pool.master_ref, "host.get_all", [session])
    assert sorted(refs(hosts)) == sorted(pool.db.refs("host"))


def test_load_site_reads_back_what_was_built(pool: SimPool) -> None:
    site = load_site(pool.db, NOW)
    assert [h.address for h in site.hosts] == sorted(h.address for h in site.hosts)
    assert all(pool.db.field("SR", h.local_sr, "type") == "ext" for h in site.hosts)
    assert site.shared_sr == pool.db.field("pool", pool.pool_ref, "default_SR")
    assert set(site.templates) == set(names.TEMPLATES)
    assert len(site.iso_vdis) == len(names.ISO_IMAGES)
    assert len(site.taken) == 300


@pytest.mark.slow
def test_build_time_for_ten_thousand_vms(capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    big = build_pool(name="Big", index=1, hosts=3, vms=10_000, seed=1, now=NOW)
    elapsed = time.perf_counter() - start
    counts = {k: v for k, v in big.db.counts().items() if v}
    assert len(guests(big.db)) == 10_000
    with capsys.disabled():
        print(f"\nbuild_pool(vms=10_000): {elapsed:.2f} s, {sum(counts.values())} rows {counts}")
