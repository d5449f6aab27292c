"""A pool member as XCP-ng 8.3 reports it: the host row and its metrics, CPUs, NICs (PIFs, VLANs),
local storage, control domain (dom0) with its consoles, features and certificate.
"""

from __future__ import annotations

import random

from xorca.xapi.values import DateTime, Value
from xorca.xapi_sim.content import names
from xorca.xapi_sim.content.devices import add_pbd, add_sr
from xorca.xapi_sim.content.guests import allowed_operations
from xorca.xapi_sim.content.names import GIB, MIB, VLANS, CpuModel
from xorca.xapi_sim.content.rowbatch import Batch, Ids
from xorca.xapi_sim.content.site import HostSlot, host_address

DOM0_MEMORY = 8 * GIB


def add_host(
    batch: Batch,
    ids: Ids,
    rng: random.Random,
    index: int,
    h: int,
    site_code: str,
    cpu: CpuModel,
    nic: tuple[str, str, str, str, str, int],
    server: tuple[str, str, str, str],
    networks: list[tuple[str, str]],
    now: float,
) -> HostSlot:
    ref, dom0 = ids.ref(), ids.ref()
    hostname = f"xcp-ng-{site_code}-{h:02d}"
    address = host_address(index, h)
    stamp = DateTime.from_timestamp(now)
    booted = f"{now - rng.uniform(3, 200) * 86400:.0f}."
    iqn = f"iqn.2024-10.org.xcp-ng:{ids.uuid()[:8]}"
    local = add_sr(
        batch,
        ids,
        name_label="Local storage",
        type="ext",
        content_type="user",
        shared=False,
        other_config={
            "i18n-original-value-name_label": "Local storage",
            "i18n-key": "local-storage",
        },
        sm_config={"devserial": f"scsi-{ids.uuid()[:13]}"},
    )
    local_pbd = add_pbd(
        batch, ids, ref, local, {"device": f"/dev/disk/by-id/scsi-{ids.uuid()}"}, dom0
    )
    for label, content, kind in (
        ("DVD drives", "iso", "cd"),
        ("Removable storage", "disk", "block"),
    ):
        udev = add_sr(
            batch,
            ids,
            name_label=label,
            type="udev",
            content_type=content,
            shared=False,
            other_config={"i18n-key": f"local-hotplug-{kind}"},
            sm_config={"type": kind},
        )
        add_pbd(batch, ids, ref, udev, {"location": f"/dev/xapi/{kind}"}, dom0)
    for n in range(cpu.threads):
        batch.add(
            "host_cpu",
            ids.ref(),
            uuid=ids.uuid(),
            host=ref,
            number=n,
            vendor=cpu.vendor,
            speed=cpu.speed_mhz,
            modelname=cpu.modelname,
            family=cpu.family,
            model=cpu.model,
            stepping=cpu.stepping,
            flags=names.CPU_FLAGS,
            utilisation=round(rng.random() * 0.4, 4),
        )
    _pifs(batch, ids, ref, address, index, nic, networks, stamp)
    metrics = batch.add(
        "host_metrics",
        ids.ref(),
        uuid=ids.uuid(),
        live=True,
        last_updated=stamp,
        memory_total=rng.choice(names.HOST_MEMORY_GIB) * GIB,
    )
    _control_domain(batch, ids, dom0, ref, hostname, address, local_pbd, cpu, now)
    for label, description, enabled in names.FEATURES:
        batch.add(
            "Feature",
            ids.ref(),
            uuid=ids.uuid(),
            name_label=label,
            name_description=description,
            enabled=enabled,
            host=ref,
        )
    fingerprint = ":".join(f"{rng.getrandbits(8):02X}" for _ in range(32))
    batch.add(
        "Certificate",
        ids.ref(),
        uuid=ids.uuid(),
        type="host",
        host=ref,
        not_before=DateTime.from_timestamp(now - 400 * 86400),
        not_after=DateTime.from_timestamp(now + 3250 * 86400),
        fingerprint=fingerprint,
        fingerprint_sha256=fingerprint,
        fingerprint_sha1=fingerprint[:59],
    )
    sw = {**names.SOFTWARE_VERSION, "hostname": hostname}
    batch.add(
        "host",
        ref,
        uuid=ids.uuid(),
        name_label=hostname,
        name_description="Default install",
        hostname=hostname,
        address=address,
        enabled=True,
        API_version_major=2,
        API_version_minor=21,
        API_version_vendor="XenSource",
        software_version=sw,
        other_config={
            "agent_start_time": booted,
            "boot_time": booted,
            "iscsi_iqn": iqn,
            "multipathing": "false",
        },
        capabilities=list(names.HOST_CAPABILITIES),
        sched_policy="credit",
        supported_bootloaders=["pygrub", "eliloader"],
        suspend_image_sr=local,
        crash_dump_sr=local,
        cpu_info={
            **cpu_info(cpu, 1),
            "speed": f"{cpu.speed_mhz}.000",
            "modelname": cpu.modelname,
            "family": str(cpu.family),
            "model": str(cpu.model),
            "stepping": cpu.stepping,
            "flags": names.CPU_FLAGS,
        },
        metrics=metrics,
        license_params={"sku_type": "xcp-ng", "expiry": "30000101T00:00:00Z"},
        edition="xcp-ng",
        editions=["xcp-ng"],
        license_server={"address": "localhost", "port": "27000"},
        bios_strings={
            "bios-vendor": server[0],
            "bios-version": server[3],
            "system-manufacturer": server[1],
            "system-product-name": server[2],
            "system-serial-number": ids.uuid()[:7].upper(),
        },
        chipset_info={"iommu": "true"},
        memory_overhead=1216 * MIB,
        allowed_operations=list(names.HOST_ALLOWED_OPERATIONS),
        control_domain=dom0,
        iscsi_iqn=iqn,
        virtual_hardware_platform_versions=[0, 1, 2],
        tls_verification_enabled=True,
        display="enabled",
    )
    return HostSlot(ref, hostname, address, local)


def cpu_info(cpu: CpuModel, hosts: int) -> dict[str, Value]:
    return {
        "cpu_count": str(cpu.threads * hosts),
        "socket_count": str(cpu.sockets * hosts),
        "threads_per_core": "2",
        "vendor": cpu.vendor,
        "features_pv": cpu.features,
        "features_hvm": cpu.features,
        "features_pv_host": cpu.features,
        "features_hvm_host": cpu.features,
    }


def _pifs(
    batch: Batch,
    ids: Ids,
    host: str,
    address: str,
    index: int,
    nic: tuple[str, str, str, str, str, int],
    networks: list[tuple[str, str]],
    stamp: DateTime,
) -> None:
    physical: list[tuple[str, str]] = []
    for n, (network, _) in enumerate(networks[:2]):
        mac = ids.mac(nic[4])
        metrics = batch.add(
            "PIF_metrics",
            ids.ref(),
            uuid=ids.uuid(),
            carrier=True,
            vendor_id=nic[0],
            vendor_name=nic[1],
            device_id=nic[2],
            device_name=nic[3],
            speed=nic[5],
            duplex=True,
            pci_bus_path=f"0000:3b:00.{n}",
            last_updated=stamp,
        )
        ip = (
            {
                "ip_configuration_mode": "Static",
                "IP": address,
                "netmask": "255.255.255.0",
                "gateway": f"127.{100 + index}.0.254",
                "DNS": f"10.{index}.0.53",
            }
            if n == 0
            else {}
        )
        pif = batch.add(
            "PIF",
            ids.ref(),
            uuid=ids.uuid(),
            device=f"eth{n}",
            network=network,
            host=host,
            MAC=mac,
            MTU=1500,
            VLAN=-1,
            metrics=metrics,
            physical=True,
            management=n == 0,
            disallow_unplug=n == 0,
            properties={"gro": "on"},
            **ip,
        )
        physical.append((pif, mac))
    trunk, trunk_mac = physical[1]
    for (tag, _, _), (network, _) in zip(VLANS, networks[2:], strict=True):
        vlan, pif = ids.ref(), ids.ref()
        batch.add(
            "PIF",
            pif,
            uuid=ids.uuid(),
            device="eth1",
            network=network,
            host=host,
            MAC=trunk_mac,
            MTU=1500,
            VLAN=tag,
            physical=False,
            VLAN_master_of=vlan,
        )
        batch.add("VLAN", vlan, uuid=ids.uuid(), tagged_PIF=trunk, untagged_PIF=pif, tag=tag)


def _control_domain(
    batch: Batch,
    ids: Ids,
    ref: str,
    host: str,
    hostname: str,
    address: str,
    local_pbd: str,
    cpu: CpuModel,
    now: float,
) -> None:
    vcpus = min(16, cpu.threads)
    for protocol in ("rfb", "vt100"):
        # xapi's create_misc.ml names dom0's own ref here (the recorded databases show the same)
        batch.add(
            "console",
            ids.ref(),
            uuid=ids.uuid(),
            protocol=protocol,
            VM=ref,
            location=f"https://{address}/console?ref={ref}",
        )
    metrics = batch.add(
        "VM_metrics",
        ids.ref(),
        uuid=ids.uuid(),
        memory_actual=DOM0_MEMORY,
        VCPUs_number=vcpus,
        start_time=DateTime.from_timestamp(now - 86400),
        last_updated=DateTime.from_timestamp(now),
        current_domain_type="pv",
    )
    batch.add(
        "VM",
        ref,
        uuid=ids.uuid(),
        name_label=f"Control domain on host: {hostname}",
        name_description="The domain which manages physical devices and manages other domains",
        power_state="Running",
        user_version=1,
        is_control_domain=True,
        resident_on=host,
        affinity=host,
        domid=0,
        memory_overhead=0,
        memory_target=DOM0_MEMORY,
        memory_static_max=DOM0_MEMORY,
        memory_dynamic_max=DOM0_MEMORY,
        memory_dynamic_min=DOM0_MEMORY,
        memory_static_min=DOM0_MEMORY // 2,
        VCPUs_max=vcpus,
        VCPUs_at_startup=vcpus,
        actions_after_shutdown="destroy",
        actions_after_reboot="restart",
        actions_after_crash="restart",
        domain_type="pv",
        metrics=metrics,
        allowed_operations=allowed_operations(
            {
                "power_state": "Running",
                "is_control_domain": True,
                "domid": 0,
                "other_config": {"is_system_domain": "true"},
            }
        ),
        other_config={"storage_driver_domain": local_pbd, "is_system_domain": "true"},
    )
