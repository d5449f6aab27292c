"""Malformed records for the translation tests, from hypothesis: made up from scratch (any subset of
the fields translators read, each of any type), and the simulator's real records with fields
dropped or replaced by junk (`damaged`), so that the links between records are real and the
translators go deep; and `check`, what must hold of every translation's outcome."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import orjson
from hypothesis import strategies as st

from tests.support.translated_pools import assert_json_ready
from xorca.projection.core.records import ClientObject, Raw
from xorca.projection.core.translate import PRIMARY_CLASSES, TranslationError, translate, type_of
from xorca.xapi_sim.content.inventory import build_pool

POOL = "fuzz-pool"
REFS = [f"OpaqueRef:r{i}" for i in range(8)]
SECONDARY = ["vm_metrics", "vm_guest_metrics", "host_metrics", "pif_metrics", "console"]
CLASSES = [*sorted(PRIMARY_CLASSES), *SECONDARY, "VM", "Task"]

#: every field a translator reads, and a few it does not
FIELDS = [
    "uuid",
    "name_label",
    "name_description",
    "tags",
    "allowed_operations",
    "current_operations",
    "blocked_operations",
    "power_state",
    "is_a_template",
    "is_a_snapshot",
    "is_control_domain",
    "is_default_template",
    "other_config",
    "resident_on",
    "affinity",
    "domid",
    "domain_type",
    "memory_static_min",
    "memory_static_max",
    "memory_dynamic_min",
    "memory_dynamic_max",
    "VCPUs_max",
    "VCPUs_at_startup",
    "metrics",
    "guest_metrics",
    "VBDs",
    "VIFs",
    "consoles",
    "snapshots",
    "snapshot_of",
    "snapshot_time",
    "parent",
    "suspend_VDI",
    "ha_restart_priority",
    "memory_actual",
    "VCPUs_number",
    "VCPUs_utilisation",
    "start_time",
    "install_time",
    "os_version",
    "PV_drivers_version",
    "PV_drivers_up_to_date",
    "PV_drivers_detected",
    "networks",
    "VDI",
    "VM",
    "SR",
    "device",
    "userdevice",
    "mode",
    "type",
    "bootable",
    "empty",
    "currently_attached",
    "virtual_size",
    "MAC",
    "protocol",
    "location",
    "live",
    "memory_total",
    "memory_free",
    "memory_overhead",
    "host_CPUs",
    "cpu_info",
    "software_version",
    "bios_strings",
    "edition",
    "hostname",
    "address",
    "enabled",
    "control_domain",
    "resident_VMs",
    "PIFs",
    "PBDs",
    "master",
    "default_SR",
    "ha_enabled",
    "ha_host_failures_to_tolerate",
    "content_type",
    "shared",
    "physical_size",
    "physical_utilisation",
    "virtual_allocation",
    "VDIs",
    "host",
    "sharable",
    "read_only",
    "managed",
    "missing",
    "device_config",
    "bridge",
    "MTU",
    "default_locking_mode",
    "purpose",
    "network",
    "locking_mode",
    "ipv4_allowed",
    "ipv6_allowed",
    "ip_configuration_mode",
    "IP",
    "netmask",
    "gateway",
    "DNS",
    "ipv6_configuration_mode",
    "IPv6",
    "ipv6_gateway",
    "VLAN",
    "physical",
    "management",
    "carrier",
    "speed",
    "duplex",
    "vendor_name",
    "device_name",
    "status",
    "progress",
    "created",
    "finished",
    "error_info",
    "subtask_of",
    "result",
    "name",
    "priority",
    "cls",
    "obj_uuid",
    "timestamp",
    "body",
    "unknown_field",
]

ALARM = 'value: 0.5\nconfig:\n<variable><name value="cpu_usage"/></variable>'
TEXTS = [*REFS, "OpaqueRef:NULL", "", "20261126T09:00:00Z", "19700101T00:00:00Z", "true",
         "false", "12", "-1", "1.5e3", "NaN", "Running", "Halted", "ALARM", "success", "failure",
         ALARM, "<value>OpaqueRef:r1</value>", "0", "1"]  # fmt: skip
KEYS = [*REFS, "0/ip", "0/ipv4/0", "1/ipv6/0", "name", "major", "0", "1", "speed", "password"]

scalars = (
    st.sampled_from([None, 0, -1, 1, 0.0, -0.5, 2.5])
    | st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(TEXTS)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(
            st.sampled_from(KEYS) | st.text(max_size=4) | st.integers(), inner, max_size=4
        )
    ),
    max_leaves=12,
)
records = st.dictionaries(st.sampled_from(FIELDS), values, max_size=30)
not_records = st.lists(scalars, max_size=3) | st.text(max_size=5) | st.integers() | st.none()


@st.composite
def linked_records(draw: st.DrawFn) -> dict[str, Raw]:
    out: dict[str, Raw] = {}
    for ref in draw(st.lists(st.sampled_from(REFS), unique=True, max_size=len(REFS))):
        cls = draw(st.sampled_from(CLASSES))
        uuid = draw(st.sampled_from(["", f"{ref[10:]}-uuid"]))
        record = draw(records | not_records)
        out[ref] = Raw(POOL, cls, ref, uuid, record)  # type: ignore[arg-type]
    return out


def check(raw: Raw, lookup: Any) -> ClientObject | None:
    """Translate ``raw`` and check everything that must hold of the outcome."""
    usable = isinstance(raw.record, Mapping) and bool(raw.uuid or _uuid_in(raw.record))
    refused: TranslationError | None = None
    try:
        found = translate(raw, lookup)
    except TranslationError as e:
        refused = e
    if refused is not None:
        assert raw.cls.lower() in PRIMARY_CLASSES
        assert not usable, f"a usable record was refused: {refused}"  # only unusable ones fail
        assert (refused.cls, refused.ref) == (raw.cls.lower(), raw.ref)
        return None
    if raw.cls.lower() not in PRIMARY_CLASSES:
        assert found is None
        return None
    assert found is not None
    assert_json_ready(found.data)
    orjson.dumps(found.data)  # what the projection will do with it
    assert found.type == type_of(raw.cls, raw.record)
    assert (found.data["id"], found.data["type"], found.data["$pool"]) == (
        found.id, found.type, raw.pool)  # fmt: skip
    return found


def _uuid_in(record: Mapping[str, object]) -> bool:
    uuid = record.get("uuid")
    return isinstance(uuid, str) and uuid != ""


# ---- the simulator's records, damaged -----------------------------------------------------------


@cache
def sim_records() -> dict[str, Raw]:
    pool = build_pool(name="Fuzz", index=1, hosts=2, vms=5, seed=42, now=1_800_000_000.0)
    out: dict[str, Raw] = {}
    for table in pool.db.tables:
        for ref, record in pool.db.records(table):
            out[ref] = Raw(pool.uuid, table.lower(), ref, str(record["uuid"]), record)
    for ref, record in pool.db.messages.items():
        out[ref] = Raw(pool.uuid, "message", ref, str(record["uuid"]), record)
    return out


@cache
def sim_refs_of(cls: str | None) -> list[str]:
    """The refs of the simulated pool's records of ``cls`` (None: of every class), sorted."""
    return sorted(ref for ref, raw in sim_records().items() if cls is None or raw.cls == cls)


@st.composite
def damaged(draw: st.DrawFn, raw: Raw) -> Raw:
    record = dict(raw.record)
    fields = sorted(record)
    for field in draw(st.lists(st.sampled_from(fields), max_size=len(fields) // 2, unique=True)):
        del record[field]
    for field in draw(st.lists(st.sampled_from(fields), max_size=8, unique=True)):
        record[field] = draw(values)
    return Raw(raw.pool, raw.cls, raw.ref, raw.uuid, record)
