"""Whole pools: every primary record of real xapi databases (the XenAdmin dumps) and of a simulated
pool (read as XAPI's JSON-RPC serves ``get_all_records``) translates, and the objects hold
together: no ``None``, every ``$link`` names an object of the same pool, types agree with
`type_of`, and the VMs sit where they run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.simthread import FAST
from tests.support.translated_pools import (
    DUMP_FILES,
    dump,
    dump_objects,
    served,
    sim_pool,
    translate_all,
)
from tests.support.waiting import eventually
from xorca.projection.core.records import ClientObject
from xorca.projection.core.translate import PRIMARY_CLASSES, type_of
from xorca.xapi.values import Value
from xorca.xapi_sim.content.inventory import build_pool
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.pool import SimPool


def links(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    """Every ``$link`` at any depth: (path, linked id)."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}"
            if key.startswith("$"):
                for target in item if isinstance(item, list) else [item]:
                    assert isinstance(target, str), f"{here} holds {target!r}"
                    yield here, target
            else:
                yield from links(item, here)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from links(item, f"{path}[{i}]")


def assert_links_resolve(objects: dict[str, ClientObject]) -> None:
    for obj in objects.values():
        for path, target in links(obj.data):
            assert target in objects, f"{obj.type} {obj.id}{path} -> {target}: no such object"


# ---- the XenAdmin dumps --------------------------------------------------------------------------


def test_the_dumps_are_there() -> None:
    assert len(DUMP_FILES) == 4


@pytest.mark.parametrize("name", [path.name for path in DUMP_FILES])
def test_every_record_of_a_dump_translates_and_links_resolve(name: str) -> None:
    objects = dump_objects(name)
    primary = [raw for raw in dump(name).records.values() if raw.cls in PRIMARY_CLASSES]
    assert len(objects) == len(primary)
    assert_links_resolve(objects)
    pools = [obj for obj in objects.values() if obj.type == "pool"]
    assert [obj.id for obj in pools] == [dump(name).pool]
    for obj in objects.values():
        if obj.type.startswith("vm"):
            assert obj.data["$container"] in objects
            assert objects[obj.data["$container"]].type in ("host", "pool")


def test_a_running_vm_of_a_dump() -> None:
    objects = dump_objects("tampa-db_inc_snapshots.xml")
    vm = objects["686a447a-ccd9-8873-0460-49ca8125db5b"].data
    assert (vm["name_label"], vm["power_state"]) == ("dlvm_local", "Running")
    assert vm["$host"] == vm["$container"] == "b4c0d08a-3e59-4fcb-918b-52dced6141cf"
    assert objects[vm["$host"]].type == "host"
    assert vm["addresses"] == [
        {"device": "0", "ip": "10.80.237.197"},
        {"device": "0", "ip": "fe80::4443:fbff:fe89:cf97"},
    ]
    assert vm["main_address"] == "10.80.237.197"
    disks = [d for d in vm["disks"] if d["type"] == "Disk"]
    assert [(d["size"], d["$sr"]) for d in disks] == [
        (4294967296, "d2ab5095-61f6-3a35-2511-68f6d5974fbd")
    ]
    assert objects[disks[0]["$sr"]].data["name_label"] == "Local storage"
    assert len(vm["$snapshots"]) >= 1
    for snapshot in vm["$snapshots"]:
        assert objects[snapshot].type == "vm-snapshot"
        assert objects[snapshot].data["$snapshot_of"] == vm["id"]


def test_an_sr_and_a_host_of_a_dump() -> None:
    objects = dump_objects("state.db.xml")
    sr = objects["b66bde63-98cb-f01c-a2a6-752eb0bf0b52"].data
    assert (sr["name_label"], sr["sr_type"], sr["physical_size"]) == (
        "NetApp virtual disk storage", "netapp", 365730119680)  # fmt: skip
    assert sr["usage"] == pytest.approx(0.9285, abs=1e-4)
    host = objects["0bd27dc8-f8f6-4eb1-9c49-eaefb0c51ff1"].data
    assert (host["name_label"], host["tags"]) == ("janitor", ["Do not delete", "boned"])
    assert objects["a79dd0e9-5c37-3eef-c06b-bf7ecd3ba1cc"].data["$host"] == host["id"]
    assert host["cpus"]["count"] == 2


def test_dump_values_are_unprotected_and_secrets_dropped() -> None:
    objects = dump_objects("TampaTwoHostPoolSelectioniSCSI.xml")
    models = {obj.data["cpus"]["model"] for obj in objects.values() if obj.type == "host"}
    assert models == {"Intel(R) Xeon(R) CPU           X3450  @ 2.67GHz"}
    boston = dump_objects("boston-db.xml")
    iscsi = [obj.data for obj in boston.values() if obj.type == "pbd"
             and "chapuser" in obj.data.get("device_config", {})]  # fmt: skip
    assert iscsi
    for pbd in iscsi:
        assert not [key for key in pbd["device_config"] if "password" in key.lower()]


# ---- a simulated pool --------------------------------------------------------------------------


def test_every_record_of_a_simulated_pool_translates_and_links_resolve() -> None:
    pool, records = sim_pool()
    objects = translate_all(records)
    assert_links_resolve(objects)
    types = {obj.type for obj in objects.values()}
    assert types >= {"pool", "host", "vm", "vm-template", "vm-controller", "sr", "vdi", "vbd",
                     "vif", "network", "pif", "pbd", "task", "message"}  # fmt: skip
    assert objects[pool.uuid].type == "pool"


def test_simulated_vms_sit_where_they_run_and_show_their_addresses() -> None:
    pool, records = sim_pool()
    objects = translate_all(records)
    by_uuid = {raw.uuid: raw for raw in records.values()}
    running = 0
    for obj in objects.values():
        if not obj.type.startswith("vm"):
            continue
        vm = obj.data
        container = objects[vm["$container"]]
        if vm["power_state"] == "Running":
            assert container.type == "host"
            assert vm["$host"] == container.id
        else:
            assert container.id == pool.uuid
        guest = records.get(by_uuid[vm["id"]].record["guest_metrics"])
        if vm["power_state"] == "Running" and guest is not None and guest.record["networks"]:
            running += 1
            assert vm["addresses"], vm["name_label"]
            assert vm["main_address"] == vm["addresses"][0]["ip"]
            for nic in vm["nics"]:
                vif = objects[nic["$vif"]].data
                mine = [a["ip"] for a in vm["addresses"] if a["device"] == vif["device"]]
                assert vif["ips"] == mine
    assert running > 0


def test_simulated_messages_and_tasks() -> None:
    _, records = sim_pool()
    objects = translate_all(records)
    messages = [obj.data for obj in objects.values() if obj.type == "message"]
    alarms = [m for m in messages if m["alarm"]]
    assert alarms
    for alarm in alarms:
        assert alarm["alarm_source"] and isinstance(alarm["alarm_value"], float)
        assert objects[alarm["$object"]].type in ("vm", "vm-controller", "host", "sr", "pool")
    tasks = [obj.data for obj in objects.values() if obj.type == "task"]
    assert {t["status"] for t in tasks} >= {"success", "failure"}
    assert all(0.0 <= t["progress"] <= 1.0 for t in tasks)


async def test_a_running_operation_and_the_task_that_made_a_clone() -> None:
    pool = build_pool(name="Ops", index=1, hosts=1, vms=3, seed=9, config=FAST, now=1.8e9)
    records = await served(pool)
    halted = next(
        raw for raw in records.values()
        if raw.cls == "vm" and type_of("vm", raw.record) == "vm"
        and raw.record["power_state"] == "Halted"
    )  # fmt: skip
    login: list[Value] = [pool.config.username, pool.config.password]
    session = await dispatch.call(pool, pool.master_ref, "session.login_with_password", login)
    task = await dispatch.call(
        pool, pool.master_ref, "Async.VM.clone", [session, halted.ref, "the clone"]
    )
    assert isinstance(task, str)
    await eventually(  # the operation starts in a task of its own
        lambda: pool.db.field("VM", halted.ref, "current_operations"),
        what="the clone marked on the VM",
        interval=0.01,
    )

    during = translate_all(await served(pool))
    # XAPI keys the operation by task ref; the object by the task's uuid
    assert during[halted.uuid].data["current_operations"] == {task_uuid(pool, task): "clone"}

    await eventually(
        lambda: pool.db.field("task", task, "status") != "pending", what="the clone to end"
    )
    after = translate_all(await served(pool))
    done = after[task_uuid(pool, task)].data
    assert done["status"] == "success"
    assert done["result_type"] == "vm"
    clone = after[done["$result"]].data
    assert clone["name_label"] == "the clone"
    assert after[halted.uuid].data["current_operations"] == {}


def task_uuid(pool: SimPool, ref: str) -> str:
    return str(pool.db.field("task", ref, "uuid"))
