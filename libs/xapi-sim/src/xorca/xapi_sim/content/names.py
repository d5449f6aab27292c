"""The vocabulary of simulated pools: sites, hardware, operating systems, templates, VM families,
ISO images, tags and message texts.

Kept as plain tables so that the inventory builder stays short and a pool reads like a real XCP-ng
8.3 deployment. Shapes and values follow the recorded xapi databases in
``/work/shared/xapi/records`` (XenServer 6.x state.db dumps), brought up to what an XCP-ng 8.3
host reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from xorca.xapi.values import Value

GIB = 1 << 30
MIB = 1 << 20
TIB = 1 << 40

SITES = ("par", "lyo", "ber", "osl", "mad", "dub", "ams", "fra", "waw", "mil", "zrh", "vie")


@dataclass(frozen=True, slots=True)
class CpuModel:
    vendor: str
    modelname: str
    family: int
    model: int
    stepping: str
    speed_mhz: int
    threads: int  # logical CPUs per host
    sockets: int
    features: str  # the feature words xapi reports in cpu_info


# fmt: off
_INTEL_FEATURES = (
    "1fcbfbff-f7fa3223-2d93fbff-00000523-0000000f-f1bf07ab-00405f5e-00000000-711ed005-fc000010"
)
CPU_MODELS = (
    CpuModel("GenuineIntel", "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", 6, 106, "6", 2000, 64, 2,
             _INTEL_FEATURES),
    CpuModel("GenuineIntel", "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz", 6, 106, "6", 2400, 32, 2,
             _INTEL_FEATURES),
    CpuModel("AuthenticAMD", "AMD EPYC 7443P 24-Core Processor", 25, 1, "1", 2850, 48, 1,
             "178bfbff-f6f83203-2e500800-040001f3-0000000f-219c07a9-0040060c-00000000-00000000"),
)
# fmt: on

CPU_FLAGS = (
    "fpu de tsc msr pae mce cx8 apic sep mca cmov pat clflush acpi mmx fxsr sse sse2 ht syscall nx"
    " rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid pni pclmulqdq monitor est ssse3 fma"
    " cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm"
)

#: (bios-vendor, system-manufacturer, system-product-name, bios-version)
SERVERS = (
    ("Dell Inc.", "Dell Inc.", "PowerEdge R650", "1.13.2"),
    ("HPE", "HPE", "ProLiant DL360 Gen10 Plus", "U46 v2.90"),
    ("American Megatrends International, LLC.", "Supermicro", "SYS-120U-TNR", "1.8"),
    ("Lenovo", "Lenovo", "ThinkSystem SR630 V2", "AFE124B-2.20"),
)

# fmt: off
#: (vendor_id, vendor_name, device_id, device_name, MAC prefix, speed in Mbit/s)
NICS = (
    ("8086", "Intel Corporation", "1572", "Ethernet Controller X710 for 10GbE SFP+",
     "3c:fd:fe", 10000),
    ("14e4", "Broadcom Inc. and subsidiaries", "16d7", "BCM57414 NetXtreme-E 10Gb/25Gb",
     "bc:97:e1", 25000),
    ("15b3", "Mellanox Technologies", "1015", "MT27710 Family [ConnectX-4 Lx]",
     "b8:ce:f6", 25000),
)
# fmt: on

HOST_MEMORY_GIB = (256, 384, 512)

#: VLAN networks trunked on eth1: (tag, name, bridge)
VLANS = ((20, "DMZ", "xapi1"), (30, "Backend", "xapi2"))

SOFTWARE_VERSION: dict[str, Value] = {
    "product_version": "8.3.0",
    "product_version_text": "8.3",
    "product_version_text_short": "8.3",
    "platform_name": "XCP",
    "platform_version": "3.4.0",
    "product_brand": "XCP-ng",
    "build_number": "cloud",
    "git_id": "0",
    "hostname": "localhost",
    "date": "2024-10-02",
    "dbv": "2024.0902",
    "is_preview_release": "false",
    "xapi": "25.6",
    "xapi_build": "25.6.0",
    "xen": "4.17.5-3",
    "linux": "4.19.0+1",
    "xencenter_min": "2.21",
    "xencenter_max": "2.21",
    "network_backend": "openvswitch",
    "db_schema": "5.786",
}

HOST_CAPABILITIES = ("xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64", "")

#: as recorded on an idle pool member
HOST_ALLOWED_OPERATIONS = (
    "vm_migrate",
    "evacuate",
    "shutdown",
    "provision",
    "reboot",
    "vm_resume",
    "vm_start",
)

#: (name_label, name_description, enabled)
FEATURES = (
    ("DMC", "Dynamic Memory Control", True),
    ("HA", "High Availability", True),
    ("PCI_device_for_auto_update", "PCI device for Windows Update", True),
    ("VSS", "Volume Shadow Copy Service", False),
    ("PVS_proxy", "Proxying of PVS traffic", True),
)

_VHD_CAPS = (
    "SR_PROBE SR_UPDATE VDI_CREATE VDI_DELETE VDI_ATTACH VDI_DETACH VDI_UPDATE VDI_CLONE"
    " VDI_SNAPSHOT VDI_RESIZE VDI_MIRROR VDI_GENERATE_CONFIG ATOMIC_PAUSE VDI_CONFIG_CBT"
    " VDI_ACTIVATE VDI_DEACTIVATE THIN_PROVISIONING VDI_READ_CACHING"
)
#: (type, name_label, name_description, capabilities separated by spaces)
SM_DRIVERS = (
    ("ext", "Local EXT3 VHD", "SR plugin which represents disks as VHD files on a local EXT FS",
     _VHD_CAPS),
    ("nfs", "NFS VHD", "SR plugin which stores disks as VHD files on a remote NFS filesystem",
     _VHD_CAPS),
    ("iso", "ISO", "Handles CD images stored as files in iso format",
     "VDI_CREATE VDI_DELETE VDI_ATTACH VDI_DETACH SR_SCAN SR_ATTACH SR_DETACH"),
    ("udev", "Local Devices", "SR plugin which represents removable devices",
     "VDI_INTRODUCE VDI_ATTACH VDI_DETACH VDI_UPDATE SR_UPDATE"),
)  # fmt: skip

#: (file name, size in bytes)
ISO_IMAGES = (
    ("debian-12.7.0-amd64-netinst.iso", 661651456),
    ("ubuntu-24.04.1-live-server-amd64.iso", 2773874688),
    ("ubuntu-22.04.5-live-server-amd64.iso", 2136926208),
    ("Rocky-9.4-x86_64-minimal.iso", 1806696448),
    ("AlmaLinux-9.4-x86_64-dvd.iso", 11014242304),
    ("CentOS-Stream-9-latest-x86_64-boot.iso", 1147863040),
    ("SERVER_EVAL_x64FRE_en-us.iso", 5296713728),
    ("Win10_22H2_English_x64v1.iso", 6140975104),
    ("OPNsense-24.7-dvd-amd64.iso", 2156853248),
    ("virtio-win-0.1.262.iso", 725680128),
)


@dataclass(frozen=True, slots=True)
class OsInfo:
    template: str
    name: str  # os_version "name" as the guest agent reports it
    distro: str
    major: str
    minor: str
    uname: str
    domain_type: str  # hvm | pv | pvh
    windows: bool = False
    tools: bool = True  # a guest agent reports guest metrics


_WIN = "|C:\\Windows|\\Device\\Harddisk0\\Partition2"
# fmt: off
OSES: dict[str, OsInfo] = {
    "debian12": OsInfo("Debian Bookworm 12", "Debian GNU/Linux 12 (bookworm)", "debian", "12", "7",
                       "6.1.0-25-amd64", "hvm"),
    "debian11": OsInfo("Debian Bullseye 11", "Debian GNU/Linux 11 (bullseye)", "debian", "11", "11",
                       "5.10.0-32-amd64", "pv"),
    "ubuntu24": OsInfo("Ubuntu Noble Numbat 24.04", "Ubuntu 24.04.1 LTS", "ubuntu", "24", "04",
                         "6.8.0-45-generic", "hvm"),
    "ubuntu22": OsInfo("Ubuntu Jammy Jellyfish 22.04", "Ubuntu 22.04.5 LTS", "ubuntu", "22", "04",
                         "5.15.0-122-generic", "pvh"),
    "rocky9": OsInfo("Rocky Linux 9", "Rocky Linux 9.4 (Blue Onyx)", "rocky", "9", "4",
                     "5.14.0-427.13.1.el9_4.x86_64", "hvm"),
    "alma9": OsInfo("AlmaLinux 9", "AlmaLinux 9.4 (Seafoam Ocelot)", "almalinux", "9", "4",
                    "5.14.0-427.37.1.el9_4.x86_64", "hvm"),
    "centos9": OsInfo("CentOS Stream 9", "CentOS Stream 9", "centos", "9", "",
                      "5.14.0-503.el9.x86_64", "hvm"),
    "win2022": OsInfo("Windows Server 2022 (64-bit)",
                      "Microsoft Windows Server 2022 Standard" + _WIN, "windows", "10", "0", "",
                      "hvm", windows=True),
    "win2019": OsInfo("Windows Server 2019 (64-bit)",
                      "Microsoft Windows Server 2019 Datacenter" + _WIN, "windows", "10", "0", "",
                      "hvm", windows=True),
    "win10": OsInfo("Windows 10 (64-bit)", "Microsoft Windows 10 Pro" + _WIN,
                    "windows", "10", "0", "", "hvm", windows=True),
    "opnsense": OsInfo("Other install media", "FreeBSD 14.1-RELEASE-p5", "freebsd", "14", "1",
                       "", "hvm", tools=False),
}
# fmt: on

#: default templates: name -> (memory GiB, VCPUs, disk GiB, UEFI); the OSes' templates are among
#: them
TEMPLATES: dict[str, tuple[int, int, int, bool]] = {
    "Debian Bookworm 12": (2, 2, 10, False),
    "Debian Bullseye 11": (2, 2, 10, False),
    "Ubuntu Noble Numbat 24.04": (2, 2, 10, False),
    "Ubuntu Jammy Jellyfish 22.04": (2, 2, 10, False),
    "CentOS Stream 9": (2, 2, 10, False),
    "Rocky Linux 9": (2, 2, 10, False),
    "AlmaLinux 9": (2, 2, 10, False),
    "Red Hat Enterprise Linux 9": (2, 2, 10, False),
    "Oracle Linux 9": (2, 2, 10, False),
    "Windows Server 2022 (64-bit)": (4, 2, 64, True),
    "Windows Server 2019 (64-bit)": (4, 2, 64, True),
    "Windows 11": (4, 2, 64, True),
    "Windows 10 (64-bit)": (4, 2, 64, True),
    "Generic Linux UEFI": (2, 2, 10, True),
    "Generic Linux BIOS": (2, 2, 10, False),
    "Other install media": (1, 1, 8, False),
}


@dataclass(frozen=True, slots=True)
class Family:
    """A kind of VM as people name them: a name pattern and what such a VM usually gets."""

    pattern: str  # formatted with n, the 1-based counter within the family
    weight: int
    oses: tuple[str, ...]  # keys of OSES
    memory_gib: tuple[int, ...]
    vcpus: tuple[int, ...]
    disks_gib: tuple[tuple[int, ...], ...]  # disk layouts: sizes of xvda, xvdb, …
    nics: int
    tags: tuple[str, ...]
    description: str


#: name_description by family prefix
DESCRIPTIONS = {
    "web-prod": "Production web front end (nginx)",
    "web-staging": "Staging web front end",
    "db-pg": "PostgreSQL 16 node",
    "db-mysql": "MariaDB Galera node",
    "redis-cache": "Redis cache",
    "k8s-master": "Kubernetes control plane",
    "k8s-worker": "Kubernetes worker",
    "win-ad": "Active Directory domain controller",
    "win-rds": "Remote Desktop Session Host",
    "win-sql": "SQL Server 2022",
    "win-desk": "Windows 10 desktop",
    "jenkins-agent": "Jenkins build agent",
    "gitlab-runner": "GitLab CI runner",
    "mail-mx": "Postfix MX relay",
    "haproxy": "HAProxy load balancer",
    "backup": "Backup repository",
    "mon-prom": "Prometheus and Alertmanager",
    "mon-grafana": "Grafana dashboards",
    "elk-es": "Elasticsearch data node",
    "kafka": "Kafka broker",
    "vpn-gw": "OPNsense VPN gateway",
    "dns": "Bind resolver",
    "nextcloud": "Nextcloud",
    "dev-sandbox": "Developer sandbox",
}

# pattern | weight | OSes | memory GiB | VCPUs | disk layouts (GiB; + between disks) | NICs | tags
_FAMILY_TABLE = """
web-prod-{n:02d}      | 10 | debian12 ubuntu24 | 2 4     | 2 4  | 20 20+50      | 1 | prod web
web-staging-{n:02d}   | 4  | debian12 ubuntu24 | 2       | 2    | 20            | 1 | staging web
db-pg-{n:02d}         | 5  | debian12 rocky9   | 8 16 32 | 4 8  | 30+200 30+500 | 1 | prod db
db-mysql-{n:02d}      | 3  | ubuntu22 alma9    | 8 16    | 4    | 30+200        | 1 | prod db
redis-cache-{n:02d}   | 3  | debian12          | 4 8     | 2    | 20            | 1 | prod
k8s-master-{n:02d}    | 3  | ubuntu22 ubuntu24 | 4 8     | 2 4  | 40            | 1 | prod k8s
k8s-worker-{n:02d}    | 12 | ubuntu22 ubuntu24 | 16 32   | 8 16 | 40+100 40+200 | 2 | prod k8s
win-ad-{n:02d}        | 2  | win2022 win2019   | 4 8     | 2    | 64            | 1 | prod windows
win-rds-{n:02d}       | 3  | win2022           | 16 32   | 8    | 100 100+200   | 1 | prod windows
win-sql-{n:02d}       | 2  | win2022 win2019   | 16 32   | 4 8  | 100+300+100   | 1 | prod db
win-desk-{n:03d}      | 4  | win10             | 4 8     | 2    | 64            | 1 | windows
jenkins-agent-{n}     | 5  | debian12 rocky9   | 8       | 4 8  | 50            | 1 | ci
gitlab-runner-{n:02d} | 3  | ubuntu24          | 8       | 4    | 50            | 1 | ci
mail-mx-{n:02d}       | 1  | debian12          | 2       | 2    | 20            | 1 | prod mail
haproxy-{n:02d}       | 2  | debian12 debian11 | 2       | 2    | 10            | 1 | prod web
backup-{n:02d}        | 1  | rocky9            | 8       | 4    | 20+2000       | 1 | backup
mon-prom-{n:02d}      | 1  | debian12          | 8       | 4    | 20+200        | 1 | monitoring
mon-grafana-{n:02d}   | 1  | debian12          | 2       | 2    | 20            | 1 | monitoring
elk-es-{n:02d}        | 2  | rocky9 centos9    | 32      | 8    | 40+500        | 1 | prod
kafka-{n:02d}         | 2  | rocky9            | 16      | 4 8  | 40+300        | 1 | prod
vpn-gw-{n:02d}        | 1  | opnsense          | 2       | 2    | 16            | 2 | infra
dns-{n:02d}           | 2  | debian12 debian11 | 1 2     | 1 2  | 10            | 1 | infra
nextcloud-{n:02d}     | 1  | ubuntu24          | 8       | 4    | 30+1000       | 1 | prod web
dev-sandbox-{n:02d}   | 4  | debian12 centos9  | 2 4     | 2    | 20            | 1 | dev
test-vm-{n:02d}       | 2  | debian12 win10    | 1 2     | 1 2  | 10 20         | 1 |
"""


def _parse_families(table: str) -> tuple[Family, ...]:
    out: list[Family] = []
    for line in table.strip().splitlines():
        pattern, weight, oses, memory, vcpus, disks, nics, tags = (
            cell.strip() for cell in line.split("|")
        )
        out.append(
            Family(
                pattern,
                int(weight),
                tuple(oses.split()),
                tuple(int(m) for m in memory.split()),
                tuple(int(v) for v in vcpus.split()),
                tuple(tuple(int(d) for d in layout.split("+")) for layout in disks.split()),
                int(nics),
                tuple(tags.split()),
                DESCRIPTIONS.get(pattern.split("{")[0].rstrip("-"), ""),
            )
        )
    return tuple(out)


FAMILIES = _parse_families(_FAMILY_TABLE)

#: tags the activity mode adds and removes, on top of the families' own
TAG_VOCABULARY = ("prod", "staging", "backup", "web", "db", "critical", "to-delete", "patched")

#: (power_state, weight): most VMs run, some are off, a few suspended or paused
POWER_STATES = (("Running", 80), ("Halted", 15), ("Suspended", 3), ("Paused", 2))

SNAPSHOT_LABELS = ("before upgrade", "pre-patch", "nightly", "before kernel update", "golden")

#: perfmon alarms: (data source, class, trigger level)
ALARMS = (
    ("cpu_usage", "VM", 0.95),
    ("memory_internal_free", "VM", 104857600.0),
    ("disk_usage", "VM", 0.9),
    ("network_usage", "VM", 104857600.0),
    ("cpu_usage", "Host", 0.9),
    ("memory_free_kib", "Host", 1048576.0),
    ("physical_utilisation", "SR", 0.9),
)

# fmt: off
#: other messages: (name, priority, class, body template with {name} and {host})
EVENTS = (
    ("VM_STARTED", 5, "VM", "VM '{name}' started on host: {host}"),
    ("VM_SHUTDOWN", 5, "VM", "VM '{name}' shutdown"),
    ("VM_REBOOTED", 5, "VM", "VM '{name}' rebooted"),
    ("VM_SNAPSHOTTED", 5, "VM", "VM '{name}' snapshotted"),
    ("HOST_CLOCK_SKEW_DETECTED", 3, "Host",
     "The clock of host {host} is not synchronised with the pool master: skew of 3 seconds"),
    ("PBD_PLUG_FAILED_ON_SERVER_START", 2, "Host",
     "The SR could not be connected on host {host} at boot"),
    ("POOL_CPU_FEATURES_UP", 5, "Pool", "The CPU features of the pool have changed"),
    ("UPDATES_PENDING", 4, "Host", "Updates are pending on host {host}: xapi, xen-hypervisor"),
)
# fmt: on

#: what a guest VM reports, as recorded
BIOS_STRINGS: dict[str, Value] = {
    "bios-vendor": "Xen",
    "bios-version": "",
    "system-manufacturer": "Xen",
    "system-product-name": "HVM domU",
    "system-version": "",
    "system-serial-number": "",
    "hp-rombios": "",
    "oem-1": "Xen",
    "oem-2": "MS_VM_CERT/SHA1/bdbeb6e0a816d43fa6d3fe8aaef04c2bad9d3e3d",
}
GUEST_OTHER: dict[str, Value] = {
    "feature-balloon": "1",
    "feature-poweroff": "1",
    "feature-reboot": "1",
    "feature-suspend": "1",
    "feature-vcpu-hotplug": "1",
    "has-vendor-device": "0",
    "platform-feature-multiprocessor-suspend": "1",
}
LINUX_AGENT: dict[str, Value] = {"major": "8", "minor": "4", "micro": "0", "build": "1"}
WINDOWS_AGENT: dict[str, Value] = {"major": "9", "minor": "1", "micro": "100", "build": "0"}
