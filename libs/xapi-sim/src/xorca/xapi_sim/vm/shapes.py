"""What a VM's domain, devices and memory look like: pure functions of its record.

The names and numbers xapi and xenopsd give a guest (device names, free device slots, console
protocols and locations, generated MACs, the addresses its guest agent reports, the memory it needs
and holds) and the disks a template's ``other_config:disks`` asks for. No database, no I/O: the
handlers read the records and write what these return.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from xorca.xapi.values import Value

# ---- shapes of what a running domain shows --------------------------------------------------


def domain_kind(vm: Mapping[str, Value]) -> str:
    """hvm | pv | pv_in_pvh | pvh: ``domain_type``, or derived from ``HVM_boot_policy`` as xapi
    does for records that predate the field."""
    kind = str(vm.get("domain_type", "unspecified"))
    if kind != "unspecified":
        return kind
    return "hvm" if vm.get("HVM_boot_policy") else "pv"


def console_protocols(kind: str) -> tuple[str, ...]:
    """HVM guests get qemu's VNC only; PV guests get vncterm (rfb) and the text console (vt100)."""
    return ("rfb",) if kind == "hvm" else ("vt100", "rfb")


def console_location(host_address: str, console_uuid: str) -> str:
    return f"https://{host_address}/console?uuid={console_uuid}"


def vbd_device(userdevice: str, kind: str) -> str:
    """The device name the backend reports for a userdevice: xvda… (PV) or hda… (HVM emulated)."""
    if not userdevice.isdigit():
        return userdevice
    letter = "abcdefghijklmnopqrstuvwxyz"[int(userdevice) % 26]
    return ("hd" if kind == "hvm" and int(userdevice) < 4 else "xvd") + letter


def allowed_vbd_devices(kind: str, has_pv_drivers: bool, used: Sequence[str]) -> list[str]:
    """``get_allowed_VBD_devices``: emulated HVM guests have four IDE slots, others sixteen."""
    top = 4 if kind == "hvm" and not has_pv_drivers else 16
    return [str(i) for i in range(top) if str(i) not in used]


def allowed_vif_devices(used: Sequence[str]) -> list[str]:
    """``get_allowed_VIF_devices``: seven slots, 0 to 6."""
    return [str(i) for i in range(7) if str(i) not in used]


def _digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()


def generate_mac(seed: str) -> str:
    """A stable locally-administered unicast MAC for ``seed`` (xapi derives them from mac_seed)."""
    raw = bytearray(_digest(seed)[:6])
    raw[0] = (raw[0] & 0xFC) | 0x02
    return ":".join(f"{b:02x}" for b in raw)


def _ipv6_link_local(mac: str) -> str:
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


def guest_networks(vm_uuid: str, vifs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """What the guest agent reports in ``VM_guest_metrics.networks`` for (device, MAC) pairs:
    ``N/ip`` and ``N/ipv4/0`` (the same address) and ``N/ipv6/0`` (link-local from the MAC)."""
    out: dict[str, str] = {}
    for device, mac in vifs:
        d = _digest(f"{vm_uuid}/{device}")
        ip = f"10.{d[0]}.{d[1]}.{d[2] % 253 + 2}"
        out[f"{device}/ip"] = ip
        out[f"{device}/ipv4/0"] = ip
        out[f"{device}/ipv6/0"] = _ipv6_link_local(mac)
    return out


# ---- memory ----------------------------------------------------------------------------------


def _int(value: Value | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


def start_memory(vm: Mapping[str, Value]) -> int:
    """Bytes a host must have free to boot or receive ``vm``: its target plus its overhead.

    xapi's ``vm_compute_start_memory`` can also squeeze ballooning guests down to dynamic_min;
    the simulator starts every guest at ``memory_dynamic_max`` and accounts it the same way.
    """
    return _int(vm.get("memory_dynamic_max")) + _int(vm.get("memory_overhead"))


def resident_memory(vm: Mapping[str, Value], metrics: Mapping[str, Value] | None) -> int:
    """Bytes a live domain holds: ``VM_metrics.memory_actual`` (else its target) plus overhead."""
    actual = _int(metrics.get("memory_actual")) if metrics is not None else 0
    if actual <= 0:
        actual = _int(vm.get("memory_dynamic_max"))
    return actual + _int(vm.get("memory_overhead"))


def memory_order_ok(static_min: int, dynamic_min: int, dynamic_max: int, static_max: int) -> bool:
    """xapi's constraint: static_min <= dynamic_min <= dynamic_max <= static_max."""
    return 0 <= static_min <= dynamic_min <= dynamic_max <= static_max


# ---- templates -------------------------------------------------------------------------------

_DISK = re.compile(r"<disk\s([^>]*?)/?>")
_ATTR = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*"([^"]*)"')


def provision_disks(text: str) -> list[dict[str, str]]:
    """The ``<provision><disk device="0" size="…" sr="…" bootable="true" type="system"/>``
    entries of a template's ``other_config:disks``, as attribute maps (malformed ones dropped)."""
    disks = []
    for m in _DISK.finditer(text):
        attrs = dict(_ATTR.findall(m.group(1)))
        if attrs.get("device", "").isdigit() and attrs.get("size", "").isdigit():
            disks.append(attrs)
    return disks
