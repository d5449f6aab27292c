"""Activity mode: the pool keeps changing, through the API where it can, and never grows."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.waiting import eventually
from xorca.xapi.datamodel import NULL_REF
from xorca.xapi.values import DateTime, Value
from xorca.xapi_sim.content import activity as activity_module
from xorca.xapi_sim.content.activity import Activity
from xorca.xapi_sim.content.guests import destroy_vm
from xorca.xapi_sim.content.inventory import build_pool
from xorca.xapi_sim.content.rowbatch import as_int
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import HANDLERS, load_all
from xorca.xapi_sim.state.db import Record
from xorca.xapi_sim.state.pool import SimConfig, SimPool
from xorca.xapi_sim.state.relations import pointers_of

NOW = 1_780_000_000.0
CONFIG = SimConfig(operation_seconds=0.05, failed_login_delay=0.01)


def small_pool(seed: int = 3) -> SimPool:
    return build_pool(name="Lab", index=1, hosts=2, vms=30, seed=seed, config=CONFIG, now=NOW)


def clock() -> float:
    return NOW + 60


@pytest.fixture
def pool() -> SimPool:
    return small_pool()


def table(p: SimPool, cls: str) -> dict[str, Record]:
    return dict(p.db.records(cls))


def refs(value: Value) -> list[str]:
    assert isinstance(value, list)
    return [str(v) for v in value]


def assert_relations_intact(p: SimPool) -> None:
    db = p.db
    for cls in db.dm.classes:
        for rel in pointers_of(db.dm, cls):
            for ref, record in db.records(cls):
                target = str(record[rel.many_field])
                if target != NULL_REF:
                    members = db.field(rel.one_cls, target, rel.one_field)
                    assert isinstance(members, list)
                    assert ref in members, (rel, ref)


def test_steps_change_metrics_guests_tags_and_messages(pool: SimPool) -> None:
    metrics_before = table(pool, "VM_metrics")
    guests_before = table(pool, "VM_guest_metrics")
    vms_before = table(pool, "VM")
    generation, messages = pool.db.generation, pool.db.message_generation
    act = Activity(pool, seed=1, clock=clock)
    kinds = {act.step() for _ in range(400)}

    assert kinds >= {"vm_metrics", "host_metrics", "guest_network", "alarm", "tags", "client_task"}
    assert pool.db.generation > generation + 300
    assert pool.db.message_generation > messages
    changed = [
        ref
        for ref, rec in table(pool, "VM_metrics").items()
        if ref in metrics_before and rec["memory_actual"] != metrics_before[ref]["memory_actual"]
    ]
    assert changed
    assert any(
        rec["networks"] != guests_before[ref]["networks"]
        for ref, rec in table(pool, "VM_guest_metrics").items()
        if ref in guests_before
    )
    assert any(
        rec["tags"] != vms_before[ref]["tags"]
        for ref, rec in table(pool, "VM").items()
        if ref in vms_before
    )
    alarms = [m for m in pool.db.messages.values() if m["name"] == "ALARM"]
    assert alarms
    assert any(m["timestamp"] == DateTime.from_timestamp(clock()) for m in alarms)
    tasks = [
        t for _, t in pool.db.records("task") if t["name_label"] in activity_module.CLIENT_TASKS
    ]
    assert tasks
    assert_relations_intact(pool)


def test_nothing_grows_without_bound(pool: SimPool) -> None:
    initial = pool.db.counts()
    initial_messages = len(pool.db.messages)
    act = Activity(pool, seed=2, max_alarms=10, max_created_vms=4, clock=clock)
    for _ in range(6000):
        act.step()
    after = pool.db.counts()
    assert act.counts["lifecycle"] > 10  # VMs really came and went
    assert initial["vm"] <= after["vm"] <= initial["vm"] + 4
    for cls in ("vbd", "vdi", "vif", "vm_metrics", "console"):
        assert after[cls] <= initial[cls] + 4 * 4, cls
    assert after["task"] <= initial["task"] + act.max_client_tasks + act.kept_tasks + 1
    assert len(pool.db.messages) == initial_messages + 10  # new alarms replace the oldest
    assert sum(after.values()) <= sum(initial.values()) + 100
    for _, gm in pool.db.records("VM_guest_metrics"):
        networks = gm["networks"]
        assert isinstance(networks, dict)
        assert len({k.split("/")[0] for k in networks}) <= 4
    assert_relations_intact(pool)


def test_vms_created_and_destroyed_keep_sr_usage_right(pool: SimPool) -> None:
    act = Activity(pool, seed=5, max_created_vms=3, clock=clock)
    while len(act.created) < 3:
        act._lifecycle()
    created = list(act.created)
    assert all(pool.db.field("VM", vm, "power_state") == "Halted" for vm in created)
    while any(pool.db.exists("VM", vm) for vm in created):
        act._lifecycle()
    for _, sr in pool.db.records("SR"):
        if sr["type"] in ("nfs", "ext"):
            vdis = [pool.db.get("VDI", v) for v in refs(sr["VDIs"])]
            assert sr["virtual_allocation"] == sum(as_int(v["virtual_size"]) for v in vdis)
    assert_relations_intact(pool)


def test_destroy_vm_removes_what_the_vm_owned(pool: SimPool) -> None:
    vm = next(ref for ref, r in pool.db.records("VM") if r["name_label"] and r["consoles"])
    rec = pool.db.get("VM", vm)
    owned = [("VBD", v) for v in refs(rec["VBDs"])] + [("VIF", v) for v in refs(rec["VIFs"])]
    owned += [("console", c) for c in refs(rec["consoles"])]
    destroy_vm(pool.db, vm)
    assert not pool.db.exists("VM", vm)
    assert not any(pool.db.exists(cls, str(ref)) for cls, ref in owned)
    assert not pool.db.exists("VM_metrics", str(rec["metrics"]))
    assert_relations_intact(pool)


def test_same_seed_same_changes() -> None:
    def run(seed: int) -> tuple[dict[str, dict[str, Record]], dict[str, Record]]:
        p = small_pool()
        act = Activity(p, seed=seed, clock=clock)
        for _ in range(500):
            act.step()
        classes = ("VM", "VM_metrics", "VM_guest_metrics", "VIF", "VDI", "VBD", "host_metrics")
        return {c: table(p, c) for c in classes}, dict(p.db.messages)

    assert run(9) == run(9)
    assert run(9) != run(10)


async def test_power_operations_go_through_the_api(
    pool: SimPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str, bool]] = []

    async def fake(ctx: CallContext, vm: str, *flags: Value) -> Value:
        assert ctx.session is not None
        assert ctx.session.is_pool
        calls.append((ctx.method, vm, ctx.is_async))
        return ""

    for ops in activity_module.POWER_OPS.values():
        for op, _ in ops:
            monkeypatch.setitem(HANDLERS, f"VM.{op}", fake)
    monkeypatch.setattr(activity_module, "WEIGHTS", {"power": 1})
    act = Activity(pool, seed=4, kept_tasks=5, clock=clock)
    for _ in range(40):
        await act.astep()
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert len(calls) >= 30
    assert all(is_async for _, _, is_async in calls)
    power_ops = {f"VM.{op}" for ops in activity_module.POWER_OPS.values() for op, _ in ops}
    assert {method for method, _, _ in calls} <= power_ops
    assert act.power_supported
    assert len(pool.db.refs("task")) <= 3 + 5 + 1  # our finished tasks are reaped
    await act.stop()
    assert not pool.sessions


async def test_runs_in_the_background_through_the_vm_handlers(pool: SimPool) -> None:
    load_all()
    states = {ref: vm["power_state"] for ref, vm in pool.db.records("VM")}
    generation = pool.db.generation
    act = Activity(pool, rate=400, seed=6, clock=clock)
    act.start()
    await asyncio.sleep(0.5)
    await act.stop()
    assert act.power_supported
    assert act.counts["power"] > 0
    assert pool.db.generation > generation
    assert any(str(t["name_label"]).startswith("Async.VM.") for _, t in pool.db.records("task"))
    await eventually(lambda: not pool.running, what="the last operations to finish")
    assert any(
        states.get(ref) not in (None, vm["power_state"]) for ref, vm in pool.db.records("VM")
    )
    assert not pool.sessions  # the activity's session is closed on stop
    count = sum(act.counts.values())
    await asyncio.sleep(0.05)
    assert sum(act.counts.values()) == count  # and it really stopped
    assert_relations_intact(pool)


async def test_without_vm_handlers_it_skips_power_and_creates_vms_itself(
    pool: SimPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_all()
    for name in [n for n in HANDLERS if n.startswith("VM.")]:
        monkeypatch.delitem(HANDLERS, name)
    monkeypatch.setattr(activity_module, "WEIGHTS", {"power": 1, "lifecycle": 1})
    vms = len(pool.db.refs("VM"))
    act = Activity(pool, seed=8, clock=clock)
    for _ in range(30):
        await act.astep()
        await act.settle()
    await act.stop()
    assert not act.power_supported
    assert not act.clone_supported
    assert act.counts["power:rejected"] == 1  # tried once, then stopped trying
    assert act.created
    assert len(pool.db.refs("VM")) == vms + len(act.created)
    assert_relations_intact(pool)
