"""Writes tests/fixtures/filter-cases.json: filters evaluated by the server's own implementation
(`xorca.api.core.query_parse`), so that the browser's filter helpers are tested against it.

Run from the repository root: `.venv/bin/python web/scripts/filter_fixture.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from xorca.api.core.query_parse import QueryError, parse_query

OBJECTS = [
    {
        "id": "0b9c8a7e-1111-4000-8000-000000000001",
        "type": "vm",
        "name_label": "web-01",
        "name_description": "Front web server",
        "power_state": "Running",
        "tags": ["prod", "web"],
        "$host": "h1",
        "$pool": "p1",
        "domid": 3,
        "memory": {"actual": 4294967296, "static_max": 8589934592},
        "cpus": {"number": 2, "usage": 0.85, "utilisation": [0.95, 0.75]},
        "addresses": [{"device": "0", "ip": "10.0.0.5"}, {"device": "0", "ip": "fe80::1"}],
        "start_time": "2026-11-03T09:30:15Z",
        "is_a_template": False,
        "current_operations": {"t1": "clone"},
        "disks": [{"$vdi": "v1", "size": 107374182400, "userdevice": "0"}],
        "os": {"distro": "debian", "name": "Debian 12"},
    },
    {
        "id": "1c2d3e4f-2222-4000-8000-000000000002",
        "type": "vm",
        "name_label": "db-02 (old)*",
        "name_description": "",
        "power_state": "Halted",
        "tags": [],
        "$pool": "p1",
        "domid": -1,
        "memory": {"actual": 0, "static_max": 2147483648},
        "cpus": {"number": 0},
        "is_a_template": False,
        "current_operations": {},
        "disks": [],
        "os": {"distro": "windows", "name": "Microsoft Windows Server 2022"},
    },
    {
        "id": "2d3e4f50-3333-4000-8000-000000000003",
        "type": "vm",
        "name_label": "web 010",
        "name_description": 'say "hello"',
        "power_state": "Paused",
        "tags": ["test"],
        "$host": "h2",
        "$pool": "p2",
        "domid": 12,
        "memory": {"actual": 1073741824},
        "cpus": {"number": 1, "usage": 0.5},
        "start_time": "2026-10-31T23:59:59Z",
        "is_a_template": True,
        "current_operations": {},
        "addresses": [{"device": "1", "ip": "192.168.1.9"}],
    },
    {
        "id": "3e4f5061-4444-4000-8000-000000000004",
        "type": "vdi",
        "name_label": "a..b",
        "name_description": "or",
        "virtual_size": 21474836480,
        "tags": ["ornament"],
    },
]

FILTERS = [
    "",
    "power_state:Running",
    "power_state:running",
    "power_state:Run",
    "power_state:Run*",
    "name_label:web*",
    'name_label:"web 01"',
    "name_label:web-0?",
    'name_label:"web 0?"',
    "name_label:web\\ 010",
    'name_label:"web "010',
    "web",
    "WEB",
    "0b9c8a7e",
    '"front end"',
    "front",
    "tags:prod",
    "-tags:test",
    "!tags:test",
    "not tags:test",
    "tags:*",
    "-tags:*",
    "addresses.ip:10.0.*",
    "addresses.ip:fe80::1",
    "memory.actual:>4G",
    "memory.actual:>=4G",
    "memory.actual:4G",
    "memory.actual:1G..4G",
    "memory.actual:8G..",
    "memory.actual:..1G",
    "cpus.usage:>=80%",
    "cpus.utilisation:>90%",
    "start_time:>2026-11-01",
    "start_time:>=2026-11-01",
    "start_time:<2026-11-01",
    "start_time:<=2026-10-31",
    "start_time:2026-11..2026-11",
    "start_time:2026-11-01..2026-11-15",
    "start_time:>2026-11-03T09:30",
    "start_time:>=2026-11-03T09:30",
    "is_a_template:false",
    "is_a_template:yes",
    "is_a_template:1",
    "$host:*",
    "-$host:*",
    "power_state:Running tags:prod",
    "power_state:Running or power_state:Paused",
    "power_state:Running | power_state:Paused",
    "(power_state:Running or power_state:Paused) tags:prod",
    "type:vm tags:prod or type:vdi",
    "type:vm (tags:prod or tags:test)",
    "-(tags:test or tags:prod)",
    "not (tags:* or current_operations:*)",
    "current_operations:clone",
    "current_operations:*",
    "domid:-1",
    "domid:1*",
    "domid:>=0",
    "disks.size:>=100G",
    "disks.$vdi:*",
    "disks.userdevice:0",
    'name_label:"(old)*"',
    "name_label:*\\(old\\)\\*",
    'name_label:"db-02 (old)\\*"',
    "name_label:db*\\*",
    'name_description:"say \\"hello\\""',
    'name_description:""',
    "name_description:?*",
    'name_label:"a..b"',
    '"or"',
    "ornament",
    "tags:orn*",
    "os.distro:debian",
    "os.name:*windows*",
    "virtual_size:20G",
    "virtual_size:20GiB",
    "virtual_size:21.47483648GB",
    "memory.actual:1e9..2e9",
    "a and b",
    "power_state:Running AND tags:prod",
    "power_state:Running Or power_state:Halted",
    "name_label:web-01",
    "best-effort",
    'x:">5"',
    "memory.static_max:<=2G",
    "cpus.number:2..4",
    "start_time:2026-11-03*",
    "start_time:2026-11-03",
    # errors
    "(a:b",
    "a:b)",
    "()",
    "a or",
    "or a",
    "a or or b",
    "not",
    "- a",
    "a -",
    ":x",
    "name_label:",
    "memory..actual:1G",
    ".a:x",
    "a.:x",
    "name@x:y",
    "memory.actual:>",
    "size:>big",
    "x:..",
    "x:1..2026-01",
    'name_label:"web',
    "web\\",
    "and a",
    "a and",
    "a and or b",
    "((a)",
    "a:b))",
]


def main() -> None:
    cases = []
    for text in FILTERS:
        try:
            query = parse_query(text)
        except QueryError as e:
            cases.append({"filter": text, "error": e.message, "position": e.position})
            continue
        cases.append(
            {
                "filter": text,
                "matches": [obj["id"] for obj in OBJECTS if query.matches(obj)],
                "text": str(query),
            }
        )
    out = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "filter-cases.json"
    out.write_text(json.dumps({"objects": OBJECTS, "cases": cases}, indent=1) + "\n")
    print(f"{len(cases)} cases written to {out}")


if __name__ == "__main__":
    main()
