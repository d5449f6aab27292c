"""Which VM operation is legal now: xapi's ``xapi_vm_lifecycle.ml`` as pure functions.

Every VM handler asks `operation_error` before it marks an operation in ``current_operations``, and
``allowed_operations`` is `allowed_operations` of the same facts, so what a client is offered and
what a call accepts can never disagree (xapi computes both from one ``check_operation_error``).

The tables (legal power states, template and snapshot exceptions, concurrent groups, the operations
never advertised) come from the shipped ``vm_operation_power_states.json``; the parts that file can
only state in prose (the control-domain list, the guest-feature rules, the hard_shutdown and
hard_reboot concurrency rules) are written here with the upstream function they follow.

Checks run in xapi's order and the first failure wins:

1. ``OPERATION_BLOCKED [vm, reason]``             blocked_operations
2. ``VM_BAD_POWER_STATE [vm, expected, actual]``  allowed_power_states
3. ``OTHER_OPERATION_IN_PROGRESS ["VM", vm, op, task]``
4. ``VM_IS_TEMPLATE [vm, op]`` then ``VM_IS_SNAPSHOT [vm, op]``
5. ``PROVISION_ONLY_ALLOWED_ON_TEMPLATE []``, ``REVERT_ONLY_ALLOWED_ON_SNAPSHOT []``
6. ``VM_IS_IMMOBILE [vm]``, ``VM_IS_USING_NESTED_VIRT [vm]``
7. ``OPERATION_NOT_ALLOWED [reason]``              dom0 / control domains
8. ``VM_NON_SUSPENDABLE [vm, reason]``            a live guest that says why it cannot suspend
   ``VM_LACKS_FEATURE [vm]``                       live HVM guest, no PV drivers, no feature flag
9. ``VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED [vm]`` always (VSS support is gone from xapi)
10. on-boot=reset VDIs, PCI, vGPU, VUSB, appliance, protection policy, snapshot schedule
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from xorca.xapi.datamodel import NULL_REF, vm_operation_rules
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value

POWER_STATES = ("Halted", "Paused", "Suspended", "Running")

#: ``update_allowed_operations`` folds over these and conses, so the result comes out in this
#: order; it reproduces the recorded XenServer 7.2 lists exactly (XAPI.md §4). The advertisable
#: operations left out (metadata_export, changing_NVRAM, create_vtpm, sysprep) never appear in
#: recorded ``allowed_operations``, so clients never learned to expect them.
LISTED_ORDER = (
    "changing_dynamic_range",
    "changing_shadow_memory",
    "changing_static_range",
    "make_into_template",
    "migrate_send",
    "pool_migrate",
    "changing_VCPUs_live",
    "provision",
    "destroy",
    "export",
    "resume_on",
    "resume",
    "suspend",
    "hard_reboot",
    "hard_shutdown",
    "clean_reboot",
    "clean_shutdown",
    "unpause",
    "pause",
    "start_on",
    "start",
    "snapshot_with_quiesce",
    "checkpoint",
    "revert",
    "clone",
    "copy",
    "snapshot",
)

#: xapi lets a control domain do only these (``check_operation_error``)
CONTROL_DOMAIN_OPS = frozenset(
    {
        "data_source_op",
        "changing_memory_live",
        "awaiting_memory_live",
        "metadata_export",
        "changing_dynamic_range",
        "changing_memory_limits",
        "changing_static_range",
        "start",
        "start_on",
        "changing_VCPUs",
        "destroy",
    }
)
#: what ``VM.hard_shutdown`` / ``VM.hard_reboot`` cancel before they run (message_forwarding.ml)
CANCELLED_BY = {
    "hard_shutdown": (
        "clean_shutdown",
        "clean_reboot",
        "hard_reboot",
        "pool_migrate",
        "call_plugin",
        "shutdown",
        "suspend",
    ),
    "hard_reboot": ("clean_shutdown", "clean_reboot", "pool_migrate", "call_plugin", "suspend"),
}
#: operations that need the guest's memory image: a suspend-like operation
SUSPEND_LIKE = frozenset({"suspend", "checkpoint", "pool_migrate", "migrate_send"})
#: the guest-metrics ``other`` key a guest that must not be suspended sets, with its reason (from
#: xenstore ``data/cant_suspend_reason``; Windows and other UEFI guests crash on resume)
CANT_SUSPEND_REASON = "data-cant-suspend-reason"
SNAPSHOT_INFO_POWER_STATE = "power-state-at-snapshot"
DEFAULT_TEMPLATE_KEY = "default_template"


# ---- the tables, read from the shipped JSON --------------------------------------------------


@dataclass(frozen=True)
class PowerRule:
    state: str
    #: "control_domain" or "snapshot_or_clone_suspended" when the JSON annotates the state
    condition: str | None = None


_CONDITIONS = {
    "(control domain only)": "control_domain",
    "(only if VM is a snapshot or clone-of-suspended is enabled)": "snapshot_or_clone_suspended",
}


def _power_rule(text: str) -> PowerRule:
    state, _, note = text.partition(" ")
    if state not in POWER_STATES or (note and note not in _CONDITIONS):
        raise ValueError(f"unreadable power-state rule {text!r}")
    return PowerRule(state, _CONDITIONS.get(note))


@dataclass(frozen=True)
class Rules:
    power: dict[str, tuple[PowerRule, ...]]
    never_listed: frozenset[str]
    template_ops: frozenset[str]
    #: allowed on templates unless they are default templates
    template_ops_not_default: frozenset[str]
    snapshot_ops: frozenset[str]
    groups: tuple[frozenset[str], ...]
    pairs: frozenset[tuple[str, str]]


@cache
def rules() -> Rules:
    raw: dict[str, Any] = vm_operation_rules()
    template, not_default = set(), set()
    for entry in raw["template_allowed_ops"]:
        op, _, note = entry.partition(" ")
        if note == "(not default templates)":
            not_default.add(op)
        elif note:
            raise ValueError(f"unreadable template rule {entry!r}")
        else:
            template.add(op)
    conc = raw["concurrency"]
    return Rules(
        power={op: tuple(map(_power_rule, s)) for op, s in raw["allowed_power_states"].items()},
        never_listed=frozenset(raw["never_listed_in_allowed_operations"]),
        template_ops=frozenset(template),
        template_ops_not_default=frozenset(not_default),
        snapshot_ops=frozenset(raw["snapshot_allowed_ops"]),
        groups=tuple(frozenset(g) for g in conc["compatible_groups"]),
        pairs=frozenset((cur, new) for cur, new in conc["extra_pairs_current_to_new"]),
    )


# ---- what the checks need to know about a VM --------------------------------------------------


def _flag(value: object) -> bool:
    return str(value).lower() in ("true", "1")


@dataclass(frozen=True)
class VmFacts:
    """Everything ``check_operation_error`` reads, as plain values (see `from_records`)."""

    ref: str
    power_state: str = "Halted"
    is_a_template: bool = False
    is_default_template: bool = False
    is_a_snapshot: bool = False
    is_control_domain: bool = False
    #: the control domain of a host with domid 0 (xapi: ``Helpers.is_domain_zero``)
    is_dom0: bool = False
    blocked_operations: Mapping[str, str] = field(default_factory=dict)
    #: (task ref, operation) in the order they were marked
    current_operations: tuple[tuple[str, str], ...] = ()
    #: VM_metrics say the running domain is PV: PV guests support shutdown/suspend implicitly
    definitely_pv: bool = False
    has_pv_drivers: bool = False
    has_guest_metrics: bool = False
    guest_other: Mapping[str, str] = field(default_factory=dict)
    nomigrate: bool = False
    nested_virt: bool = False
    #: some VDI is on_boot=reset; some VDI is on_boot=reset and caching
    vdi_reset: bool = False
    vdi_reset_caching: bool = False
    has_pci: bool = False
    has_vgpu: bool = False
    has_vusb: bool = False
    appliance: str | None = None
    protection_policy: str | None = None
    snapshot_schedule: str | None = None
    is_system_domain: bool = False
    clone_suspended_vm_enabled: bool = False

    @classmethod
    def from_records(
        cls,
        ref: str,
        vm: Mapping[str, Value],
        *,
        metrics: Mapping[str, Value] | None = None,
        guest_metrics: Mapping[str, Value] | None = None,
        vdis: Sequence[Mapping[str, Value]] = (),
        clone_suspended_vm_enabled: bool = False,
        valid: Callable[[str], bool] = lambda r: r != NULL_REF,
    ) -> VmFacts:
        """Facts from a VM record and the records it points at (None where the ref is dangling)."""
        other = _str_map(vm.get("other_config"))
        platform = _str_map(vm.get("platform"))
        current = vm.get("current_operations")
        gm_other = _str_map(guest_metrics.get("other")) if guest_metrics else {}
        drivers = _str_map(guest_metrics.get("PV_drivers_version")) if guest_metrics else {}
        has_drivers = guest_metrics is not None and (
            bool(guest_metrics.get("PV_drivers_detected"))
            or ("major" in drivers and "minor" in drivers)
        )
        pv_kinds = ("pv", "pv_in_pvh", "pvh")
        definitely_pv = metrics is not None and (
            metrics.get("current_domain_type") in pv_kinds
            or (metrics.get("current_domain_type") == "unspecified" and not metrics.get("hvm"))
        )
        is_control = bool(vm.get("is_control_domain"))

        def maybe(name: str) -> str | None:
            value = str(vm.get(name, NULL_REF))
            return value if value != NULL_REF and valid(value) else None

        return cls(
            ref=ref,
            power_state=str(vm.get("power_state", "Halted")),
            is_a_template=bool(vm.get("is_a_template")),
            is_default_template=bool(vm.get("is_default_template"))
            or _flag(other.get(DEFAULT_TEMPLATE_KEY, "")),
            is_a_snapshot=bool(vm.get("is_a_snapshot")),
            is_control_domain=is_control,
            is_dom0=is_control and vm.get("domid") == 0,
            blocked_operations=_str_map(vm.get("blocked_operations")),
            current_operations=tuple(_str_map(current).items()),
            definitely_pv=definitely_pv,
            has_pv_drivers=has_drivers,
            has_guest_metrics=guest_metrics is not None,
            guest_other=gm_other,
            nomigrate=bool(metrics.get("nomigrate"))
            if metrics is not None
            else _flag(platform.get("nomigrate", "")),
            nested_virt=bool(metrics.get("nested_virt"))
            if metrics is not None
            else _flag(platform.get("nested-virt", "")),
            vdi_reset=any(_on_boot_reset(v) for v in vdis),
            vdi_reset_caching=any(_on_boot_reset(v) and _caching(v) for v in vdis),
            has_pci=bool(vm.get("attached_PCIs")),
            has_vgpu=bool(vm.get("VGPUs")),
            has_vusb=bool(vm.get("VUSBs")),
            appliance=maybe("appliance"),
            protection_policy=maybe("protection_policy"),
            snapshot_schedule=maybe("snapshot_schedule"),
            is_system_domain=_flag(other.get("is_system_domain", "")),
            clone_suspended_vm_enabled=clone_suspended_vm_enabled,
        )


def _str_map(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _on_boot_reset(vdi: Mapping[str, Value]) -> bool:
    return vdi.get("on_boot") == "reset" or _str_map(vdi.get("sm_config")).get("on_boot") == "reset"


def _caching(vdi: Mapping[str, Value]) -> bool:
    return bool(vdi.get("allow_caching")) or _flag(_str_map(vdi.get("sm_config")).get("caching"))


# ---- the checks ------------------------------------------------------------------------------


def allowed_power_states(facts: VmFacts, op: str) -> list[str]:
    """xapi's ``allowed_power_states``, with the JSON's conditions applied to this VM."""
    out: list[str] = []
    for rule in rules().power.get(op, ()):
        if rule.condition == "control_domain" and not facts.is_control_domain:
            continue
        if rule.condition == "snapshot_or_clone_suspended" and not (
            facts.is_a_snapshot or facts.clone_suspended_vm_enabled
        ):
            continue
        out.append(rule.state)
    return out


def is_allowed_concurrently(op: str, current_ops: Sequence[str]) -> bool:
    """May ``op`` start while ``current_ops`` run? (``is_allowed_concurrently``)."""
    if not current_ops:
        return True
    r = rules()
    if any(op in g and all(c in g for c in current_ops) for g in r.groups):
        return True
    if op == "hard_shutdown":
        return "hard_shutdown" not in current_ops
    if op == "hard_reboot":
        return not any(c in ("hard_shutdown", "hard_reboot") for c in current_ops)
    return len(current_ops) == 1 and (current_ops[0], op) in r.pairs


def _in_progress(facts: VmFacts) -> XapiError:
    tasks = [t for t, _ in facts.current_operations]
    ops = [o for _, o in facts.current_operations]
    if len(ops) == 1:
        return XapiError("OTHER_OPERATION_IN_PROGRESS", ["VM", facts.ref, ops[0], tasks[0]])
    return XapiError(
        "OTHER_OPERATION_IN_PROGRESS",
        ["VM", facts.ref, "{" + ",".join(ops) + "}", "{" + ",".join(tasks) + "}"],
    )


def _template_error(facts: VmFacts, op: str) -> XapiError | None:
    r = rules()
    if op in r.template_ops or (op in r.template_ops_not_default and not facts.is_default_template):
        return None
    return XapiError("VM_IS_TEMPLATE", [facts.ref, op])


def _feature_error(facts: VmFacts, op: str, strict: bool) -> XapiError | None:
    """``check_op_for_feature``: a live guest that cannot be suspended says so, and HVM guests
    without PV drivers must advertise the features an operation needs from them."""
    live = facts.power_state in ("Running", "Paused")  # Xapi_vm_lifecycle_helpers.is_live
    implicit = not live or facts.definitely_pv or facts.has_pv_drivers

    def lacks(*features: str) -> bool:
        return all(facts.guest_other.get(f) != "1" for f in features)

    if op in SUSPEND_LIKE and live:
        # the reason wins over everything, drivers and strictness included
        reason = facts.guest_other.get(CANT_SUSPEND_REASON)
        if reason is not None:
            return XapiError("VM_NON_SUSPENDABLE", [facts.ref, reason])
        lacking = not implicit and strict and lacks("feature-suspend")
    else:
        lacking = not implicit and (
            (op == "clean_shutdown" and strict and lacks("feature-shutdown", "feature-poweroff"))
            or (op == "clean_reboot" and strict and lacks("feature-shutdown", "feature-reboot"))
            or (op == "changing_VCPUs_live" and lacks("feature-vcpu-hotplug"))
        )
    return XapiError("VM_LACKS_FEATURE", [facts.ref]) if lacking else None


def operation_error(facts: VmFacts, op: str, *, strict: bool = True) -> XapiError | None:
    """The first reason ``op`` is refused, or None (``check_operation_error``).

    ``strict`` is xapi's flag: True for allowed_operations and ordinary calls, False for
    ``pool_migrate`` with ``force=true``, which skips the guest-feature and mobility checks.
    """
    ref = facts.ref
    if op in facts.blocked_operations:
        return XapiError("OPERATION_BLOCKED", [ref, facts.blocked_operations[op]])
    expected = allowed_power_states(facts, op)
    if facts.power_state not in expected:
        return XapiError(
            "VM_BAD_POWER_STATE",
            [ref, ", ".join(s.lower() for s in expected), facts.power_state.lower()],
        )
    current = [o for _, o in facts.current_operations]
    if current and not is_allowed_concurrently(op, current):
        return _in_progress(facts)
    if facts.is_a_template and not facts.is_a_snapshot:
        err = _template_error(facts, op)
        if err is not None:
            return err
    if facts.is_a_snapshot and op not in rules().snapshot_ops:
        return XapiError("VM_IS_SNAPSHOT", [ref, op])
    if op == "provision" and not facts.is_a_template:
        return XapiError("PROVISION_ONLY_ALLOWED_ON_TEMPLATE", [])
    if op == "revert" and not facts.is_a_snapshot:
        return XapiError("REVERT_ONLY_ALLOWED_ON_SNAPSHOT", [])
    mobile = not (facts.nomigrate or facts.nested_virt) or not strict
    if op in SUSPEND_LIKE and not mobile:
        return XapiError("VM_IS_IMMOBILE", [ref])
    if op == "changing_dynamic_range" and facts.nested_virt and strict:
        return XapiError("VM_IS_USING_NESTED_VIRT", [ref])
    if op in ("changing_VCPUs", "destroy") and facts.is_dom0:
        return XapiError("OPERATION_NOT_ALLOWED", ["This operation is not allowed on dom0"])
    if facts.is_control_domain and op not in CONTROL_DOMAIN_OPS:
        return XapiError(
            "OPERATION_NOT_ALLOWED", ["This operation is not allowed on a control domain"]
        )
    return _feature_error(facts, op, strict) or _late_error(facts, op, strict)


def _late_error(facts: VmFacts, op: str, strict: bool) -> XapiError | None:
    ref = facts.ref
    if op == "snapshot_with_quiesce":  # "VSS support has been removed": refused whatever the guest
        return XapiError("VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED", [ref])
    if (
        op in ("checkpoint", "snapshot", "suspend", "snapshot_with_quiesce") and facts.vdi_reset
    ) or (op == "pool_migrate" and facts.vdi_reset_caching):
        return XapiError("VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION", [])
    moving = op in SUSPEND_LIKE
    if facts.has_pci and moving:
        return XapiError("VM_HAS_PCI_ATTACHED", [ref])
    if facts.has_vgpu and moving:
        return XapiError("VM_HAS_VGPU", [ref])
    if facts.has_vusb and (moving or op == "snapshot"):
        return XapiError("VM_HAS_VUSBS", [ref])
    if op == "make_into_template":
        for code, target in (
            ("VM_IS_PART_OF_AN_APPLIANCE", facts.appliance),
            ("VM_ASSIGNED_TO_PROTECTION_POLICY", facts.protection_policy),
            ("VM_ASSIGNED_TO_SNAPSHOT_SCHEDULE", facts.snapshot_schedule),
        ):
            if target is not None:
                return XapiError(code, [ref, target])
    if op == "query_services" and not facts.is_system_domain:
        return XapiError("NOT_SYSTEM_DOMAIN", [ref])
    return None


def assert_operation_valid(facts: VmFacts, op: str, *, strict: bool = True) -> None:
    err = operation_error(facts, op, strict=strict)
    if err is not None:
        raise err


def allowed_operations(facts: VmFacts) -> list[str]:
    """What ``update_allowed_operations`` writes: every listed op whose strict check passes."""
    return [op for op in LISTED_ORDER if operation_error(facts, op, strict=True) is None]
