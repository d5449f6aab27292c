"""``network``, ``vif`` and ``pif`` objects (translate/network.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from xorca.projection.core.objects.base import Object, Operated, Strings, Tagged, link

__all__ = ["Network", "Pif", "Vif"]


class Network(Operated, Tagged):
    """A network (its VIFs: the `vif` objects whose `$network` it is)."""

    type: Literal["network"]
    bridge: str | None = None
    mtu: int | None = None
    managed: bool | None = None
    default_locking_mode: Annotated[str | None, Field(description="unlocked or disabled")] = None
    purpose: Annotated[Strings | None, Field(description="sorted")] = None
    pifs: Annotated[Strings, link("$pifs", "its PIFs, one per host at most")]
    vif_count: int


class Vif(Operated, Object):
    """A VM's network interface."""

    type: Literal["vif"]
    device: Annotated[str | None, Field(description='the device number ("0")')] = None
    mac: str | None = None
    mtu: int | None = None
    currently_attached: bool | None = None
    locking_mode: Annotated[
        str | None, Field(description="network_default, locked, unlocked or disabled")
    ] = None
    ipv4_allowed: Strings | None = None
    ipv6_allowed: Strings | None = None
    ips: Annotated[
        Strings | None,
        Field(description="what the guest reports for this device, IPv4 first, while the VM "
              "has a domain"),
    ] = None  # fmt: skip
    vm: Annotated[str | None, link("$vm", "its VM")] = None
    network: Annotated[str | None, link("$network", "its network")] = None


class Pif(Object):
    """A host's network interface."""

    type: Literal["pif"]
    device: Annotated[str | None, Field(description="eth0, bond0…")] = None
    mac: str | None = None
    mtu: int | None = None
    ip_configuration_mode: Annotated[str | None, Field(description="None, DHCP or Static")] = None
    ip: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    dns: str | None = None
    ipv6_configuration_mode: str | None = None
    ipv6: Strings | None = None
    ipv6_gateway: str | None = None
    vlan: Annotated[int | None, Field(description="the VLAN tag, for a VLAN's PIF")] = None
    physical: bool | None = None
    management: bool | None = None
    currently_attached: bool | None = None
    host: Annotated[str | None, link("$host", "its host")] = None
    network: Annotated[str | None, link("$network", "its network")] = None
    carrier: bool | None = None
    speed: Annotated[int | None, Field(description="Mbit/s")] = None
    duplex: bool | None = None
    vendor_name: str | None = None
    device_name: str | None = None
