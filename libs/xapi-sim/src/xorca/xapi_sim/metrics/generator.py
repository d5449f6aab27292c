"""Plausible metrics for a simulated host and its resident VMs, deterministic for a seed.

A graph that jumps randomly every 5 s looks fake, and one that is flat hides bugs in the client's
charts. So each owner carries a few hidden Gaussian random walks that pull back to zero
(Ornstein-Uhlenbeck processes, each with its own time constant: a VM's load drifts over minutes,
a vCPU's share jitters over seconds), plus a gentle daily cycle; every data source is a fixed
function of them. The host's figures are built from its VMs' (CPU demand, traffic, disk I/O), so
totals agree with the parts.

Because an OU process is time-reversible, history can be drawn backwards from the current state at
any resolution: `history` gives each archive its rows directly (AVERAGE, MIN, MAX), so a freshly
started simulator shows ten minutes, two hours, a week and a year of curves that end where the live
ones begin, at the cost of about 2,000 rows per data source.

Names and units are xcp-rrdd's (docs.xenserver.com "Monitor performance", XO's xapi-stats.mjs):
CPU and runstate values are fractions, `memory*_kib` KiB, VM `memory*` bytes, network and VBD
throughput bytes/s, `io_throughput_*` MiB/s, latencies microseconds. All are consolidated as
GAUGE; xcp-rrdd feeds some of them as DERIVE counters, which only shows in a full dump's `<type>`.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from xorca.xapi_sim.metrics.rrd import STEP, DsSpec, HistoryRow, HistorySource, SampleKey

KIB = 1024
MIB = 1024 * 1024
GIB = 1024 * MIB
DAY = 86400.0

FRACTION = DsSpec(min=0.0, max=1.0)
POSITIVE = DsSpec(min=0.0)
_FRACTION_PREFIXES = ("cpu", "runstate_", "iowait_")


def ds_spec(key: SampleKey) -> DsSpec:
    """The consolidation spec of a generated DS; pass as `RrdStore(specs=ds_spec)`."""
    name = key[2]
    return FRACTION if name.startswith(_FRACTION_PREFIXES) else POSITIVE


@dataclass(frozen=True, slots=True)
class HostSpec:
    uuid: str
    cpus: int
    memory_total: int
    """Bytes."""
    pifs: Sequence[str] = ("eth0",)
    srs: Sequence[str] = ()
    """UUIDs of the SRs this host has plugged; `<sr8>` is their first 8 characters."""


@dataclass(frozen=True, slots=True)
class VmSpec:
    uuid: str
    vcpus: int
    memory: int
    """Bytes (the memory target)."""
    vifs: Sequence[int] = (0,)
    vbds: Sequence[str] = ("xvda",)


@dataclass(slots=True)
class _Walks:
    """One owner's hidden walks: name -> (value, time constant in seconds)."""

    rng: random.Random
    traits: dict[str, float]
    z: dict[str, float] = field(default_factory=dict)
    tau: dict[str, float] = field(default_factory=dict)
    t: float | None = None

    def get(self, name: str, tau: float) -> float:
        if name not in self.z:
            self.z[name] = self.rng.gauss(0.0, 1.0)
            self.tau[name] = tau
        return self.z[name]

    def advance(self, now: float) -> None:
        dt = STEP if self.t is None else max(0.0, now - self.t)
        self.t = now
        for name, z in self.z.items():
            a = math.exp(-dt / self.tau[name])
            self.z[name] = z * a + math.sqrt(1.0 - a * a) * self.rng.gauss(0.0, 1.0)


Values = dict[str, float]
Latents = Callable[[str, float], float]


def _clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _daily(t: float, phase: float) -> float:
    return 1.0 + 0.35 * math.sin(2.0 * math.pi * (t / DAY - phase))


def _vm_values(vm: VmSpec, tr: Mapping[str, float], z: Latents, t: float) -> Values:
    load = tr["load"] * _daily(t, tr["phase"]) * math.exp(0.6 * z("load", 600.0))
    out: Values = {}
    cpus = [_clamp01(load * math.exp(0.4 * z(f"vcpu{i}", 60.0))) for i in range(vm.vcpus)]
    for i, c in enumerate(cpus):
        out[f"cpu{i}"] = c
    usage = sum(cpus) / len(cpus) if cpus else 0.0
    out["cpu_usage"] = usage
    # The runstate fractions of the VM's vCPUs add up to one.
    for name, share in (
        ("fullrun", 0.70),
        ("partial_run", 0.25),
        ("full_contention", 0.03),
        ("partial_contention", 0.01),
        ("concurrency_hazard", 0.01),
    ):
        out[f"runstate_{name}"] = usage * share
    out["runstate_blocked"] = 1.0 - usage
    out["memory"] = float(vm.memory)
    out["memory_target"] = float(vm.memory)
    used = 0.25 + 0.65 * _sig(tr["mem"] + 0.8 * z("mem", 3600.0))
    out["memory_internal_free"] = vm.memory * (1.0 - used) / KIB
    net = tr["net"] * _daily(t, tr["phase"]) * math.exp(z("net", 300.0))
    for n in vm.vifs:
        out[f"vif_{n}_rx"] = net * math.exp(0.5 * z(f"vif{n}rx", 60.0))
        out[f"vif_{n}_tx"] = 0.6 * net * math.exp(0.5 * z(f"vif{n}tx", 60.0))
    disk = tr["disk"] * _daily(t, tr["phase"]) * math.exp(z("disk", 300.0))
    for dev in vm.vbds:
        read = disk * math.exp(0.6 * z(f"{dev}r", 60.0))
        write = 0.7 * disk * math.exp(0.6 * z(f"{dev}w", 60.0))
        out[f"vbd_{dev}_read"] = read
        out[f"vbd_{dev}_write"] = write
        out[f"vbd_{dev}_iops_read"] = read / (tr["io_size"] * KIB)
        out[f"vbd_{dev}_iops_write"] = write / (tr["io_size"] * KIB)
    return out


def _vm_traits(rng: random.Random) -> dict[str, float]:
    return {
        "load": 0.01 + 0.3 * rng.random() ** 2,
        "phase": rng.random(),
        "mem": rng.uniform(-1.0, 1.0),
        "net": 10 ** rng.uniform(3.0, 6.0),
        "disk": 10 ** rng.uniform(3.5, 6.5),
        "io_size": rng.choice((4.0, 8.0, 16.0, 32.0, 64.0)),
    }


def _sr_of(host: HostSpec, vm: VmSpec, dev: str) -> str | None:
    """Which of the host's SRs a VBD lives on; stable, without needing the VDI."""
    if not host.srs:
        return None
    return host.srs[zlib.crc32(f"{vm.uuid}/{dev}".encode()) % len(host.srs)]


def _host_values(
    host: HostSpec, vms: Sequence[tuple[VmSpec, Values]], z: Latents, t: float
) -> Values:
    out: Values = {}
    demand = sum(v["cpu_usage"] * vm.vcpus for vm, v in vms)
    dom0 = 0.02 + 0.05 * _sig(z("dom0", 300.0))
    avg_target = _clamp01(dom0 + demand / max(1, host.cpus))
    cpus = [_clamp01(avg_target * math.exp(0.3 * z(f"cpu{i}", 30.0))) for i in range(host.cpus)]
    for i, c in enumerate(cpus):
        out[f"cpu{i}"] = c
    out["cpu_avg"] = sum(cpus) / len(cpus) if cpus else 0.0
    out["loadavg"] = 0.2 + 1.5 * _sig(z("dom0", 300.0)) + 0.1 * demand
    dom0_mem = min(8 * GIB, max(1 * GIB, 2 * GIB + host.memory_total // 20))
    used = dom0_mem + sum(vm.memory for vm, _ in vms) + host.memory_total * 0.01
    used += 16 * MIB * z("xen_mem", 3600.0)
    out["memory_total_kib"] = host.memory_total / KIB
    out["memory_free_kib"] = max(0.0, host.memory_total - used) / KIB
    rx = 2000.0 + sum(v[f"vif_{n}_rx"] for vm, v in vms for n in vm.vifs)
    tx = 1500.0 + sum(v[f"vif_{n}_tx"] for vm, v in vms for n in vm.vifs)
    weights = [math.exp(z(f"pif{p}", 120.0)) for p in host.pifs]
    total_w = sum(weights) or 1.0
    for p, w in zip(host.pifs, weights, strict=True):
        out[f"pif_{p}_rx"] = rx * w / total_w
        out[f"pif_{p}_tx"] = tx * w / total_w
    out["pif_aggr_rx"] = rx if host.pifs else 0.0
    out["pif_aggr_tx"] = tx if host.pifs else 0.0
    io: dict[str, list[float]] = {sr: [0.0, 0.0, 0.0, 0.0] for sr in host.srs}
    for vm, v in vms:
        for dev in vm.vbds:
            sr = _sr_of(host, vm, dev)
            if sr is not None:
                acc = io[sr]
                acc[0] += v[f"vbd_{dev}_read"]
                acc[1] += v[f"vbd_{dev}_write"]
                acc[2] += v[f"vbd_{dev}_iops_read"]
                acc[3] += v[f"vbd_{dev}_iops_write"]
    for sr, (read, write, iops_r, iops_w) in io.items():
        s8 = sr[:8]
        busy = _sig(z(f"sr{s8}", 300.0))
        out[f"io_throughput_read_{s8}"] = read / MIB
        out[f"io_throughput_write_{s8}"] = write / MIB
        out[f"io_throughput_total_{s8}"] = (read + write) / MIB
        out[f"iops_read_{s8}"] = iops_r
        out[f"iops_write_{s8}"] = iops_w
        out[f"iops_total_{s8}"] = iops_r + iops_w
        out[f"read_latency_{s8}"] = 150.0 + 2000.0 * busy
        out[f"write_latency_{s8}"] = 250.0 + 3000.0 * busy
        out[f"iowait_{s8}"] = 0.05 * busy * min(1.0, (iops_r + iops_w) / 500.0)
    return out


SR_DS = (
    "io_throughput_read",
    "io_throughput_write",
    "iops_read",
    "iops_write",
    "read_latency",
    "write_latency",
)
"""An SR's own RRD mirrors this host's view of it (`<name>_<sr8>`), without the suffix."""


def _sr_values(host_values: Values, sr: str) -> Values:
    return {n: host_values[f"{n}_{sr[:8]}"] for n in SR_DS}


class MetricsGenerator:
    """Samples and history for hosts and their resident VMs.

    State is kept per owner uuid and seeded from (seed, owner), so a VM's curves do not depend on
    which other VMs exist or in which order they are passed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._walks: dict[tuple[str, str], _Walks] = {}

    def _owner(self, kind: str, uuid: str) -> _Walks:
        walks = self._walks.get((kind, uuid))
        if walks is None:
            rng = random.Random(f"{self.seed}/{kind}/{uuid}")
            traits = _vm_traits(rng) if kind == "vm" else {}
            walks = self._walks[(kind, uuid)] = _Walks(rng, traits)
        return walks

    def sample(self, now: float, host: HostSpec, vms: Sequence[VmSpec]) -> dict[SampleKey, float]:
        """One step's values for `host` and `vms`; call every 5 s (any gap is fine)."""
        # A walk seen for the first time starts from its stationary law, so needs no advance.
        per_vm: list[tuple[VmSpec, Values]] = []
        for vm in vms:
            w = self._owner("vm", vm.uuid)
            w.advance(now)
            per_vm.append((vm, _vm_values(vm, w.traits, w.get, now)))
        hw = self._owner("host", host.uuid)
        hw.advance(now)
        return _keyed(host, per_vm, _host_values(host, per_vm, hw.get, now))

    def forget(self, vm_uuid: str) -> None:
        """Drop a VM's walks (it was destroyed); a restarted VM simply continues otherwise."""
        self._walks.pop(("vm", vm_uuid), None)

    def history(
        self, now: float, host: HostSpec, vms: Sequence[VmSpec], seconds_per_row: int, rows: int
    ) -> dict[SampleKey, list[HistoryRow]]:
        """`rows` rows (oldest first) for the periods ending at multiples of `seconds_per_row`
        up to `now`; the newest matches the current state, which is left as it was (a walk first
        needed here is created in it, so live sampling continues from there)."""
        end = (now // seconds_per_row) * seconds_per_row
        times = [end - (rows - 1 - j) * seconds_per_row for j in range(rows)]
        traits = [self._owner("vm", vm.uuid).traits for vm in vms]
        vm_paths = [self._path("vm", vm.uuid, seconds_per_row, rows) for vm in vms]
        host_path = self._path("host", host.uuid, seconds_per_row, rows)
        # The row's average, then its low and high ends; a 5 s row is a single PDP.
        offsets = (0.0,) if seconds_per_row <= STEP else (0.0, -1.0, 1.0)
        host_rows: dict[str, list[HistoryRow]] = {}
        vm_rows: list[dict[str, list[HistoryRow]]] = [{} for _ in vms]
        for j, t in enumerate(times):
            host_variants: list[Values] = []
            vm_variants: list[list[Values]] = [[] for _ in vms]
            for k in offsets:
                per_vm = [
                    (vm, _vm_values(vm, traits[i], vm_paths[i](j, k), t))
                    for i, vm in enumerate(vms)
                ]
                host_variants.append(_host_values(host, per_vm, host_path(j, k), t))
                for i, (_, values) in enumerate(per_vm):
                    vm_variants[i].append(values)
            _append_rows(host_rows, host_variants)
            for i, variants in enumerate(vm_variants):
                _append_rows(vm_rows[i], variants)
        table: dict[SampleKey, list[HistoryRow]] = {
            ("host", host.uuid, name): r for name, r in host_rows.items()
        }
        for vm, rows_by_name in zip(vms, vm_rows, strict=True):
            table.update({("vm", vm.uuid, name): r for name, r in rows_by_name.items()})
        for sr in host.srs:
            table.update({("sr", sr, name): host_rows[f"{name}_{sr[:8]}"] for name in SR_DS})
        return table

    def history_source(self, now: float, host: HostSpec, vms: Sequence[VmSpec]) -> HistorySource:
        """For `RrdStore.backfill(now, ...)`."""
        return partial(self.history, now, host, vms)

    def _path(self, kind: str, uuid: str, dt: float, rows: int) -> Callable[[int, float], Latents]:
        """Latent paths drawn backwards from the current state (walks first seen here are drawn
        by the live state, so live sampling continues them); `path(j, k)` reads row j shifted
        by k times the spread a walk has within one row."""
        live = self._owner(kind, uuid)
        rng = random.Random(f"{self.seed}/history/{kind}/{uuid}/{dt}")
        paths: dict[str, list[float]] = {}
        spread: dict[str, float] = {}

        def series(name: str, tau: float) -> list[float]:
            z = live.get(name, tau)
            a = math.exp(-dt / live.tau[name])
            noise = math.sqrt(1.0 - a * a)
            out = [z]
            for _ in range(rows - 1):
                z = z * a + noise * rng.gauss(0.0, 1.0)
                out.append(z)
            out.reverse()
            paths[name] = out
            spread[name] = noise
            return out

        def path(j: int, k: float) -> Latents:
            def z(name: str, tau: float) -> float:
                p = paths.get(name) or series(name, tau)
                return p[j] + k * spread[name]

            return z

        return path


def _append_rows(acc: dict[str, list[HistoryRow]], variants: Sequence[Values]) -> None:
    avg = variants[0]
    if len(variants) == 1:
        for name, v in avg.items():
            acc.setdefault(name, []).append((v, v, v))
        return
    low, high = variants[1], variants[2]
    for name, v in avg.items():
        lo, hi = low[name], high[name]
        acc.setdefault(name, []).append((v, min(v, lo, hi), max(v, lo, hi)))


def _keyed(
    host: HostSpec, per_vm: Sequence[tuple[VmSpec, Values]], host_values: Values
) -> dict[SampleKey, float]:
    out: dict[SampleKey, float] = {("host", host.uuid, k): v for k, v in host_values.items()}
    for vm, values in per_vm:
        out.update({("vm", vm.uuid, k): v for k, v in values.items()})
    for sr in host.srs:
        out.update({("sr", sr, k): v for k, v in _sr_values(host_values, sr).items()})
    return out
