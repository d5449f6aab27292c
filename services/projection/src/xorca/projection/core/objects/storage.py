"""``sr``, ``vdi``/``vdi-snapshot``, ``vbd`` and ``pbd`` objects (translate/storage.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from xorca.projection.core.objects.base import (
    Datetime,
    Object,
    Operated,
    Strings,
    Tagged,
    VdiType,
    link,
)

__all__ = ["Pbd", "Sr", "Vbd", "Vdi"]


class Sr(Operated, Tagged):
    """A storage repository (its VDIs: the `vdi` objects whose `$sr` it is)."""

    type: Literal["sr"]
    sr_type: Annotated[str | None, Field(description="the driver: lvm, ext, nfs, iso…")] = None
    content_type: Annotated[str | None, Field(description="user, iso, disk…")] = None
    shared: bool | None = None
    physical_size: int | None = None
    physical_utilisation: int | None = None
    virtual_allocation: int | None = None
    usage: Annotated[
        float | None, Field(description="physical_utilisation / physical_size, when sized")
    ] = None
    attached: Annotated[bool, Field(description="at least one PBD is attached")]
    pbds: Annotated[Strings, link("$pbds", "its PBDs")]
    hosts: Annotated[Strings, link("$hosts", "the hosts it is connected to")]
    vdi_count: int


class Vdi(Operated, Tagged):
    """A virtual disk, or a snapshot of one."""

    type: VdiType
    virtual_size: int | None = None
    physical_utilisation: int | None = None
    vdi_type: Annotated[str | None, Field(description="system, user, suspend…")] = None
    sharable: bool | None = None
    read_only: bool | None = None
    managed: bool | None = None
    missing: bool | None = None
    is_a_snapshot: bool | None = None
    snapshot_time: Datetime | None = None
    snapshot_of: Annotated[str | None, link("$snapshot_of", "what it is a snapshot of")] = None
    snapshots: Annotated[Strings, link("$snapshots", "its snapshots")]
    sr: Annotated[str | None, link("$sr", "its SR")] = None
    vbds: Annotated[Strings, link("$vbds", "its VBDs")]
    vms: Annotated[Strings, link("$vms", "the VMs it is plugged into")]


class Vbd(Operated, Object):
    """A VM's drive, which holds a VDI unless it is empty."""

    type: Literal["vbd"]
    device: Annotated[str | None, Field(description='xvda ("" until first attached)')] = None
    userdevice: Annotated[str | None, Field(description='the slot number ("0")')] = None
    mode: Annotated[str | None, Field(description="RO or RW")] = None
    vbd_type: Annotated[str | None, Field(description="Disk, CD or Floppy")] = None
    bootable: bool | None = None
    currently_attached: bool | None = None
    empty: bool | None = None
    vm: Annotated[str | None, link("$vm", "its VM")] = None
    vdi: Annotated[str | None, link("$vdi", "its VDI")] = None


class Pbd(Object):
    """How a host reaches an SR."""

    type: Literal["pbd"]
    currently_attached: bool | None = None
    device_config: Annotated[
        dict[str, str] | None, Field(description="without keys naming a password or secret")
    ] = None
    host: Annotated[str | None, link("$host", "the host")] = None
    sr: Annotated[str | None, link("$sr", "the SR")] = None
