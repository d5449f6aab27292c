"""``host`` and ``pool`` objects (translate/host.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from xorca.projection.core.objects.base import Closed, Datetime, Operated, Strings, Tagged, link

__all__ = ["Host", "HostCpus", "HostMemory", "Pool", "PoolCpus"]


class HostMemory(Closed):
    """Bytes."""

    total: int | None = None
    free: int | None = None
    overhead: Annotated[int | None, Field(description="used by the virtualisation")] = None


class HostCpus(Closed):
    """The host's CPUs (speed in MHz)."""

    count: Annotated[int | None, Field(description="logical CPUs")] = None
    sockets: int | None = None
    vendor: str | None = None
    model: str | None = None
    speed_mhz: float | None = None


class Host(Operated, Tagged):
    """A host (which one is the master: the pool's `$master`)."""

    type: Literal["host"]
    hostname: str | None = None
    address: Annotated[str | None, Field(description="the management address")] = None
    enabled: Annotated[bool | None, Field(description="false in maintenance")] = None
    live: Annotated[bool | None, Field(description="xapi's liveness of the host")] = None
    power_state: Annotated[
        Literal["Running", "Halted", "Unknown"],
        Field(description="from live: XAPI has no host power state"),
    ]
    memory: HostMemory | None = None
    cpus: HostCpus | None = None
    product_brand: str | None = None
    product_version: str | None = None
    build_number: str | None = None
    edition: str | None = None
    bios_vendor: str | None = None
    system_manufacturer: str | None = None
    system_product_name: str | None = None
    boot_time: Datetime | None = None
    control_domain: Annotated[str | None, link("$control_domain", "the host's dom0")] = None
    resident_vm_count: Annotated[int, Field(description="VMs running on it, dom0 included")]
    pifs: Annotated[Strings, link("$pifs", "the host's interfaces")]
    pbds: Annotated[Strings, link("$pbds", "the host's storage connections")]


class PoolCpus(Closed):
    """All the pool's hosts together."""

    count: int | None = None
    sockets: int | None = None
    vendor: str | None = None


class Pool(Operated, Tagged):
    """A pool (its `$pool` is its own id)."""

    type: Literal["pool"]
    master: Annotated[str | None, link("$master", "the master host")] = None
    default_sr: Annotated[str | None, link("$default_sr", "the SR for new disks")] = None
    ha_enabled: bool | None = None
    ha_host_failures_to_tolerate: int | None = None
    cpus: PoolCpus | None = None
