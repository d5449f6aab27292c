"""Filter and field-selection benchmark: the API's ``?filter=`` and ``?fields=`` over a 10,000-VM
list, as the REST API runs them on a collection and the SSE stream on each change.

    .venv/bin/python bench/bench_query.py [--vms 10000] [--repeat 5]

On ``--vms`` VM objects shaped as docs/objects.md describes (names, tags, memory, cpus, guest
addresses, disks, operations; seeded, so every run sees the same pool):

- **parse**: `parse_query` of each filter (once per request);
- **filter**: ``query.matches`` on every object, per filter: the whole list and per object;
- **project**: `Fields.project` of every object, per field selection;
- **project_patch**: `Fields.project_patch` of one merge patch per object (a live change: memory,
  power state, addresses or a tag), per field selection.

Each figure is the best of ``--repeat`` runs (the machine's noise only ever adds time). Prints a
table and writes ``bench/results/query.json``. Pure Python, one core, no I/O.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from harness import ROOT, arguments, report, table

try:
    from xorca.api.core.fields import parse_fields
    from xorca.api.core.query import parse_query
except ImportError:  # the api package is not installed (yet): its sources, as PYTHONPATH would
    sys.path.insert(0, str(ROOT / "services" / "api" / "src"))
    from xorca.api.core.fields import parse_fields
    from xorca.api.core.query import parse_query

GiB = 1024**3
FILTERS = [
    "",
    "power_state:Running",
    "power_state:Running tags:prod name_label:web*",
    "(power_state:Running or power_state:Paused) -tags:test memory.actual:>2G",
    "addresses.ip:10.0.1*",
    "web-0042",
    "start_time:>2026-11-01 cpus.usage:>80%",
    "$host:* disks.size:10G..100G os.distro:debian",
    "not (tags:* or current_operations:*) is_a_template:false",
]
SELECTIONS = [
    "",
    "id,name_label,power_state",
    "id,name_label,power_state,memory.actual,$host,addresses.ip,tags",
    "name_label,disks.$vdi,disks.size,cpus",
]
POWER = ["Running"] * 6 + ["Halted"] * 3 + ["Paused", "Suspended"]
TAGS = ["prod", "test", "dev", "web", "db", "backup", "eu", "us"]
DISTROS = ["debian", "ubuntu", "centos", "windows", "alpine"]


def uuid(rng: random.Random) -> str:
    return "-".join(f"{rng.getrandbits(bits):0{bits // 4}x}" for bits in (32, 16, 16, 16, 48))


def vm(rng: random.Random, n: int, hosts: list[str], pool: str) -> dict[str, Any]:
    """A VM client object as the projection makes them (docs/objects.md), about 2 KB of JSON."""
    power = rng.choice(POWER)
    running = power in ("Running", "Paused", "Suspended")
    kind = rng.choice(["web", "db", "app", "cache", "build"])
    disks = [
        {
            "$vbd": uuid(rng),
            "$vdi": uuid(rng),
            "$sr": uuid(rng),
            "device": f"xvd{'abcd'[slot]}",
            "userdevice": str(slot),
            "mode": "RW",
            "type": "Disk",
            "bootable": slot == 0,
            "empty": False,
            "currently_attached": running,
            "name_label": f"{kind}-{n:04} disk {slot}",
            "size": rng.choice([10, 20, 50, 100, 500]) * GiB,
        }
        for slot in range(rng.randint(1, 3))
    ]
    obj: dict[str, Any] = {
        "id": uuid(rng),
        "type": "vm",
        "$pool": pool,
        "name_label": f"{kind}-{n:04}",
        "name_description": f"{kind} server number {n} of the {rng.choice(TAGS)} estate",
        "tags": sorted(rng.sample(TAGS, rng.randint(0, 3))),
        "power_state": power,
        "is_a_template": False,
        "is_a_snapshot": False,
        "is_control_domain": False,
        "$container": pool,
        "domid": rng.randint(1, 5000) if running else -1,
        "domain_type": "hvm",
        "memory": {
            "static_min": GiB,
            "static_max": 8 * GiB,
            "dynamic_min": GiB,
            "dynamic_max": rng.choice([1, 2, 4, 8]) * GiB,
            "actual": rng.choice([1, 2, 4, 8]) * GiB if running else 0,
        },
        "cpus": {"max": 4, "at_startup": 2},
        "install_time": "2025-06-01T10:00:00Z",
        "os": {"name": "Linux", "distro": rng.choice(DISTROS), "major": "12", "minor": "4"},
        "pv_drivers_version": "8.2.0-12",
        "pv_drivers_up_to_date": True,
        "disks": disks,
        "$vbds": [disk["$vbd"] for disk in disks],
        "nics": [{"$vif": uuid(rng), "device": "0", "mac": "aa:bb:cc:dd:ee:ff"}],
        "consoles": [{"uuid": uuid(rng), "protocol": "rfb", "location": "https://h/console"}],
        "$snapshots": [],
        "ha_restart_priority": "",
        "allowed_operations": ["clean_reboot", "clean_shutdown", "snapshot", "suspend"],
        "current_operations": {uuid(rng): "snapshot"} if rng.random() < 0.02 else {},
        "blocked_operations": {},
    }
    if running:
        utilisation = [round(rng.random(), 3) for _ in range(2)]
        obj["$host"] = rng.choice(hosts)
        obj["$container"] = obj["$host"]
        obj["cpus"] |= {"number": 2, "utilisation": utilisation, "usage": sum(utilisation) / 2}
        day = rng.randint(1, 30)
        obj["start_time"] = f"2026-{rng.choice([10, 11])}-{day:02}T{rng.randint(0, 23):02}:00:00Z"
        ip = f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}"
        obj["addresses"] = [{"device": "0", "ip": ip}, {"device": "0", "ip": f"fe80::{n:x}"}]
        obj["main_address"] = ip
    return obj


def patch_of(rng: random.Random, obj: dict[str, Any]) -> dict[str, Any]:
    """A merge patch of a typical live change of ``obj``."""
    kind = rng.choice(["memory", "power", "addresses", "tags"])
    if kind == "memory":
        return {"memory": {"actual": rng.choice([1, 2, 4, 8]) * GiB}}
    if kind == "power":
        return {"power_state": "Halted", "$host": None, "domid": -1, "addresses": None}
    if kind == "addresses":
        return {"addresses": [{"device": "0", "ip": f"10.0.5.{rng.randint(1, 254)}"}]}
    return {"tags": sorted({*obj["tags"], "new"})}


def best(repeat: int, run: Callable[[], object]) -> float:
    """The shortest of ``repeat`` timings of ``run``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(42)
    pool = uuid(rng)
    hosts = [uuid(rng) for _ in range(16)]
    objects = [vm(rng, n, hosts, pool) for n in range(args.vms)]
    patches = [patch_of(rng, obj) for obj in objects]
    json_bytes = sum(len(json.dumps(obj)) for obj in objects) // len(objects)

    rows: list[dict[str, Any]] = []
    for text in FILTERS:
        parse_s = best(args.repeat * 20, lambda text=text: parse_query(text)) if text else 0.0
        query = parse_query(text)
        matched = sum(1 for obj in objects if query.matches(obj))
        seconds = best(args.repeat, lambda query=query: [o for o in objects if query.matches(o)])
        rows.append({
            "phase": "filter",
            "filter": text,
            "parse_us": round(parse_s * 1e6, 1),
            "matched": matched,
            "seconds": round(seconds, 5),
            "us_per_object": round(seconds / len(objects) * 1e6, 3),
        })  # fmt: skip
    for text in SELECTIONS:
        fields = parse_fields(text)
        project_s = best(args.repeat, lambda fields=fields: [fields.project(o) for o in objects])
        patch_s = best(
            args.repeat, lambda fields=fields: [fields.project_patch(p) for p in patches]
        )
        rows.append({
            "phase": "fields",
            "fields": text,
            "project_seconds": round(project_s, 5),
            "project_us_per_object": round(project_s / len(objects) * 1e6, 3),
            "project_patch_seconds": round(patch_s, 5),
            "project_patch_us_per_patch": round(patch_s / len(patches) * 1e6, 3),
        })  # fmt: skip
    return {
        "vms": args.vms,
        "repeat": args.repeat,
        "json_bytes_per_vm": json_bytes,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": rows,
    }


def show(result: dict[str, Any]) -> None:
    rows = result["results"]
    print(f"{result['vms']} VMs of ~{result['json_bytes_per_vm']} bytes of JSON, "
          f"best of {result['repeat']}\n")  # fmt: skip
    table(
        [("filter", "<75"), ("parse µs", ">9"), ("matched", ">8"), ("total ms", ">9.1f"),
         ("µs/obj", ">7")],
        [(r["filter"] or "(empty)", r["parse_us"], r["matched"], r["seconds"] * 1e3,
          r["us_per_object"]) for r in rows if r["phase"] == "filter"],
    )  # fmt: skip
    print()
    table(
        [("fields", "<67"), ("project ms", ">11.1f"), ("µs/obj", ">7"), ("patch ms", ">9.1f"),
         ("µs/obj", ">7")],
        [(r["fields"] or "(all)", r["project_seconds"] * 1e3, r["project_us_per_object"],
          r["project_patch_seconds"] * 1e3, r["project_patch_us_per_patch"])
         for r in rows if r["phase"] == "fields"],
    )  # fmt: skip


def main() -> None:
    parser = arguments(__doc__, "query")
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    report(run(args), show, args.out)


if __name__ == "__main__":
    main()
