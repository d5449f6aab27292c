"""Storage records: ``sr``, ``vdi``/``vdi-snapshot``, ``vbd`` and ``pbd`` objects.

Sizes are bytes, as ints. An SR's hosts are those of its PBDs, and it is attached when one of its
PBDs is. PBD ``device_config`` is published without its secrets (see `public_device_config`).
"""

from __future__ import annotations

from xorca.projection.core.translate.context import Context
from xorca.projection.core.translate.fields import (
    Record,
    get_bool,
    get_int,
    get_ref,
    get_refs,
    get_str,
    get_str_map,
)
from xorca.projection.core.translate.values import iso_datetime

__all__ = [
    "public_device_config",
    "translate_pbd",
    "translate_sr",
    "translate_vbd",
    "translate_vdi",
    "vdi_type",
]

#: device_config keys holding any of these words are never published (CHAP and CIFS passwords,
#: ``*_secret`` keys that name a secret object, …), whatever their value looks like
SECRET_WORDS = ("password", "secret")


def translate_sr(ctx: Context) -> dict[str, object]:
    r = ctx.record
    size = get_int(r, "physical_size")
    used = get_int(r, "physical_utilisation")
    pbds = ctx.all_linked(get_refs(r, "PBDs"), "pbd")
    hosts = {uuid for pbd in pbds if (uuid := ctx.link(get_ref(pbd.record, "host"), "host"))}
    return {
        **ctx.common(named=True, tagged=True),
        "sr_type": get_str(r, "type"),
        "content_type": get_str(r, "content_type"),
        "shared": get_bool(r, "shared"),
        "physical_size": size,
        "physical_utilisation": used,
        "virtual_allocation": get_int(r, "virtual_allocation"),
        # ISO and other unsized SRs report -1 or 0: no ratio then
        "usage": used / size if size and size > 0 and used is not None and used >= 0 else None,
        "attached": any(get_bool(pbd.record, "currently_attached") for pbd in pbds),
        "$pbds": [pbd.uuid for pbd in pbds],
        "$hosts": sorted(hosts),
        "vdi_count": len(get_refs(r, "VDIs")),  # not the ids: each VDI links its `$sr`
        **ctx.operations(),
    }


def vdi_type(record: Record) -> str:
    return "vdi-snapshot" if get_bool(record, "is_a_snapshot") else "vdi"


def translate_vdi(ctx: Context) -> dict[str, object]:
    r = ctx.record
    vbds = ctx.all_linked(get_refs(r, "VBDs"), "vbd")
    vms = {uuid for vbd in vbds if (uuid := ctx.link(get_ref(vbd.record, "VM"), "vm"))}
    return {
        **ctx.common(named=True, tagged=True),
        "virtual_size": get_int(r, "virtual_size"),
        "physical_utilisation": get_int(r, "physical_utilisation"),
        "vdi_type": get_str(r, "type"),
        "sharable": get_bool(r, "sharable"),
        "read_only": get_bool(r, "read_only"),
        "managed": get_bool(r, "managed"),
        "missing": get_bool(r, "missing"),
        "is_a_snapshot": get_bool(r, "is_a_snapshot"),
        "snapshot_time": iso_datetime(r.get("snapshot_time")),
        "$snapshot_of": ctx.link(get_ref(r, "snapshot_of"), "vdi"),
        "$snapshots": ctx.links(get_refs(r, "snapshots"), "vdi"),
        "$sr": ctx.link(get_ref(r, "SR"), "sr"),
        "$vbds": [vbd.uuid for vbd in vbds],
        "$vms": sorted(vms),
        **ctx.operations(),
    }


def translate_vbd(ctx: Context) -> dict[str, object]:
    r = ctx.record
    return {
        **ctx.common(named=False),
        "device": get_str(r, "device"),
        "userdevice": get_str(r, "userdevice"),
        "mode": get_str(r, "mode"),
        "vbd_type": get_str(r, "type"),
        "bootable": get_bool(r, "bootable"),
        "currently_attached": get_bool(r, "currently_attached"),
        "empty": get_bool(r, "empty"),
        "$vm": ctx.link(get_ref(r, "VM"), "vm"),
        "$vdi": ctx.link(get_ref(r, "VDI"), "vdi"),
        **ctx.operations(),
    }


def public_device_config(config: dict[str, str]) -> dict[str, str]:
    """``config`` without the keys that hold (or name) secrets, keys in order."""
    return {
        key: value
        for key, value in sorted(config.items())
        if not any(word in key.lower() for word in SECRET_WORDS)
    }


def translate_pbd(ctx: Context) -> dict[str, object]:
    r = ctx.record
    config = get_str_map(r, "device_config")
    return {
        **ctx.common(named=False),
        "currently_attached": get_bool(r, "currently_attached"),
        "device_config": None if config is None else public_device_config(config),
        "$host": ctx.link(get_ref(r, "host"), "host"),
        "$sr": ctx.link(get_ref(r, "SR"), "sr"),
    }
