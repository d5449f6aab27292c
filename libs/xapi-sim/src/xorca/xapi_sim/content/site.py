"""Where new VMs go in a pool: its hosts, shared storage, ISO images, guest networks, templates.

The builder fills a `Site` while it lays out the infrastructure; `load_site` reads one back from a
live database, so VMs can be added to a pool after it was built (the activity mode does). Host
addresses and guest subnets follow fixed rules (`host_address`, `subnet_prefix`) that other
modules re-derive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xorca.xapi_sim.content.names import Family
from xorca.xapi_sim.state.db import Database


def host_address(pool_index: int, host_index: int) -> str:
    """Where host ``host_index`` of pool ``pool_index`` (1-based) listens; 127/8 is loopback."""
    return f"127.{100 + pool_index}.0.{host_index}"


def subnet_prefix(pool_index: int, bridge: str) -> str:
    """The private /16 that guests on the network ``bridge`` take their (data only) IPs from."""
    return {
        "xenbr0": f"10.{pool_index % 256}",
        "xenbr1": f"10.{(100 + pool_index) % 256}",
        "xapi1": f"172.{16 + pool_index % 16}",
    }.get(bridge, "192.168")


@dataclass
class HostSlot:
    ref: str
    name: str
    address: str
    local_sr: str
    next_domid: int = 1


@dataclass
class Subnet:
    """A VM network and the private /16 its guests take addresses from (data only)."""

    network: str
    prefix: str  # "10.101"
    used: int = 0

    def allocate(self) -> str:
        self.used += 1
        return f"{self.prefix}.{self.used // 250}.{self.used % 250 + 2}"


@dataclass
class Site:
    """What a new VM can be placed on and connected to, in one pool."""

    hosts: list[HostSlot]
    shared_sr: str
    iso_vdis: list[str]
    subnets: list[Subnet]  # the management network's first
    templates: dict[str, str]  # name_label -> ref
    cpu_flags: dict[str, str]  # what last_boot_CPU_flags records
    now: float
    counters: dict[str, int] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)  # VM names in use

    def name_for(self, family: Family) -> str:
        while True:
            n = self.counters.get(family.pattern, 0) + 1
            self.counters[family.pattern] = n
            name = family.pattern.format(n=n)
            if name not in self.taken:
                self.taken.add(name)
                return name


def load_site(db: Database, now: float) -> Site:
    """The `Site` of a built pool, read back from its database, to add VMs to it later."""
    pool = db.get("pool", db.refs("pool")[0])
    index = 0
    slots: list[HostSlot] = []
    local_srs = {
        str(pbd["host"]): str(pbd["SR"])
        for _, pbd in db.records("PBD")
        if not db.field("SR", str(pbd["SR"]), "shared")
        and db.field("SR", str(pbd["SR"]), "content_type") == "user"
    }
    for ref, host in db.records("host"):
        address = str(host["address"])
        index = int(address.split(".")[1]) - 100
        resident = [db.get("VM", str(vm))["domid"] for vm in host["resident_VMs"]]  # type: ignore[union-attr]
        next_domid = max([d for d in resident if isinstance(d, int)], default=0) + 1
        slots.append(
            HostSlot(ref, str(host["name_label"]), address, local_srs.get(ref, ""), next_domid)
        )
    iso_vdis = [
        ref
        for ref, vdi in db.records("VDI")
        if db.field("SR", str(vdi["SR"]), "content_type") == "iso"
        and not vdi["is_tools_iso"]
        and db.field("SR", str(vdi["SR"]), "type") == "iso"
    ]
    subnets = [
        Subnet(ref, subnet_prefix(index, str(net["bridge"])))
        for ref, net in db.records("network")
        if net["PIFs"]
    ]
    templates: dict[str, str] = {}
    taken: set[str] = set()
    for ref, vm in db.records("VM"):
        if vm["is_default_template"]:
            templates[str(vm["name_label"])] = ref
        elif not vm["is_a_snapshot"] and not vm["is_control_domain"]:
            taken.add(str(vm["name_label"]))
    cpu = pool["cpu_info"]
    assert isinstance(cpu, dict)
    flags = {"vendor": str(cpu.get("vendor", "")), "features": str(cpu.get("features_hvm", ""))}
    site = Site(slots, str(pool["default_SR"]), iso_vdis, subnets, templates, flags, now)
    site.taken = taken
    return site
