"""``host.*`` and ``pool.*`` through ``dispatch.call`` on a small hand-built pool: three hosts with
dom0s, a shared SR and a host-local one, one network with a PIF per host, running PV guests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from tests.support.small_pool import (
    GIB,
    MIB,
    HostsLab,
    control_domain,
    lab_pool,
    management_pif,
    numbered_host,
    plugged_sr,
)
from tests.support.waiting import eventually
from xorca.xapi.values import DateTime, Value
from xorca.xapi_sim.handlers import host as host_handlers
from xorca.xapi_sim.handlers import pool as pool_handlers
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.db import Database
from xorca.xapi_sim.state.pool import SimConfig
from xorca.xapi_sim.vm import operation

assert host_handlers  # imported to register its handlers
assert pool_handlers

OP_SECONDS = 0.05


@dataclass
class Lab(HostsLab):
    srs: dict[str, str] = field(default_factory=dict)
    vms: dict[str, str] = field(default_factory=dict)
    network: str = ""

    def host(self, n: int) -> dict[str, Value]:
        return self.db.get("host", self.hosts[n])

    def live(self, n: int) -> bool:
        return bool(self.db.field("host_metrics", str(self.host(n)["metrics"]), "live"))


def _host(db: Database, n: int, total: int, network: str) -> str:
    host = numbered_host(db, n, total, hostname=f"host{n}")
    control_domain(db, host)
    management_pif(db, host, network, f"00:16:3e:00:00:0{n}")
    host_handlers.refresh_operations(db, host)
    return host


def _guest(db: Database, name: str, host: str, sr: str, network: str, memory: int) -> str:
    vm = db.create(
        "VM",
        None,
        name_label=name,
        power_state="Running",
        resident_on=host,
        domid=5,
        domain_type="pv",
        memory_static_max=memory,
        memory_dynamic_max=memory,
        memory_dynamic_min=memory,
        memory_static_min=memory // 2,
        memory_overhead=16 * MIB,
        metrics=db.create("VM_metrics", memory_actual=memory),
    )
    disk = db.create("VDI", SR=sr, virtual_size=10 * GIB, type="system", managed=True)
    db.create(
        "VBD", VM=vm, VDI=disk, userdevice="0", type="Disk", mode="RW", currently_attached=True
    )
    db.create("VIF", VM=vm, network=network, device="0", MAC="aa:00:00:00:00:01", MTU=1500)
    operation.update_allowed_operations(db, vm)
    return vm


def build_lab() -> Lab:
    db = Database()
    network = db.create("network", name_label="Pool-wide network", bridge="xenbr0")
    hosts = [
        _host(db, n, total, network) for n, total in ((1, 32 * GIB), (2, 16 * GIB), (3, 8 * GIB))
    ]
    shared = plugged_sr(db, hosts, "NFS", 1 << 40, type="nfs", shared=True)
    local = plugged_sr(db, hosts[:1], "Local storage host1", 1 << 40, type="ext", shared=False)
    db.create("pool", name_label="lab", master=hosts[0], default_SR=shared)
    vms = {
        "small": _guest(db, "small", hosts[0], shared, network, 1 * GIB),
        "medium": _guest(db, "medium", hosts[0], shared, network, 4 * GIB),
    }
    return Lab(
        lab_pool(db, operation_seconds=OP_SECONDS),
        hosts=hosts,
        srs={"shared": shared, "local": local},
        vms=vms,
        network=network,
    )


@pytest.fixture
async def lab() -> Lab:
    return await build_lab().log_in()


async def _empty_host(lab: Lab, n: int) -> None:
    """Move host n's guests away by evacuating it (the real VM.pool_migrate does the moves)."""
    await lab.call("host.evacuate", lab.hosts[n])


# ---- maintenance mode ------------------------------------------------------------------------


async def test_disable_and_enable_change_enabled_and_allowed_operations(lab: Lab) -> None:
    host = lab.hosts[1]
    assert "reboot" not in lab.host(1)["allowed_operations"]  # type: ignore[operator]
    await lab.call("host.disable", host)
    assert lab.host(1)["enabled"] is False
    assert {"reboot", "shutdown"} <= set(lab.host(1)["allowed_operations"])  # type: ignore[arg-type]
    await lab.call("host.enable", host)
    assert lab.host(1)["enabled"] is True
    assert "shutdown" not in lab.host(1)["allowed_operations"]  # type: ignore[operator]


async def test_reboot_needs_the_host_disabled_and_without_running_guests(lab: Lab) -> None:
    host = lab.hosts[0]
    assert await lab.fails("host.reboot", host) == ["HOST_NOT_DISABLED"]
    await lab.call("host.disable", host)
    code, *params = await lab.fails("host.shutdown", host)
    assert code == "HOST_IN_USE"
    assert params[:2] == [host, "vm"]
    assert params[2] in lab.vms.values()


async def test_reboot_returns_at_once_then_the_host_goes_down_and_comes_back(lab: Lab) -> None:
    host = lab.hosts[2]
    await lab.call("host.disable", host)
    await lab.call("host.reboot", host)
    assert lab.live(2)  # the call did not wait for the reboot
    ((task, op),) = lab.host(2)["current_operations"].items()  # type: ignore[union-attr]
    assert op == "reboot"
    assert lab.db.field("task", task, "name_label") == "Host is rebooting"
    await eventually(lambda: not lab.live(2), what="host down", interval=OP_SECONDS / 10)
    assert await lab.fails("host.get_servertime", host) == ["HOST_OFFLINE", host]
    await eventually(lambda: lab.live(2), what="host back", interval=OP_SECONDS / 10)
    await eventually(
        lambda: not lab.host(2)["current_operations"],
        what="reboot finished",
        interval=OP_SECONDS / 10,
    )
    assert lab.host(2)["enabled"] is True
    assert lab.db.field("task", task, "status") == "success"


async def test_disable_without_auto_enable_survives_a_reboot(lab: Lab) -> None:
    host = lab.hosts[2]
    await lab.call("host.disable", host, False)
    await lab.call("host.reboot", host)
    await eventually(
        lambda: not lab.host(2)["current_operations"],
        what="reboot finished",
        interval=OP_SECONDS / 10,
    )
    assert lab.live(2)
    assert lab.host(2)["enabled"] is False


async def test_shutdown_then_power_on_needs_a_power_on_mode(lab: Lab) -> None:
    host = lab.hosts[2]
    await lab.call("host.disable", host)
    await lab.call("host.shutdown", host)
    await eventually(
        lambda: not lab.host(2)["current_operations"],
        what="shutdown finished",
        interval=OP_SECONDS / 10,
    )
    assert not lab.live(2)
    assert await lab.fails("host.power_on", host) == ["HOST_POWER_ON_MODE_DISABLED"]
    await lab.call("host.set_power_on_mode", host, "wake-on-lan", {})
    assert "power_on" in lab.host(2)["allowed_operations"]  # type: ignore[operator]
    await lab.call("host.power_on", host)
    assert lab.live(2)
    assert await lab.fails("host.power_on", host) == ["HOST_IS_LIVE", host]


# ---- evacuation ------------------------------------------------------------------------------


async def test_vms_which_prevent_evacuation_name_the_missing_sr_and_memory(lab: Lab) -> None:
    db = lab.db
    pinned = _guest(db, "pinned", lab.hosts[0], lab.srs["local"], lab.network, 1 * GIB)
    huge = _guest(db, "huge", lab.hosts[0], lab.srs["shared"], lab.network, 20 * GIB)
    blockers = await lab.call("host.get_vms_which_prevent_evacuation", lab.hosts[0])
    assert isinstance(blockers, dict)
    assert blockers[pinned] == ["VM_REQUIRES_SR", pinned, lab.srs["local"]]
    code, needed, free = blockers[huge]  # type: ignore[misc]
    assert code == "HOST_NOT_ENOUGH_FREE_MEMORY"
    assert int(needed) == 20 * GIB + 16 * MIB
    assert int(free) < int(needed)
    assert set(blockers) == {pinned, huge}
    code, joined = await lab.fails("host.assert_can_evacuate", lab.hosts[0])
    assert code == "CANNOT_EVACUATE_HOST"
    assert joined.count("|") == 1
    assert (await lab.fails("host.evacuate", lab.hosts[0]))[0] in (
        "VM_REQUIRES_SR",
        "HOST_NOT_ENOUGH_FREE_MEMORY",
    )
    assert all(db.field("VM", vm, "resident_on") == lab.hosts[0] for vm in lab.vms.values())


async def test_async_evacuate_migrates_every_guest_and_reports_progress(lab: Lab) -> None:
    task = await dispatch.call(
        lab.pool, lab.hosts[0], "Async.host.evacuate", [lab.session, lab.hosts[0]]
    )
    assert isinstance(task, str)
    await eventually(
        lambda: lab.host(0)["current_operations"],
        what="evacuation marked",
        interval=OP_SECONDS / 10,
    )
    assert list(lab.host(0)["current_operations"].values()) == ["evacuate"]  # type: ignore[union-attr]
    await eventually(
        lambda: lab.db.field("task", task, "status") != "pending",
        what="evacuation done",
        interval=OP_SECONDS / 10,
    )
    record = lab.db.get("task", task)
    assert record["status"] == "success", record["error_info"]
    assert record["progress"] == 1.0
    assert host_handlers.guests_of(lab.db, lab.hosts[0]) == []
    # the biggest guest went to the host with the most free memory
    assert lab.db.field("VM", lab.vms["medium"], "resident_on") == lab.hosts[1]
    assert lab.host(0)["current_operations"] == {}


async def test_evacuate_without_another_enabled_host_has_nowhere_to_go(lab: Lab) -> None:
    for n in (1, 2):
        await lab.call("host.disable", lab.hosts[n])
    assert await lab.fails("host.evacuate", lab.hosts[0]) == ["NO_HOSTS_AVAILABLE"]


async def test_maintenance_workflow_disable_evacuate_reboot(lab: Lab) -> None:
    host = lab.hosts[0]
    await lab.call("host.disable", host)
    await _empty_host(lab, 0)
    await lab.call("host.reboot", host)
    await eventually(
        lambda: not lab.host(0)["current_operations"],
        what="reboot finished",
        interval=OP_SECONDS / 10,
    )
    assert lab.host(0)["enabled"] is True


# ---- time, memory, identity, odds and ends -----------------------------------------------------


async def test_servertime_is_now_and_localtime_has_no_zone(lab: Lab) -> None:
    now = await lab.call("host.get_servertime", lab.hosts[0])
    assert isinstance(now, DateTime)
    assert abs(now.to_datetime().timestamp() - time.time()) < 2
    local = await lab.call("host.get_server_localtime", lab.hosts[0])
    assert isinstance(local, DateTime)
    assert len(local) == 17
    assert not local.endswith("Z")


async def test_compute_free_memory_subtracts_overhead_dom0_and_guests(lab: Lab) -> None:
    free = await lab.call("host.compute_free_memory", lab.hosts[0])
    guests = (1 * GIB + 16 * MIB) + (4 * GIB + 16 * MIB)
    assert free == 32 * GIB - 256 * MIB - 2 * GIB - guests
    assert await lab.call("host.compute_free_memory", lab.hosts[2]) == 8 * GIB - 256 * MIB - 2 * GIB
    assert await lab.call("host.compute_memory_overhead", lab.hosts[0]) == 256 * MIB


async def test_management_interface_is_the_management_pif(lab: Lab) -> None:
    pif = await lab.call("host.get_management_interface", lab.hosts[1])
    assert lab.db.field("PIF", str(pif), "host") == lab.hosts[1]
    lab.db.update("PIF", str(pif), management=False)
    assert await lab.fails("host.get_management_interface", lab.hosts[1]) == [
        "INTERNAL_ERROR",
        "Not_found",
    ]


async def test_destroy_refuses_a_live_host_and_forgets_a_dead_member(lab: Lab) -> None:
    host = lab.hosts[2]
    assert await lab.fails("host.destroy", host) == ["HOST_IS_LIVE", host]
    host_handlers.set_live(lab.pool, host, False)
    await lab.call("host.destroy", host)
    assert not lab.db.exists("host", host)
    assert not lab.db.find("PIF", host=host)
    assert not lab.db.find("VM", resident_on=host)
    host_handlers.set_live(lab.pool, lab.hosts[0], False)
    assert await lab.fails("host.destroy", lab.hosts[0]) == [
        "HOST_CANNOT_DESTROY_SELF",
        lab.hosts[0],
    ]


async def test_hostname_plugins_and_calls_xapi_does_not_implement(lab: Lab) -> None:
    host = lab.hosts[0]
    await lab.call("host.set_hostname_live", host, "node-01")
    assert lab.host(0)["hostname"] == "node-01"
    assert (await lab.fails("host.set_hostname_live", host, "bad_name!"))[0] == "HOST_NAME_INVALID"
    assert await lab.call("host.call_plugin", host, "updater.py", "check_update", {}) == "[]"
    assert await lab.fails("host.call_plugin", host, "nope.py", "x", {}) == [
        "XENAPI_MISSING_PLUGIN",
        "nope.py",
    ]
    assert await lab.fails("host.get_log", host) == ["NOT_IMPLEMENTED", "get_log"]


# ---- pool ------------------------------------------------------------------------------------


async def test_pool_guest_agent_config_and_license_state(lab: Lab) -> None:
    pool = lab.pool.pool_ref
    await lab.call("pool.add_to_guest_agent_config", pool, "enabled", "true")
    assert lab.db.field("pool", pool, "guest_agent_config") == {"enabled": "true"}
    await lab.call("pool.remove_from_guest_agent_config", pool, "enabled")
    assert lab.db.field("pool", pool, "guest_agent_config") == {}
    await lab.call("pool.apply_edition", pool, "xcp-ng")
    assert await lab.call("pool.get_license_state", pool) == {
        "edition": "xcp-ng",
        "expiry": "never",
    }


async def test_enable_ha_needs_an_sr_every_host_sees(lab: Lab) -> None:
    pool = lab.pool.pool_ref
    local = lab.srs["local"]
    assert await lab.fails("pool.enable_ha", [local], {}) == [
        "HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED",
        local,
    ]
    await lab.call("pool.enable_ha", [lab.srs["shared"]], {"timeout": "60"})
    assert lab.db.field("pool", pool, "ha_enabled") is True
    assert lab.db.field("pool", pool, "ha_host_failures_to_tolerate") == 2
    assert await lab.fails("pool.enable_ha", [lab.srs["shared"]], {}) == ["HA_IS_ENABLED"]
    await lab.call("pool.disable_ha")
    assert lab.db.field("pool", pool, "ha_enabled") is False


# ---- on a generated pool ---------------------------------------------------------------------


async def test_the_handlers_work_on_an_inventory_pool() -> None:
    """The hand-built labs above pin the rules; this checks they hold on the generated pools the
    simulator serves (every host, the default SR, a running guest, the seeded message history)."""
    from xorca.xapi_sim.content.inventory import build_pool
    from xorca.xapi_sim.handlers import message, network, storage

    assert message  # imported to register their handlers
    assert network
    assert storage

    config = SimConfig(operation_seconds=OP_SECONDS, failed_login_delay=0.01)
    pool = build_pool(name="gen", index=1, hosts=2, vms=8, seed=3, config=config)
    db, master = pool.db, pool.master_ref
    login = [config.username, config.password]
    session = await dispatch.call(pool, master, "session.login_with_password", login)

    async def call(method: str, *params: Value) -> Value:
        return await dispatch.call(pool, master, method, [session, *params])

    for host in db.refs("host"):
        pif = await call("host.get_management_interface", host)
        assert db.field("PIF", str(pif), "management") is True
        assert int(await call("host.compute_free_memory", host)) > 0  # type: ignore[arg-type]
        blockers = await call("host.get_vms_which_prevent_evacuation", host)
        assert set(blockers) <= set(host_handlers.guests_of(db, host))  # type: ignore[arg-type]
    sr = str(db.field("pool", pool.pool_ref, "default_SR"))
    vdi = await call("VDI.create", {"SR": sr, "virtual_size": GIB, "type": "user"})
    assert db.field("VDI", str(vdi), "SR") == sr
    guest = next(
        ref
        for ref, rec in db.records("VM")
        if rec["power_state"] == "Running" and not rec["is_control_domain"]
    )
    network = db.refs("network")[0]
    vif = await call("VIF.create", {"VM": guest, "network": network, "device": "9", "MAC": ""})
    await call("VIF.plug", vif)
    assert db.field("VIF", str(vif), "currently_attached") is True
    messages = await call("message.get_all")
    assert len(messages) == len(db.messages)  # type: ignore[arg-type]
