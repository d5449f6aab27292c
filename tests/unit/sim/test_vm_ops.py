"""The VM lifecycle rules (``vm.lifecycle``) on plain values: error order and shapes, concurrency,
template/snapshot/control-domain exceptions, guest features, and the allowed_operations lists
recorded from real hosts."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xorca.xapi.datamodel import enum_values, vm_operation_rules
from xorca.xapi.values import Value
from xorca.xapi_sim.vm import lifecycle, shapes
from xorca.xapi_sim.vm.lifecycle import VmFacts

REF = "OpaqueRef:vm"
OBSERVED = vm_operation_rules()["observed_allowed_operations (XenServer 7.2, ansible fixtures)"]
TOOLS = {"has_pv_drivers": True, "has_guest_metrics": True}


def facts(**values: object) -> VmFacts:
    return dataclasses.replace(VmFacts(REF), **values)  # type: ignore[arg-type]


def error(f: VmFacts, op: str, *, strict: bool = True) -> list[str] | None:
    err = lifecycle.operation_error(f, op, strict=strict)
    return None if err is None else err.description


# ---- the tables ------------------------------------------------------------------------------


def test_every_operation_has_power_rules_and_listed_ones_are_advertisable() -> None:
    ops = set(enum_values("vm_operations"))
    rules = lifecycle.rules()
    assert set(rules.power) == ops
    assert set(lifecycle.LISTED_ORDER) <= ops - rules.never_listed
    # the advertisable operations that recorded hosts never list, and so neither do we
    left_out = ops - rules.never_listed - set(lifecycle.LISTED_ORDER)
    assert left_out == {"metadata_export", "changing_NVRAM", "create_vtpm", "sysprep"}


def test_annotated_power_states_are_conditions_not_states() -> None:
    clone = lifecycle.rules().power["clone"]
    assert [r.state for r in clone] == ["Halted", "Suspended"]
    assert clone[1].condition == "snapshot_or_clone_suspended"
    assert lifecycle.allowed_power_states(facts(), "clone") == ["Halted"]
    assert lifecycle.allowed_power_states(facts(is_a_snapshot=True), "clone") == [
        "Halted",
        "Suspended",
    ]
    assert lifecycle.allowed_power_states(facts(clone_suspended_vm_enabled=True), "copy") == [
        "Halted",
        "Suspended",
    ]
    assert lifecycle.allowed_power_states(facts(), "changing_VCPUs") == ["Halted"]
    assert lifecycle.allowed_power_states(facts(is_control_domain=True), "changing_VCPUs") == [
        "Halted",
        "Running",
    ]


# ---- allowed_operations as recorded -------------------------------------------------------


def test_running_vm_with_tools_lists_exactly_what_xenserver_listed() -> None:
    assert (
        lifecycle.allowed_operations(facts(power_state="Running", **TOOLS)) == OBSERVED["Running"]
    )


def test_halted_vm_lists_exactly_what_xenserver_listed() -> None:
    assert lifecycle.allowed_operations(facts(power_state="Halted")) == OBSERVED["Halted"]


def test_snapshots_list_what_the_recorded_databases_list() -> None:
    snapshot = facts(is_a_snapshot=True, is_a_template=True)
    assert lifecycle.allowed_operations(snapshot) == [
        "destroy",
        "export",
        "revert",
        "clone",
        "copy",
    ]
    checkpoint = dataclasses.replace(snapshot, power_state="Suspended")
    assert lifecycle.allowed_operations(checkpoint) == [
        "destroy",
        "export",
        "hard_shutdown",
        "revert",
        "clone",
        "copy",
    ]


def test_paused_and_suspended_vms() -> None:
    assert lifecycle.allowed_operations(facts(power_state="Paused", **TOOLS)) == [
        "hard_reboot",
        "hard_shutdown",
        "unpause",
        "checkpoint",
        "snapshot",
    ]
    assert lifecycle.allowed_operations(facts(power_state="Suspended")) == [
        "migrate_send",
        "destroy",
        "export",
        "resume_on",
        "resume",
        "hard_shutdown",
        "checkpoint",
        "snapshot",
    ]


def test_templates_offer_only_their_exceptions() -> None:
    template = facts(is_a_template=True)
    assert lifecycle.allowed_operations(template) == [
        "changing_dynamic_range",
        "changing_shadow_memory",
        "changing_static_range",
        "migrate_send",
        "provision",
        "destroy",
        "export",
        "clone",
        "copy",
    ]
    default = dataclasses.replace(template, is_default_template=True)
    assert "destroy" not in lifecycle.allowed_operations(default)
    assert "migrate_send" not in lifecycle.allowed_operations(default)


def test_control_domain_offers_only_memory_changes() -> None:
    dom0 = facts(power_state="Running", is_control_domain=True, is_dom0=True, **TOOLS)
    assert lifecycle.allowed_operations(dom0) == ["changing_dynamic_range", "changing_static_range"]


def test_hvm_guest_without_drivers_is_not_offered_guest_cooperation() -> None:
    bare = lifecycle.allowed_operations(facts(power_state="Running"))
    assert bare == ["changing_dynamic_range", "hard_reboot", "hard_shutdown", "pause", "snapshot"]
    pv = lifecycle.allowed_operations(facts(power_state="Running", definitely_pv=True))
    assert "clean_shutdown" in pv
    assert "suspend" in pv


def test_operations_in_flight_narrow_the_list() -> None:
    shutting = facts(power_state="Running", current_operations=(("T", "clean_shutdown"),), **TOOLS)
    assert lifecycle.allowed_operations(shutting) == ["hard_reboot", "hard_shutdown"]
    snapshotting = dataclasses.replace(shutting, current_operations=(("T", "snapshot"),))
    # a hard shutdown or reboot may always interrupt (xapi cancels the softer operation)
    assert lifecycle.allowed_operations(snapshotting) == [
        "hard_reboot",
        "hard_shutdown",
        "checkpoint",
        "snapshot",
    ]


# ---- error order and shapes ------------------------------------------------------------------


def test_blocked_operation_wins_over_everything() -> None:
    f = facts(power_state="Running", blocked_operations={"start": "protected by ops"})
    assert error(f, "start") == ["OPERATION_BLOCKED", REF, "protected by ops"]


@pytest.mark.parametrize(
    ("op", "state", "expected"),
    [
        ("start", "Running", "halted"),
        ("hard_shutdown", "Halted", "paused, suspended, running"),
        ("destroy", "Running", "halted, suspended"),
        ("resume", "Halted", "suspended"),
        ("clone", "Suspended", "halted"),
    ],
)
def test_bad_power_state_names_allowed_and_actual_states(
    op: str, state: str, expected: str
) -> None:
    assert error(facts(power_state=state), op) == [
        "VM_BAD_POWER_STATE",
        REF,
        expected,
        state.lower(),
    ]


def test_power_state_comes_before_operations_in_progress() -> None:
    f = facts(power_state="Halted", current_operations=(("T", "start"),))
    assert error(f, "clean_shutdown") == ["VM_BAD_POWER_STATE", REF, "running", "halted"]
    assert error(f, "start") == ["OTHER_OPERATION_IN_PROGRESS", "VM", REF, "start", "T"]


def test_several_operations_in_progress_are_braced() -> None:
    f = facts(power_state="Running", current_operations=(("T1", "snapshot"), ("T2", "checkpoint")))
    assert error(f, "pause") == [
        "OTHER_OPERATION_IN_PROGRESS",
        "VM",
        REF,
        "{snapshot,checkpoint}",
        "{T1,T2}",
    ]


@pytest.mark.parametrize(
    ("current", "op", "allowed"),
    [
        (["snapshot"], "snapshot", True),
        (["snapshot"], "checkpoint", True),
        (["clone"], "copy", True),
        (["copy", "export"], "clone", True),
        (["clone"], "snapshot", False),
        (["clean_shutdown"], "hard_shutdown", True),
        (["hard_shutdown"], "hard_shutdown", False),
        (["clean_reboot"], "hard_reboot", True),
        (["hard_shutdown"], "hard_reboot", False),
        (["hard_reboot"], "hard_reboot", False),
        (["migrate_send"], "clean_shutdown", True),
        (["migrate_send", "snapshot"], "clean_shutdown", False),
        (["snapshot_with_quiesce"], "snapshot", True),
        (["start"], "start", False),
    ],
)
def test_concurrency(current: list[str], op: str, allowed: bool) -> None:
    assert lifecycle.is_allowed_concurrently(op, current) is allowed


def test_template_and_snapshot_exceptions() -> None:
    template = facts(is_a_template=True)
    assert error(template, "start") == ["VM_IS_TEMPLATE", REF, "start"]
    assert error(template, "clone") is None
    assert error(template, "provision") is None
    assert error(template, "destroy") is None
    default = facts(is_a_template=True, is_default_template=True)
    assert error(default, "destroy") == ["VM_IS_TEMPLATE", REF, "destroy"]
    snapshot = facts(is_a_template=True, is_a_snapshot=True)
    assert error(snapshot, "start") == ["VM_IS_SNAPSHOT", REF, "start"]
    assert error(snapshot, "revert") is None
    assert error(snapshot, "provision") == ["VM_IS_SNAPSHOT", REF, "provision"]
    assert error(facts(), "provision") == ["PROVISION_ONLY_ALLOWED_ON_TEMPLATE"]
    assert error(facts(), "revert") == ["REVERT_ONLY_ALLOWED_ON_SNAPSHOT"]


def test_control_domains() -> None:
    dom0 = facts(power_state="Running", is_control_domain=True, is_dom0=True)
    reason = "This operation is not allowed on a control domain"
    assert error(dom0, "clean_shutdown") == ["OPERATION_NOT_ALLOWED", reason]
    assert error(dom0, "changing_VCPUs") == [
        "OPERATION_NOT_ALLOWED",
        "This operation is not allowed on dom0",
    ]
    driver_domain = dataclasses.replace(dom0, is_dom0=False)
    assert error(driver_domain, "changing_VCPUs") is None


def test_guest_features_only_matter_for_running_hvm_guests_without_drivers() -> None:
    bare = facts(power_state="Running")
    assert error(bare, "clean_shutdown") == ["VM_LACKS_FEATURE", REF]
    assert error(bare, "suspend") == ["VM_LACKS_FEATURE", REF]
    assert error(bare, "clean_shutdown", strict=False) is None
    # vCPU hotplug needs the feature even when not strict
    assert error(bare, "changing_VCPUs_live", strict=False) == ["VM_LACKS_FEATURE", REF]
    assert error(facts(power_state="Running", guest_other={"feature-poweroff": "1"}),
                 "clean_shutdown") is None  # fmt: skip
    assert error(facts(power_state="Running", definitely_pv=True), "suspend") is None
    assert error(facts(power_state="Running", has_pv_drivers=True), "suspend") is None


def test_immobile_vms_cannot_move_unless_forced() -> None:
    f = facts(power_state="Running", nomigrate=True, **TOOLS)
    assert error(f, "pool_migrate") == ["VM_IS_IMMOBILE", REF]
    assert error(f, "pool_migrate", strict=False) is None
    assert error(facts(power_state="Running", nested_virt=True, **TOOLS),
                 "changing_dynamic_range") == ["VM_IS_USING_NESTED_VIRT", REF]  # fmt: skip


def test_late_checks() -> None:
    running = facts(power_state="Running", **TOOLS)
    assert error(dataclasses.replace(running, vdi_reset=True), "snapshot") == [
        "VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION"
    ]
    assert error(dataclasses.replace(running, has_vgpu=True), "pool_migrate") == [
        "VM_HAS_VGPU",
        REF,
    ]
    assert error(facts(appliance="OpaqueRef:app"), "make_into_template") == [
        "VM_IS_PART_OF_AN_APPLIANCE",
        REF,
        "OpaqueRef:app",
    ]


# ---- facts from records ----------------------------------------------------------------------


def test_facts_from_records() -> None:
    vm: dict[str, Value] = {
        "power_state": "Running",
        "is_control_domain": True,
        "domid": 0,
        "other_config": {"default_template": "true", "is_system_domain": "true"},
        "current_operations": {"OpaqueRef:t": "snapshot"},
        "blocked_operations": {"destroy": "no"},
        "platform": {"nomigrate": "true"},
        "appliance": "OpaqueRef:gone",
        "attached_PCIs": [],
        "VGPUs": ["OpaqueRef:g"],
    }
    f = VmFacts.from_records(
        REF,
        vm,
        guest_metrics={"PV_drivers_version": {"major": "9", "minor": "1"}, "other": {}},
        vdis=[{"on_boot": "reset", "allow_caching": True}],
        valid=lambda ref: ref != "OpaqueRef:gone",
    )
    assert f.is_dom0
    assert f.is_default_template
    assert f.is_system_domain
    assert f.current_operations == (("OpaqueRef:t", "snapshot"),)
    assert f.blocked_operations == {"destroy": "no"}
    assert f.nomigrate
    assert f.has_pv_drivers
    assert f.has_vgpu
    assert f.vdi_reset
    assert f.vdi_reset_caching
    assert f.appliance is None
    assert not f.definitely_pv


def test_metrics_decide_whether_a_guest_is_pv() -> None:
    vm: dict[str, Value] = {"power_state": "Running"}
    assert VmFacts.from_records(REF, vm, metrics={"current_domain_type": "pv"}).definitely_pv
    hvm: dict[str, Value] = {"current_domain_type": "hvm", "hvm": True}
    assert not VmFacts.from_records(REF, vm, metrics=hvm).definitely_pv
    assert not VmFacts.from_records(REF, vm).definitely_pv


# ---- guest-visible shapes --------------------------------------------------------------------


def test_devices_consoles_and_addresses() -> None:
    assert (
        shapes.domain_kind({"domain_type": "unspecified", "HVM_boot_policy": "BIOS order"}) == "hvm"
    )
    assert shapes.domain_kind({"domain_type": "unspecified", "HVM_boot_policy": ""}) == "pv"
    assert shapes.console_protocols("hvm") == ("rfb",)
    assert shapes.console_protocols("pv") == ("vt100", "rfb")
    assert shapes.console_location("127.101.0.2", "u") == "https://127.101.0.2/console?uuid=u"
    assert shapes.vbd_device("1", "pv") == "xvdb"
    assert shapes.vbd_device("3", "hvm") == "hdd"
    assert shapes.allowed_vbd_devices("hvm", False, ["0", "3"]) == ["1", "2"]
    assert shapes.allowed_vbd_devices("pv", False, ["0"])[:2] == ["1", "2"]
    assert shapes.allowed_vif_devices(["0", "2"]) == ["1", "3", "4", "5", "6"]


def test_macs_are_stable_unicast_and_locally_administered() -> None:
    mac = shapes.generate_mac("seed/0")
    assert mac == shapes.generate_mac("seed/0")
    assert mac != shapes.generate_mac("seed/1")
    first = int(mac.split(":")[0], 16)
    assert first & 0x02
    assert not first & 0x01


def test_guest_networks() -> None:
    nets = shapes.guest_networks("uuid", [("0", "02:00:00:00:00:01"), ("1", "02:00:00:00:00:02")])
    assert set(nets) == {"0/ip", "0/ipv4/0", "0/ipv6/0", "1/ip", "1/ipv4/0", "1/ipv6/0"}
    assert nets["0/ip"] == nets["0/ipv4/0"]
    assert nets["0/ip"].startswith("10.")
    assert nets["0/ipv6/0"] == "fe80::0:ff:fe00:1"


def test_memory() -> None:
    vm = {"memory_dynamic_max": 2048, "memory_overhead": 16}
    assert shapes.start_memory(vm) == 2064
    assert shapes.resident_memory(vm, {"memory_actual": 1024}) == 1040
    assert shapes.resident_memory(vm, None) == 2064
    assert shapes.memory_order_ok(1, 2, 2, 3)
    assert not shapes.memory_order_ok(1, 3, 2, 3)


def test_provision_disks() -> None:
    text = (
        '<provision><disk device="0" size="8589934592" sr="" bootable="true" type="system"/>'
        '<disk device="x" size="1"/><disk device="1" size="1024" sr="abc"/></provision>'
    )
    disks = shapes.provision_disks(text)
    assert [d["device"] for d in disks] == ["0", "1"]
    assert disks[0]["bootable"] == "true"
    assert disks[1]["sr"] == "abc"


# ---- a property over all facts ---------------------------------------------------------------

_OPS = st.sampled_from(enum_values("vm_operations"))


@given(
    state=st.sampled_from(lifecycle.POWER_STATES),
    template=st.booleans(),
    snapshot=st.booleans(),
    control=st.booleans(),
    current=st.lists(_OPS, max_size=2),
    op=_OPS,
)
def test_listed_operations_are_exactly_those_that_pass(
    state: str, template: bool, snapshot: bool, control: bool, current: list[str], op: str
) -> None:
    f = facts(
        power_state=state,
        is_a_template=template,
        is_a_snapshot=snapshot,
        is_control_domain=control,
        current_operations=tuple((f"T{i}", o) for i, o in enumerate(current)),
    )
    allowed = lifecycle.allowed_operations(f)
    err = lifecycle.operation_error(f, op)
    if op in lifecycle.LISTED_ORDER:
        assert (op in allowed) == (err is None)
    if err is not None and err.code == "VM_BAD_POWER_STATE":
        expected = err.params[1].split(", ") if err.params[1] else []
        assert state.lower() not in expected
        assert expected == [s.lower() for s in lifecycle.POWER_STATES if s.lower() in expected]
