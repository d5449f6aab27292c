"""Where a VM can run: each host's free memory, the SRs it sees, and the host a start picks.

What a host's VMs hold comes from `state.host_index`, which keeps the sums up to date as rows
change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from xorca.xapi.datamodel import NULL_REF
from xorca.xapi.errors import XapiError
from xorca.xapi_sim.state import host_index
from xorca.xapi_sim.state.db import Database, Record
from xorca.xapi_sim.state.rows import integer, optional, ref_list, text


def free_memory(db: Database, host: str) -> int:
    """Bytes still free on ``host``: total minus overheads, live domains and reservations."""
    host_rec = db.get("host", host)
    metrics = optional(db, "host_metrics", text(host_rec, "metrics"))
    used = integer(host_rec, "memory_overhead") + host_index.used_memory(db, host)
    return (integer(metrics, "memory_total") if metrics else 0) - used


def refresh_host_memory(db: Database, host: str) -> None:
    """Write ``free_memory`` into ``host_metrics.memory_free`` (removed field, still emitted)."""
    if db.exists("host", host):
        metrics = text(db.get("host", host), "metrics")
        if db.exists("host_metrics", metrics):
            db.update("host_metrics", metrics, memory_free=max(free_memory(db, host), 0))


def _sr_visible(db: Database, sr: str, host: str) -> bool:
    pbds = [db.get("PBD", p) for p in ref_list(db.get("SR", sr), "PBDs") if db.exists("PBD", p)]
    return not pbds or any(p["host"] == host and p["currently_attached"] for p in pbds)


def _required_srs(db: Database, rec: Record) -> list[str]:
    vdis = [text(db.get("VBD", v), "VDI") for v in ref_list(rec, "VBDs") if db.exists("VBD", v)]
    vdis.append(text(rec, "suspend_VDI"))
    srs = [text(db.get("VDI", v), "SR") for v in vdis if db.exists("VDI", v)]
    return list(dict.fromkeys(sr for sr in srs if db.exists("SR", sr)))


def host_error(db: Database, vm: str, host: str, needed: int) -> XapiError | None:
    """Why ``vm`` cannot run on ``host`` (``assert_can_boot_here``), or None."""
    host_rec = db.get("host", host)
    if not host_rec["enabled"]:
        return XapiError("HOST_DISABLED", [host])
    metrics = optional(db, "host_metrics", text(host_rec, "metrics"))
    if metrics is not None and not metrics["live"]:
        return XapiError("HOST_OFFLINE", [host])
    for sr in _required_srs(db, db.get("VM", vm)):
        if not _sr_visible(db, sr, host):
            return XapiError("VM_REQUIRES_SR", [vm, sr])
    free = free_memory(db, host)
    if needed > free:
        return XapiError("HOST_NOT_ENOUGH_FREE_MEMORY", [needed, max(free, 0)])
    return None


def choose_host(db: Database, vm: str, needed: int) -> str:
    """The affinity host if it can take the VM, else the one with most free memory."""
    affinity = text(db.get("VM", vm), "affinity")
    hosts = sorted(db.refs("host"), key=lambda h: (h != affinity, -free_memory(db, h)))
    for host in hosts:
        if host_error(db, vm, host, needed) is None:
            return host
    raise XapiError("NO_HOSTS_AVAILABLE", [])


@contextmanager
def reserved(db: Database, vm: str, host: str) -> Iterator[None]:
    db.update("VM", vm, scheduled_to_be_resident_on=host)
    refresh_host_memory(db, host)
    try:
        yield
    finally:
        if db.exists("VM", vm) and db.field("VM", vm, "scheduled_to_be_resident_on") == host:
            db.update("VM", vm, scheduled_to_be_resident_on=NULL_REF)
        refresh_host_memory(db, host)
