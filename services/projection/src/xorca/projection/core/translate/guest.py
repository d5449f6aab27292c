"""What a guest agent reports (``VM_guest_metrics``), in the shapes the VM and VIF objects use.

``networks`` maps ``<device>/ip`` (the legacy first IPv4), ``<device>/ipv4/<n>`` and
``<device>/ipv6/<n>`` to addresses, where ``<device>`` is the VIF's device number. The legacy key
usually repeats ``ipv4/0``: an address appears once per device, IPv4 first, each family in the
agent's order.
"""

from __future__ import annotations

import re

from xorca.projection.core.translate.fields import Record, get_bool, get_str_map

__all__ = ["SHOWS_ADDRESSES", "addresses", "device_ips", "main_address", "os_info", "pv_drivers"]

_NETWORK_KEY = re.compile(r"(\d{1,4})/(?:(ip)|ipv4/(\d{1,4})|ipv6/(\d{1,4}))")

#: halted VMs keep their last guest metrics; their addresses are history, not facts
SHOWS_ADDRESSES = frozenset({"Running", "Paused", "Suspended"})


def device_ips(guest: Record) -> dict[str, list[str]]:
    """Device number -> its addresses (IPv4 then IPv6, without repeats), devices in order."""
    networks = get_str_map(guest, "networks") or {}
    ranked: dict[str, list[tuple[int, int, str]]] = {}
    for key, address in networks.items():
        match = _NETWORK_KEY.fullmatch(key)
        ip = address.strip()
        if match is None or not ip:
            continue
        device, legacy, v4, v6 = match.groups()
        if legacy:  # the legacy key sorts before ipv4/0, which it normally repeats
            rank = (0, -1)
        elif v4 is not None:
            rank = (0, int(v4))
        else:
            rank = (1, int(v6))
        ranked.setdefault(str(int(device)), []).append((*rank, ip))
    out: dict[str, list[str]] = {}
    for device in sorted(ranked, key=int):
        ips: dict[str, None] = {}
        for *_, ip in sorted(ranked[device]):
            ips[ip] = None
        out[device] = list(ips)
    return out


def addresses(guest: Record) -> list[dict[str, object]]:
    """``[{device, ip}]``: every address of every device, devices in numeric order."""
    return [{"device": dev, "ip": ip} for dev, ips in device_ips(guest).items() for ip in ips]


def main_address(found: list[dict[str, object]]) -> str | None:
    """The address a UI shows first: the first IPv4 of the lowest device, else the first IPv6."""
    ips = [str(entry["ip"]) for entry in found]
    return next((ip for ip in ips if ":" not in ip), ips[0] if ips else None)


def os_info(guest: Record) -> dict[str, object] | None:
    """``{name, distro, uname, major, minor}`` from ``os_version`` (Windows agents append
    ``|<system dir>|<boot device>`` to the name: only the part before the first ``|`` is kept)."""
    version = get_str_map(guest, "os_version")
    if not version:
        return None
    name = version.get("name")
    info: dict[str, object] = {
        "name": name.split("|", 1)[0] if name is not None else None,
        "distro": version.get("distro"),
        "uname": version.get("uname"),
        "major": version.get("major"),
        "minor": version.get("minor"),
    }
    return info if any(v is not None for v in info.values()) else None


def pv_drivers(guest: Record) -> dict[str, object]:
    """``pv_drivers_version`` ("major.minor.micro", "-build" when known), ``_up_to_date`` and
    ``_detected``."""
    version = get_str_map(guest, "PV_drivers_version") or {}
    text = None
    if "major" in version:
        text = ".".join(version[k] for k in ("major", "minor", "micro") if k in version)
        if version.get("build"):
            text += f"-{version['build']}"
    return {
        "pv_drivers_version": text,
        "pv_drivers_up_to_date": get_bool(guest, "PV_drivers_up_to_date"),
        "pv_drivers_detected": get_bool(guest, "PV_drivers_detected"),
    }
