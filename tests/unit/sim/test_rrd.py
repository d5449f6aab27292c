"""The simulator's metrics: consolidation, archive choice, rendering, generated values."""

from __future__ import annotations

import itertools
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from xorca.xapi_sim.metrics.generator import HostSpec, MetricsGenerator, VmSpec, ds_spec
from xorca.xapi_sim.metrics.queries import (
    accept_prefers_json,
    rrd_dump_response,
    rrd_updates_response,
)
from xorca.xapi_sim.metrics.render import export_updates, format_value, rrd_xml
from xorca.xapi_sim.metrics.rrd import (
    Cf,
    DsSpec,
    DsType,
    NoRraAvailable,
    Rrd,
    RrdNotFound,
    RrdQueryError,
    RrdStore,
)

HOST = "11111111-2222-3333-4444-555555555555"
VM_A = "aaaaaaaa-0000-0000-0000-000000000001"
VM_B = "bbbbbbbb-0000-0000-0000-000000000002"
SR = "cccccccc-0000-0000-0000-000000000003"
T0 = 1_699_920_000.0  # midnight UTC: a multiple of every archive step
FLIP_FLOP = Path(__file__).resolve().parents[2] / "data" / "flip_flop.xml"


def column(rrd: Rrd, archive: int, ds: str, n: int) -> list[float]:
    """The newest `n` values of one archive and DS, oldest first."""
    ring = rrd.archives[archive].rings[rrd.index[ds]]
    return [ring.peek(i) for i in reversed(range(n))]


def fed_store(seconds: int, *, start: float = T0) -> RrdStore:
    """Host, two VMs and an SR, fed constant values every 5 s for `seconds`."""
    store = RrdStore(specs=ds_spec)
    t = start
    while t <= start + seconds:
        store.update(
            t,
            {
                ("host", HOST, "cpu0"): 0.5,
                ("host", HOST, "memory_total_kib"): 1024.0,
                ("vm", VM_A, "cpu0"): 0.25,
                ("vm", VM_B, "cpu0"): 0.75,
                ("sr", SR, "iops_read"): 10.0,
            },
        )
        t += 5
    return store


# -- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (0.0, "0.0"),
        (-0.0, "0.0"),
        (1.0, "1"),
        (0.1, "0.1"),
        (1e-05, "1e-05"),
        (2 / 3, "0.666666666666667"),
        (123456789012345678.0, "1.23456789012346e+17"),
    ],
)
def test_values_are_formatted_like_c_0_15g(value: float, text: str) -> None:
    assert format_value(value) == text


# -- consolidation -----------------------------------------------------------------------------


def test_a_gauge_pdp_is_the_time_weighted_mean_of_its_samples() -> None:
    rrd = Rrd(T0)
    rrd.add_ds("x", DsSpec())
    rrd.update(T0 + 2.5, {"x": 1.0})
    rrd.update(T0 + 5, {"x": 3.0})
    assert column(rrd, 0, "x", 1) == [2.0]


def test_coarser_archives_consolidate_average_min_and_max() -> None:
    rrd = Rrd(T0)
    rrd.add_ds("x", DsSpec())
    for i in range(1, 13):
        rrd.update(T0 + 5 * i, {"x": float(i)})
    by_cf = {a.spec.cf: a for a in rrd.archives if a.spec.pdp_per_row == 12}
    assert by_cf[Cf.AVERAGE].rings[0].peek(0) == pytest.approx(6.5)
    assert by_cf[Cf.MIN].rings[0].peek(0) == 1.0
    assert by_cf[Cf.MAX].rings[0].peek(0) == 12.0


def test_a_gap_under_the_heartbeat_fills_every_missed_step() -> None:
    rrd = Rrd(T0)
    rrd.add_ds("x", DsSpec())
    rrd.update(T0 + 5, {"x": 1.0})
    rrd.update(T0 + 35, {"x": 4.0})
    assert column(rrd, 0, "x", 7) == [1.0] + [4.0] * 6


def test_a_gap_over_the_heartbeat_is_unknown() -> None:
    rrd = Rrd(T0)
    rrd.add_ds("x", DsSpec(heartbeat=300.0))
    rrd.update(T0 + 5, {"x": 1.0})
    rrd.update(T0 + 405, {"x": 2.0})
    assert all(math.isnan(v) for v in column(rrd, 0, "x", 80))
    assert column(rrd, 0, "x", 81)[0] == 1.0


def test_a_missing_sample_is_unknown_and_coarse_averages_skip_it() -> None:
    rrd = Rrd(T0)
    rrd.add_ds("x", DsSpec())
    for i in range(1, 13):
        rrd.update(T0 + 5 * i, {} if i == 3 else {"x": 6.0})
    assert math.isnan(column(rrd, 0, "x", 10)[0])
    minute = next(a for a in rrd.archives if a.spec.pdp_per_row == 12)
    assert minute.rings[0].peek(0) == pytest.approx(6.0)  # xff 1.0: 11 known PDPs suffice


def test_out_of_range_values_are_unknown() -> None:
    rrd = Rrd(T0)
    rrd.add_ds("x", DsSpec(min=0.0, max=1.0))
    rrd.update(T0 + 5, {"x": 1.5})
    assert math.isnan(column(rrd, 0, "x", 1)[0])


def test_derive_sources_report_the_rate_of_a_counter() -> None:
    store = RrdStore(specs=lambda _key: DsSpec(type=DsType.DERIVE, min=0.0))
    for i in range(4):
        store.update(T0 + 5 * i, {("host", HOST, "bytes"): 100.0 * i})
    rrd = store.get(("host", HOST))
    assert rrd is not None
    assert column(rrd, 0, "bytes", 2) == [20.0, 20.0]


def test_updates_with_a_repeated_or_earlier_time_are_ignored() -> None:
    rrd = Rrd(T0)
    rrd.add_ds("x", DsSpec())
    rrd.update(T0 + 5, {"x": 1.0})
    rrd.update(T0 + 5, {"x": 9.0})
    rrd.update(T0 + 1, {"x": 9.0})
    assert rrd.last_updated == T0 + 5
    assert column(rrd, 0, "x", 1) == [1.0]


def test_the_store_keeps_every_owner_on_one_clock() -> None:
    store = fed_store(60)
    store.update(T0 + 65, {("vm", VM_A, "cpu0"): 0.1})
    assert {store.get(o).last_updated for o in store.owners()} == {T0 + 65}  # type: ignore[union-attr]
    host = store.get(("host", HOST))
    assert host is not None
    assert math.isnan(column(host, 0, "cpu0", 1)[0])


# -- /rrd_updates ------------------------------------------------------------------------------


def updates_json(store: RrdStore, **query: str | list[str]) -> dict[str, object]:
    q = {k: v if isinstance(v, list) else [v] for k, v in query.items()}
    q.setdefault("json", ["true"])
    content_type, body = rrd_updates_response(store, q, host_uuid=HOST)
    assert content_type == "application/json"
    result: dict[str, object] = json.loads(body)
    return result


def meta(doc: dict[str, object]) -> dict[str, object]:
    m = doc["meta"]
    assert isinstance(m, dict)
    return m


def legend(doc: dict[str, object]) -> list[str]:
    entries = meta(doc)["legend"]
    assert isinstance(entries, list)
    return entries


@pytest.mark.parametrize(
    ("interval", "start", "step"),
    [
        (5, -595, 5),
        (0, -595, 5),
        (5, -600, 60),  # the 5 s archive must reach strictly before start; XO asks for -595
        (60, -600, 60),
        (0, -3600, 60),
        (3600, -3600, 3600),
        (0, -86400, 3600),
        (86400, -86400, 86400),
        (0, -30 * 86400, 86400),
        (0, -10 * 365 * 86400, 86400),
    ],
)
def test_the_interval_and_start_choose_the_archive(interval: int, start: int, step: int) -> None:
    store = fed_store(30)
    doc = updates_json(store, start=str(start), interval=str(interval), host="true")
    assert meta(doc)["step"] == step


def test_rows_are_newest_first_and_end_at_the_last_complete_step() -> None:
    store = fed_store(120)
    doc = updates_json(store, start="-60", host="true", cf="AVERAGE")
    data = doc["data"]
    assert isinstance(data, list)
    times = [row["t"] for row in data]
    assert times == sorted(times, reverse=True)
    assert times[0] == meta(doc)["end"] == T0 + 120
    assert times[-1] >= T0 + 60
    assert meta(doc)["rows"] == len(data) == 13
    assert meta(doc)["start"] == T0 + 65
    assert all(len(row["values"]) == meta(doc)["columns"] for row in data)


def test_a_negative_start_is_relative_to_the_last_update() -> None:
    store = fed_store(120)
    relative = updates_json(store, start="-60", host="true")
    absolute = updates_json(store, start=str(int(T0 + 120 - 60)), host="true")
    assert relative == absolute


def test_the_legend_names_cf_owner_uuid_and_data_source() -> None:
    store = fed_store(30)
    doc = updates_json(store, start="-30", host="true", cf="AVERAGE")
    assert legend(doc) == [
        f"AVERAGE:host:{HOST}:cpu0",
        f"AVERAGE:host:{HOST}:memory_total_kib",
        f"AVERAGE:vm:{VM_A}:cpu0",
        f"AVERAGE:vm:{VM_B}:cpu0",
    ]


def test_without_cf_every_cf_of_the_chosen_resolution_is_exported() -> None:
    store = fed_store(30)
    doc = updates_json(store, start="-3600", interval="60", vm_uuid=VM_A)
    assert legend(doc) == [f"{cf}:vm:{VM_A}:cpu0" for cf in ("AVERAGE", "MIN", "MAX")]


@pytest.mark.parametrize("cf", ["average", "LAST", "", "Max"])
def test_an_unknown_cf_is_a_query_error(cf: str) -> None:
    with pytest.raises(RrdQueryError) as caught:
        updates_json(fed_store(10), start="-60", cf=cf)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "query",
    [{}, {"start": ["soon"]}, {"start": ["-60"], "interval": ["5s"]}, {"start": ["1.5"]}],
)
def test_a_missing_or_malformed_number_is_a_query_error(query: dict[str, list[str]]) -> None:
    with pytest.raises(RrdQueryError):
        rrd_updates_response(fed_store(10), query, host_uuid=HOST)


def test_host_data_needs_the_literal_true() -> None:
    store = fed_store(30)
    assert not any(":host:" in e for e in legend(updates_json(store, start="-30", host="True")))
    assert not any(":host:" in e for e in legend(updates_json(store, start="-30")))
    assert any(":host:" in e for e in legend(updates_json(store, start="-30", host="true")))


@pytest.mark.parametrize(
    ("vm_uuid", "expected"),
    [
        (None, {VM_A, VM_B}),
        ([VM_A], {VM_A}),
        ([VM_B, VM_A], {VM_A, VM_B}),
        (["all"], {VM_A, VM_B}),
        (["none"], set()),
        (["not-a-resident-vm"], set()),
    ],
)
def test_vm_uuid_filters_the_vms(vm_uuid: list[str] | None, expected: set[str]) -> None:
    query: dict[str, str | list[str]] = {"start": "-30", "host": "true"}
    if vm_uuid is not None:
        query["vm_uuid"] = vm_uuid
    entries = legend(updates_json(fed_store(30), **query))
    assert {e.split(":")[2] for e in entries if ":vm:" in e} == expected


def test_only_the_vms_the_host_knows_are_exported() -> None:
    store = fed_store(30)
    _, body = rrd_updates_response(
        store, {"start": ["-30"], "json": [""]}, host_uuid=HOST, vm_uuids=[VM_B]
    )
    assert {e.split(":")[2] for e in json.loads(body)["meta"]["legend"]} == {VM_B}


def test_srs_are_exported_only_when_asked() -> None:
    store = fed_store(30)
    assert not any(":sr:" in e for e in legend(updates_json(store, start="-30")))
    for sr_uuid in ([SR], ["all"]):
        entries = legend(updates_json(store, start="-30", sr_uuid=sr_uuid, vm_uuid="none"))
        assert entries == [f"AVERAGE:sr:{SR}:iops_read"]


def test_nothing_to_export_is_no_rra_available() -> None:
    with pytest.raises(NoRraAvailable):
        updates_json(fed_store(10), start="-60", vm_uuid="none")
    with pytest.raises(NoRraAvailable):
        export_updates([], 0, 0, None)


def test_the_xml_export_has_xapis_structure() -> None:
    store = fed_store(60)
    content_type, body = rrd_updates_response(
        store, {"start": ["-30"], "host": ["true"], "cf": ["AVERAGE"]}, host_uuid=HOST
    )
    assert content_type == "text/xml"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<xport><meta><start>')
    root = ET.fromstring(body)
    assert root.tag == "xport"
    assert [c.tag for c in root] == ["meta", "data"]
    m = root.find("meta")
    assert m is not None
    assert [c.tag for c in m] == ["start", "step", "end", "rows", "columns", "legend"]
    entries = [e.text for e in m.iterfind("legend/entry")]
    assert entries[0] == f"AVERAGE:host:{HOST}:cpu0"
    rows = root.findall("data/row")
    assert len(rows) == int(m.findtext("rows", "")) == 7
    for row in rows:
        assert [c.tag for c in row] == ["t"] + ["v"] * len(entries)
    assert next(r.findtext("t") for r in rows) == m.findtext("end") == str(int(T0 + 60))
    assert [v.text for v in rows[0].iterfind("v")] == ["0.5", "1024", "0.25", "0.75"]


def test_the_json_export_has_numbers_in_meta_and_strings_in_values() -> None:
    store = fed_store(60)
    store.update(T0 + 65, {})  # one unknown step
    doc = updates_json(store, start="-10", host="true", cf="AVERAGE")
    m = meta(doc)
    assert all(isinstance(m[k], int) for k in ("start", "step", "end", "rows", "columns"))
    data = doc["data"]
    assert isinstance(data, list)
    assert data[0] == {"t": int(T0 + 65), "values": ["NaN"] * 4}
    assert data[1]["values"] == ["0.5", "1024", "0.25", "0.75"]


@pytest.mark.parametrize(
    ("accept", "prefers_json"),
    [
        (None, None),
        ("", None),
        ("*/*", True),
        ("application/json", True),
        ("text/xml", False),
        ("text/html", None),
        ("application/json;q=0.5, text/xml", False),
        ("text/*, application/json;q=0.9", False),
        ("text/*;q=0.1, */*", True),
    ],
)
def test_the_accept_header_chooses_json_or_xml(accept: str | None, prefers_json: bool) -> None:
    assert accept_prefers_json(accept) is prefers_json


def test_the_json_parameter_decides_when_accept_is_silent() -> None:
    store = fed_store(10)
    query = {"start": ["-10"], "host": ["true"]}
    assert rrd_updates_response(store, query, host_uuid=HOST)[0] == "text/xml"
    query_json = {**query, "json": [""]}
    assert rrd_updates_response(store, query_json, host_uuid=HOST)[0] == "application/json"
    assert rrd_updates_response(store, query, host_uuid=HOST, accept="*/*")[0] == (
        "application/json"
    )


# -- full dumps --------------------------------------------------------------------------------


def tag_paths(element: ET.Element, prefix: str = "") -> set[str]:
    path = f"{prefix}/{element.tag}" if prefix else element.tag
    paths = {path}
    for child in element:
        paths |= tag_paths(child, path)
    return paths


def test_the_dump_has_the_element_names_of_xapis_flip_flop_example() -> None:
    reference = tag_paths(ET.parse(FLIP_FLOP).getroot())
    store = fed_store(120)
    rrd = store.get(("vm", VM_A))
    assert rrd is not None
    assert tag_paths(ET.fromstring(rrd_xml(rrd, internal=True))) == reference
    assert tag_paths(ET.fromstring(rrd_xml(rrd))) == reference - {"rrd/ds/last_updated"}


def test_the_dump_lists_every_archive_oldest_row_first() -> None:
    store = fed_store(120)
    content_type, body = rrd_dump_response(store, "host", {}, host_uuid=HOST)
    assert content_type == "text/xml"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<rrd><version>0003</version>')
    root = ET.fromstring(body)
    assert [c.tag for c in root][:3] == ["version", "step", "lastupdate"]
    assert root.findtext("lastupdate") == str(int(T0 + 120))
    assert [d.findtext("name") for d in root.iterfind("ds")] == ["cpu0", "memory_total_kib"]
    rras = root.findall("rra")
    shapes = [
        (r.findtext("cf"), r.findtext("pdp_per_row"), len(r.findall("database/row"))) for r in rras
    ]
    assert shapes[:4] == [
        ("AVERAGE", "1", 120),
        ("AVERAGE", "12", 120),
        ("MIN", "12", 120),
        ("MAX", "12", 120),
    ]
    assert len(rras) == 10
    assert rras[0].findtext("params/xff") == "0.5"
    five_s = [row.findtext("v") for row in rras[0].iterfind("database/row")]
    assert five_s[-24:] == ["0.5"] * 24  # 25 samples: the first one only seeds the RRD
    assert five_s[0] == five_s[-25] == "NaN"


def test_the_json_dump_is_all_strings() -> None:
    store = fed_store(30)
    content_type, body = rrd_dump_response(
        store, "vm", {"uuid": [VM_B], "json": [""]}, host_uuid=HOST
    )
    assert content_type == "application/json"
    doc = json.loads(body)
    assert list(doc) == ["version", "step", "lastupdate", "ds", "rra"]
    assert doc["step"] == "5"
    assert doc["ds"][0]["name"] == "cpu0"
    assert doc["ds"][0]["max"] == "1"
    assert doc["rra"][0]["database"][-1] == ["0.75"]
    assert doc["rra"][0]["cdp_prep"]["ds"][0]["unknown_datapoints"] == "0"


def test_dump_errors_map_to_400_and_404() -> None:
    store = fed_store(10)
    with pytest.raises(RrdQueryError):
        rrd_dump_response(store, "vm", {}, host_uuid=HOST)
    with pytest.raises(RrdNotFound):
        rrd_dump_response(store, "sr", {"uuid": ["nope"]}, host_uuid=HOST)
    with pytest.raises(RrdNotFound):
        rrd_dump_response(store, "host", {}, host_uuid="another-host")


# -- generated values --------------------------------------------------------------------------

GEN_HOST = HostSpec(HOST, cpus=4, memory_total=64 * 2**30, pifs=("eth0", "eth1"), srs=(SR,))
GEN_VMS = (
    VmSpec(VM_A, vcpus=2, memory=4 * 2**30, vifs=(0, 1), vbds=("xvda", "xvdb")),
    VmSpec(VM_B, vcpus=1, memory=2 * 2**30),
)


def run(seed: int, steps: int) -> list[dict[tuple[str, str, str], float]]:
    generator = MetricsGenerator(seed)
    return [generator.sample(T0 + 5 * i, GEN_HOST, GEN_VMS) for i in range(steps)]


def test_generated_values_are_deterministic_for_a_seed() -> None:
    assert run(7, 20) == run(7, 20)
    assert run(7, 20) != run(8, 20)
    g1, g2 = MetricsGenerator(7), MetricsGenerator(7)
    assert g1.history(T0, GEN_HOST, GEN_VMS, 3600, 168) == g2.history(
        T0, GEN_HOST, GEN_VMS, 3600, 168
    )


def test_a_vms_values_do_not_depend_on_the_other_vms() -> None:
    alone = MetricsGenerator(7)
    together = MetricsGenerator(7)
    for i in range(10):
        a = alone.sample(T0 + 5 * i, GEN_HOST, GEN_VMS[1:])
        b = together.sample(T0 + 5 * i, GEN_HOST, GEN_VMS)
    assert {k: v for k, v in a.items() if k[0] == "vm"} == {
        k: v for k, v in b.items() if k[:2] == ("vm", VM_B)
    }


def test_generated_data_sources_use_xapis_names() -> None:
    sample = run(1, 1)[0]
    host = {k[2] for k in sample if k[0] == "host"}
    sr8 = SR[:8]
    assert {"cpu0", "cpu3", "cpu_avg", "loadavg", "memory_total_kib", "memory_free_kib"} <= host
    assert {"pif_eth0_rx", "pif_eth1_tx", "pif_aggr_rx", "pif_aggr_tx"} <= host
    assert {f"iops_read_{sr8}", f"iops_write_{sr8}"} <= host
    assert {f"io_throughput_read_{sr8}", f"io_throughput_write_{sr8}"} <= host
    vm = {k[2] for k in sample if k[:2] == ("vm", VM_A)}
    assert {"cpu0", "cpu1", "cpu_usage", "memory", "memory_target", "memory_internal_free"} <= vm
    assert {"vif_0_rx", "vif_1_tx", "vbd_xvda_read", "vbd_xvdb_write"} <= vm
    assert {"vbd_xvda_iops_read", "vbd_xvda_iops_write", "runstate_fullrun"} <= vm
    assert "cpu2" not in vm
    assert sample[("host", HOST, "memory_total_kib")] == 64 * 2**20
    assert sample[("vm", VM_A, "memory")] == 4 * 2**30


def test_generated_values_are_in_range_and_consistent() -> None:
    for sample in run(3, 50):
        for (_kind, _, name), value in sample.items():
            assert value >= 0, name
            if name.startswith(("cpu", "runstate_")):
                assert value <= 1, name
        assert sample[("host", HOST, "pif_aggr_rx")] == pytest.approx(
            sample[("host", HOST, "pif_eth0_rx")] + sample[("host", HOST, "pif_eth1_rx")]
        )
        runstates = [v for (k, u, n), v in sample.items() if u == VM_A and n.startswith("runstate")]
        assert sum(runstates) == pytest.approx(1.0)


def test_walks_are_smooth_between_steps() -> None:
    samples = run(5, 200)
    key = ("vm", VM_A, "cpu_usage")
    steps = [abs(b[key] - a[key]) for a, b in itertools.pairwise(samples)]
    assert max(steps) < 0.2


def test_backfill_gives_a_fresh_store_a_full_plausible_past() -> None:
    generator = MetricsGenerator(11)
    store = RrdStore(specs=ds_spec)
    now = T0 + 2.5
    store.backfill(now, generator.history_source(now, GEN_HOST, GEN_VMS))
    for i in range(1, 13):
        store.update(now + 5 * i, generator.sample(now + 5 * i, GEN_HOST, GEN_VMS))
    for interval, start, rows in ((5, -600, 120), (60, -7200, 120), (3600, -7 * 86400, 168)):
        doc = updates_json(store, start=str(start), interval=str(interval), host="true")
        data = doc["data"]
        assert isinstance(data, list)
        assert len(data) >= rows - 1
        assert all(v != "NaN" for row in data for v in row["values"])
    host = store.get(("host", HOST))
    assert host is not None
    for a in host.archives:
        if a.spec.cf is Cf.MIN:
            twin = next(
                b
                for b in host.archives
                if b.spec.pdp_per_row == a.spec.pdp_per_row and b.spec.cf is Cf.MAX
            )
            for lo, hi in zip(a.rings, twin.rings, strict=True):
                assert all(lo.peek(i) <= hi.peek(i) for i in range(len(lo)))
    # the live curve continues the backfilled one: no jump at the junction
    series = column(host, 0, "memory_free_kib", 30)
    assert max(series) - min(series) < 0.01 * max(series)
