"""Round-robin databases as xcp-rrdd keeps them: one RRD per host, VM and SR.

xapi's metrics are not raw samples but consolidated archives, and clients (XO, XenCenter) lean on
their exact shape: the step of each archive, which archive a query lands in, which timestamps rows
carry, NaN where data was missing. So this module follows the algorithm of `xapi-rrd`
(`ocaml/libs/xapi-rrd/lib/rrd.ml`, `rrd_updates.ml`) rather than inventing a simpler store:

- every `step` (5 s) a *primary data point* (PDP) is the time-weighted mean of the samples received
  during that step;
- each archive folds `pdp_per_row` PDPs into one *consolidated data point* (CDP) with its function
  (AVERAGE, MIN, MAX), unknown when more than `xff` of its PDPs were unknown;
- `/rrd_updates` picks, for the requested `start` and `interval`, the first archive that still
  reaches back to `start`, and reports rows newest first.

Where upstream has known quirks we keep the intent rather than the bug: a CDP whose PDPs were all
unknown is NaN (upstream may report the CF's initial value); an average over partly unknown PDPs
is the mean of the known ones (upstream's renormalisation biases it); MIN and MAX are not rescaled
like an average when a PDP is unknown.

Pure: no clock, no I/O; the caller passes `now`. Documents are made in `render`, HTTP queries
answered in `queries`, plausible values generated in `generator`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

OwnerKind = Literal["host", "vm", "sr"]
Owner = tuple[OwnerKind, str]
SampleKey = tuple[OwnerKind, str, str]
"""(owner kind, owner uuid, data-source name), e.g. `("vm", uuid, "cpu0")`."""

HistoryRow = tuple[float, float, float]
"""One backfilled row of one data source: (average, minimum, maximum)."""

HistorySource = Callable[[int, int], Mapping[SampleKey, Sequence[HistoryRow]]]
"""`(seconds_per_row, rows) -> {key: rows oldest first}`; the newest row is the period that ended
at the last multiple of `seconds_per_row` before `now`."""

NAN = math.nan


class RrdError(Exception):
    """Root of the metrics errors::

    RrdError
    ├── RrdQueryError (also ValueError)    bad parameter           -> 400
    ├── RrdNotFound (also LookupError)     no such RRD             -> 404
    └── NoRraAvailable                     nothing to export       -> 500
    """


class RrdQueryError(RrdError, ValueError):
    """A missing or malformed query parameter: HTTP 400."""


class RrdNotFound(RrdError, LookupError):
    """No RRD for the requested owner: HTTP 404."""


class NoRraAvailable(RrdError):
    """No archive matches the query (no RRD selected, or none with that CF); upstream's name."""


class Cf(enum.StrEnum):
    AVERAGE = "AVERAGE"
    MIN = "MIN"
    MAX = "MAX"


class DsType(enum.StrEnum):
    GAUGE = "GAUGE"
    ABSOLUTE = "ABSOLUTE"
    DERIVE = "DERIVE"


@dataclass(frozen=True, slots=True)
class DsSpec:
    """How a data source is consolidated. xcp-rrdd gives every DS a 300 s heartbeat."""

    type: DsType = DsType.GAUGE
    min: float = -math.inf
    max: float = math.inf
    heartbeat: float = 300.0


@dataclass(frozen=True, slots=True)
class ArchiveSpec:
    cf: Cf
    pdp_per_row: int
    rows: int
    xff: float


def _timescale(pdp_per_row: int, rows: int) -> tuple[ArchiveSpec, ...]:
    # rrdd_monitor.create_rras: the 5 s archive is AVERAGE only (xff 0.5); coarser ones also keep
    # MIN and MAX, with xff 1.0.
    if pdp_per_row == 1:
        return (ArchiveSpec(Cf.AVERAGE, 1, rows, 0.5),)
    return tuple(ArchiveSpec(cf, pdp_per_row, rows, 1.0) for cf in Cf)


XCP_RRDD_ARCHIVES: tuple[ArchiveSpec, ...] = (
    *_timescale(1, 120),  # 5 s for 10 minutes
    *_timescale(12, 120),  # 1 min for 2 hours
    *_timescale(720, 168),  # 1 hour for 1 week
    *_timescale(17280, 366),  # 1 day for 1 year
)
STEP = 5


class Ring:
    """A fixed-size ring of floats; index 0 is the newest value (upstream's `Fring`)."""

    __slots__ = ("_data", "_head")

    def __init__(self, size: int, fill: float = NAN) -> None:
        self._data = [fill] * size
        self._head = size - 1  # index of the newest value

    def __len__(self) -> int:
        return len(self._data)

    def push(self, value: float) -> None:
        self._head = (self._head + 1) % len(self._data)
        self._data[self._head] = value

    def peek(self, i: int) -> float:
        return self._data[(self._head - i) % len(self._data)]

    def load(self, values: Sequence[float]) -> None:
        """Replace the contents with `values` (oldest first), keeping the newest that fit."""
        size = len(self._data)
        tail = list(values[-size:]) if size else []
        self._data = [NAN] * (size - len(tail)) + tail
        self._head = size - 1

    def oldest_first(self) -> list[float]:
        h = self._head + 1
        return self._data[h:] + self._data[:h]


class DataSource:
    __slots__ = ("last", "name", "spec", "unknown_sec", "value")

    def __init__(self, name: str, spec: DsSpec, unknown_sec: float) -> None:
        self.name = name
        self.spec = spec
        self.last: float | None = None  # last raw value, for DERIVE
        self.value = 0.0  # accumulated rate x seconds in the current PDP
        self.unknown_sec = unknown_sec


class Archive:
    __slots__ = ("cdp_unknown", "cdp_value", "rings", "spec")

    def __init__(self, spec: ArchiveSpec) -> None:
        self.spec = spec
        self.rings: list[Ring] = []
        self.cdp_value: list[float] = []
        self.cdp_unknown: list[int] = []

    def add(self, ds: DsSpec, unknown_pdps: int) -> None:
        self.rings.append(Ring(self.spec.rows))
        self.cdp_value.append(_cf_init(self.spec.cf, ds))
        self.cdp_unknown.append(unknown_pdps)

    def fold(self, n: int, pdps: Sequence[float]) -> None:
        """Fold `n` copies of each PDP into the CDPs being prepared."""
        if n <= 0:
            return
        cf, cnt = self.spec.cf, self.spec.pdp_per_row
        values, unknown = self.cdp_value, self.cdp_unknown
        for i, pdp in enumerate(pdps):
            if math.isnan(pdp):
                if cf is Cf.AVERAGE:
                    # The accumulator holds sum(known x) / (PDPs expected known): one fewer
                    # expected, so every known value weighs more.
                    olddiv = cnt - unknown[i]
                    newdiv = olddiv - n
                    if newdiv > 0:
                        values[i] *= olddiv / newdiv
                unknown[i] += n
            elif cf is Cf.AVERAGE:
                known = cnt - unknown[i]
                values[i] += pdp * n / known if known > 0 else 0.0
            elif cf is Cf.MIN:
                values[i] = min(values[i], pdp)
            else:
                values[i] = max(values[i], pdp)

    def primaries(self) -> list[float]:
        limit = int(self.spec.xff * self.spec.pdp_per_row)
        cnt = self.spec.pdp_per_row
        return [
            v if u <= limit and u < cnt else NAN
            for v, u in zip(self.cdp_value, self.cdp_unknown, strict=True)
        ]


def _cf_init(cf: Cf, ds: DsSpec) -> float:
    # CA-329043: start inside the DS range so no out-of-range CDP is ever produced.
    default = {Cf.AVERAGE: 0.0, Cf.MIN: math.inf, Cf.MAX: -math.inf}[cf]
    return min(ds.max, max(ds.min, default))


class Rrd:
    """The RRD of one owner: its data sources and its archives, sharing one clock."""

    def __init__(
        self, now: float, archives: Sequence[ArchiveSpec] = XCP_RRDD_ARCHIVES, step: int = STEP
    ) -> None:
        self.step = step
        self.last_updated = now
        self.dss: list[DataSource] = []
        self.index: dict[str, int] = {}
        self.archives = [Archive(a) for a in archives]

    def ds_names(self) -> list[str]:
        return [ds.name for ds in self.dss]

    def add_ds(self, name: str, spec: DsSpec) -> None:
        """Add a DS with unknown history (upstream `rrd_add_ds`)."""
        if name in self.index:
            return
        pdp_index = int(self.last_updated // self.step)
        self.index[name] = len(self.dss)
        self.dss.append(DataSource(name, spec, self.last_updated - pdp_index * self.step))
        for a in self.archives:
            a.add(spec, pdp_index % a.spec.pdp_per_row)

    def update(self, now: float, values: Mapping[str, float]) -> None:
        """Consolidate one sample per DS taken at `now`; a DS without a value is unknown."""
        interval = now - self.last_updated
        if interval <= 0:
            return  # a repeated or backwards clock must not divide by zero or rewrite history
        step = self.step
        proc_pdp_st = int(self.last_updated // step) * step
        occu_pdp_st = int(now // step) * step
        occu_age = now - occu_pdp_st
        elapsed = (occu_pdp_st - proc_pdp_st) // step
        pre_int, post_int = (interval - occu_age, occu_age) if elapsed > 0 else (interval, 0.0)
        self.last_updated = now

        rates = [self._rate(ds, values.get(ds.name), interval) for ds in self.dss]
        for ds, rate in zip(self.dss, rates, strict=True):
            if math.isnan(rate):
                ds.unknown_sec += pre_int
            else:
                ds.value += pre_int * rate / interval
        if elapsed <= 0:
            return

        span = float(occu_pdp_st - proc_pdp_st)
        pdps = [self._pdp(ds, span, interval) for ds in self.dss]
        self._update_archives(proc_pdp_st, elapsed, pdps)
        for ds, rate in zip(self.dss, rates, strict=True):
            if math.isnan(rate):
                ds.value, ds.unknown_sec = 0.0, post_int
            else:
                ds.value, ds.unknown_sec = post_int * rate / interval, 0.0

    @staticmethod
    def _rate(ds: DataSource, raw: float | None, interval: float) -> float:
        """Rate x interval, the quantity the PDP accumulator integrates (upstream's trick)."""
        if interval > ds.spec.heartbeat:
            ds.last = raw
            return NAN
        if raw is None or math.isnan(raw):
            ds.last = None
            return NAN
        kind = ds.spec.type
        if kind is DsType.GAUGE:
            result = raw * interval
        elif kind is DsType.ABSOLUTE:
            result = raw
        else:
            result = raw - ds.last if ds.last is not None else NAN
        ds.last = raw
        return result

    @staticmethod
    def _pdp(ds: DataSource, span: float, interval: float) -> float:
        known = span - ds.unknown_sec
        if interval > ds.spec.heartbeat or known <= 0:
            return NAN
        raw = ds.value / known
        return raw if ds.spec.min <= raw <= ds.spec.max else NAN

    def _update_archives(self, proc_pdp_st: int, elapsed: int, pdps: Sequence[float]) -> None:
        for a in self.archives:
            cnt = a.spec.pdp_per_row
            to_boundary = cnt - (proc_pdp_st // self.step) % cnt
            a.fold(min(to_boundary, elapsed), pdps)
            if elapsed < to_boundary:
                continue
            rows = (elapsed - to_boundary) // cnt + 1
            # The first row completes the CDP prepared so far; any further rows are made of the
            # current PDP alone, and whatever the CF, a CDP of identical PDPs is that PDP.
            for ring, v in zip(a.rings, a.primaries(), strict=True):
                ring.push(v)
            for _ in range(min(rows - 1, a.spec.rows)):
                for ring, v in zip(a.rings, pdps, strict=True):
                    ring.push(v)
            for i, ds in enumerate(self.dss):
                a.cdp_value[i] = _cf_init(a.spec.cf, ds.spec)
                a.cdp_unknown[i] = 0
            a.fold((elapsed - to_boundary) % cnt, pdps)

    def fill(self, now: float, history: Mapping[int, Mapping[str, Sequence[HistoryRow]]]) -> None:
        """Replace the archives' contents with ready-made rows, as if consolidated until `now`.

        `history[seconds_per_row][ds_name]` holds rows oldest first. The CDPs and the PDP in
        progress are primed with the newest fine-grained value, so the first live updates after
        a backfill continue the curves instead of dipping towards zero.
        """
        self.last_updated = now
        step = self.step
        pdp_index = int(now // step)
        age = now - pdp_index * step
        fine = history.get(step, {})
        levels: list[float] = []
        for ds in self.dss:
            rows = fine.get(ds.name)
            level = rows[-1][0] if rows else NAN
            levels.append(level)
            ds.last = None
            if math.isnan(level):
                ds.value, ds.unknown_sec = 0.0, age
            else:
                ds.value, ds.unknown_sec = level * age, 0.0
        for a in self.archives:
            cnt = a.spec.pdp_per_row
            pick = {Cf.AVERAGE: 0, Cf.MIN: 1, Cf.MAX: 2}[a.spec.cf]
            table = history.get(step * cnt, {})
            for i, ds in enumerate(self.dss):
                a.rings[i].load([row[pick] for row in table.get(ds.name, ())[-a.spec.rows :]])
                a.cdp_value[i] = _cf_init(a.spec.cf, ds.spec)
                a.cdp_unknown[i] = 0
            a.fold(pdp_index % cnt, levels)  # the PDPs already in the CDP in progress


class RrdStore:
    """The RRDs one host keeps, keyed by owner: its own, its resident VMs' and its SRs'.

    Keep one store per simulated host, as xcp-rrdd runs on each host: an SR's RRD differs from
    host to host, and `/rrd_updates` answers for one host.

    Each call to `update` advances every RRD to `now`: owners or DSs absent from the samples get
    unknown values, so all RRDs keep the same clock, as `/rrd_updates` assumes. A sample for a
    new owner or DS creates it, with unknown history.
    """

    def __init__(
        self,
        *,
        archives: Sequence[ArchiveSpec] = XCP_RRDD_ARCHIVES,
        step: int = STEP,
        specs: Callable[[SampleKey], DsSpec] | None = None,
    ) -> None:
        self.archives = tuple(archives)
        self.step = step
        self._spec = specs or (lambda _key: DsSpec())
        self._rrds: dict[Owner, Rrd] = {}

    def get(self, owner: Owner) -> Rrd | None:
        return self._rrds.get(owner)

    def owners(self, kind: OwnerKind | None = None) -> list[Owner]:
        return [o for o in self._rrds if kind is None or o[0] == kind]

    def drop(self, owner: Owner) -> Rrd | None:
        """Forget an owner (a VM that stopped or left this host) and return its RRD."""
        return self._rrds.pop(owner, None)

    def adopt(self, owner: Owner, rrd: Rrd) -> None:
        """Take over an RRD from another host's store, as xcp-rrdd moves a migrating VM's."""
        self._rrds[owner] = rrd

    def update(self, now: float, samples: Mapping[SampleKey, float]) -> None:
        by_owner: dict[Owner, dict[str, float]] = {}
        for (kind, uuid, name), value in samples.items():
            by_owner.setdefault((kind, uuid), {})[name] = value
        for (kind, uuid), values in by_owner.items():
            rrd = self._rrds.get((kind, uuid))
            if rrd is None:
                # Created at `now`, so this first sample only seeds it (as upstream's rrd_create).
                rrd = self._rrds[(kind, uuid)] = Rrd(now, self.archives, self.step)
            for name in values:
                if name not in rrd.index:
                    rrd.add_ds(name, self._spec((kind, uuid, name)))
        for owner, rrd in self._rrds.items():
            rrd.update(now, by_owner.get(owner, {}))

    def backfill(self, now: float, source: HistorySource) -> None:
        """Give the owners of `source` a plausible past at once, archive by archive.

        Costs one row per archive row (about 2,000 per DS) instead of replaying a year of 5 s
        updates. The RRDs of the owners concerned are recreated; others are left alone.
        """
        steps = sorted({self.step * a.pdp_per_row: a.rows for a in self.archives}.items())
        per_owner: dict[Owner, dict[int, dict[str, Sequence[HistoryRow]]]] = {}
        for seconds, rows in steps:
            for (kind, uuid, name), history in source(seconds, rows).items():
                per_owner.setdefault((kind, uuid), {}).setdefault(seconds, {})[name] = history
        for (kind, uuid), tables in per_owner.items():
            rrd = self._rrds[(kind, uuid)] = Rrd(now, self.archives, self.step)
            for name in dict.fromkeys(n for table in tables.values() for n in table):
                rrd.add_ds(name, self._spec((kind, uuid, name)))
            rrd.fill(now, tables)
