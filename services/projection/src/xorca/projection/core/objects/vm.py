"""``vm``, ``vm-template``, ``vm-snapshot`` and ``vm-controller`` objects (translate/vm.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from xorca.projection.core.objects.base import (
    Closed,
    Datetime,
    Operated,
    Strings,
    Tagged,
    VmType,
    link,
)

__all__ = ["Vm", "VmAddress", "VmConsole", "VmCpus", "VmDisk", "VmMemory", "VmNic", "VmOs"]


class VmMemory(Closed):
    """Bytes."""

    static_min: int | None = None
    static_max: int | None = None
    dynamic_min: int | None = None
    dynamic_max: int | None = None
    actual: Annotated[int | None, Field(description="what the domain has now (0 halted)")] = None


class VmCpus(Closed):
    """VCPUs: the limits, and what the domain has now."""

    max: Annotated[int | None, Field(description="most VCPUs the VM may have")] = None
    at_startup: Annotated[int | None, Field(description="VCPUs the VM starts with")] = None
    number: Annotated[int | None, Field(description="VCPUs the domain has now")] = None
    utilisation: Annotated[
        list[float] | None, Field(description="per VCPU, in VCPU order, 0..1")
    ] = None
    usage: Annotated[float | None, Field(description="mean of utilisation")] = None


class VmOs(Closed):
    """What the guest agent says of the OS (`name` up to the first `|`)."""

    name: str | None = None
    distro: str | None = None
    uname: str | None = None
    major: str | None = None
    minor: str | None = None


class VmAddress(Closed):
    """An address the guest reports on one of its interfaces."""

    device: Annotated[str, Field(description="the VIF's device number")]
    ip: str


class VmDisk(Closed):
    """One VBD of the VM, with its VDI when it has one (not an empty drive)."""

    vbd: Annotated[str, link("$vbd", "the VBD")]
    device: str | None = None
    userdevice: str | None = None
    mode: Annotated[str | None, Field(description="RO or RW")] = None
    type: Annotated[str | None, Field(description="Disk, CD or Floppy")] = None
    bootable: bool | None = None
    empty: bool | None = None
    currently_attached: bool | None = None
    vdi: Annotated[str | None, link("$vdi", "the VDI (absent for an empty drive)")] = None
    name_label: Annotated[str | None, Field(description="the VDI's name")] = None
    size: Annotated[int | None, Field(description="the VDI's virtual size, bytes")] = None
    sr: Annotated[str | None, link("$sr", "the VDI's SR")] = None


class VmNic(Closed):
    """One VIF of the VM."""

    vif: Annotated[str, link("$vif", "the VIF")]
    device: str | None = None
    mac: str | None = None
    currently_attached: bool | None = None


class VmConsole(Closed):
    """A console (not an object: `uuid` is not a link)."""

    uuid: str
    protocol: Annotated[str | None, Field(description="rfb, vt100 or rdp")] = None
    location: Annotated[str | None, Field(description="its URL")] = None


class Vm(Operated, Tagged):
    """A VM, a template, a snapshot or a control domain (dom0, driver domains)."""

    type: VmType
    power_state: Annotated[
        str | None, Field(description="XAPI's: Halted, Paused, Running or Suspended")
    ] = None
    is_a_template: bool | None = None
    is_a_snapshot: bool | None = None
    is_control_domain: bool | None = None
    is_default_template: Annotated[
        bool | None, Field(description="a template shipped with XAPI, not made by a user")
    ] = None
    host: Annotated[str | None, link("$host", "the host the VM runs on")] = None
    container: Annotated[str, link("$container", "where a tree puts the VM: its host, or pool")]
    affinity: Annotated[str | None, link("$affinity", "the host it prefers to start on")] = None
    domid: Annotated[int | None, Field(description="Xen domain id (-1: no domain)")] = None
    domain_type: Annotated[
        str | None, Field(description="XAPI's: hvm, pv, pv_in_pvh, pvh, unspecified")
    ] = None
    memory: VmMemory | None = None
    cpus: VmCpus | None = None
    start_time: Datetime | None = None
    install_time: Datetime | None = None
    os: VmOs | None = None
    pv_drivers_version: Annotated[
        str | None, Field(description="major.minor.micro[-build] of the guest tools")
    ] = None
    pv_drivers_up_to_date: bool | None = None
    pv_drivers_detected: bool | None = None
    addresses: Annotated[
        list[VmAddress] | None,
        Field(description="what the guest reports, while the VM has a domain"),
    ] = None
    main_address: Annotated[
        str | None, Field(description="the first IPv4 of addresses, else the first address")
    ] = None
    disks: Annotated[list[VmDisk], Field(description="by userdevice")]
    vbds: Annotated[Strings, link("$vbds", "all the VM's VBDs")]
    nics: Annotated[list[VmNic], Field(description="by device")]
    vifs: Annotated[Strings, link("$vifs", "all the VM's VIFs")]
    consoles: Annotated[list[VmConsole], Field(description="by protocol")]
    snapshots: Annotated[Strings, link("$snapshots", "the VM's snapshots")]
    snapshot_of: Annotated[str | None, link("$snapshot_of", "the VM it is a snapshot of")] = None
    snapshot_time: Datetime | None = None
    parent: Annotated[str | None, link("$parent", "the VM this one was cloned from")] = None
    suspend_vdi: Annotated[
        str | None, link("$suspend_vdi", "the VDI holding a suspended VM's memory")
    ] = None
    ha_restart_priority: Annotated[
        str | None, Field(description='XAPI\'s: restart, best-effort or ""')
    ] = None
    blocked_operations: Annotated[
        dict[str, str] | None, Field(description="{operation: reason} a user has blocked")
    ] = None
