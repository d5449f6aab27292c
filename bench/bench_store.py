"""State store benchmark: the projection's writes and the api's reads, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_store.py [--objects 50000] [--batch 500] [--list-rows 10000]
                                          [--postgres URL] [--backends sqlite,postgresql]

For each backend, on a fresh database (SQLite: a file in a temporary directory; PostgreSQL: a
new database ``xorca_bench_<hex>`` on the server of ``--postgres``, default
``$XORCA_TEST_POSTGRES_URL``, dropped afterwards; skipped with a message when neither is given):

- **insert**: ``--objects`` new objects of ~2 KB JSON (VM-like records of five types), written as
  `Store.commit` batches of ``--batch`` (each object its own revision, the position moved by
  compare-and-set in the same transaction, as the projection does);
- **update**: the same objects again, every record changed, same batches;
- **changes**: ``changes(since=0)`` in one reader: every row, decoded;
- **list**: ``list`` of one type (``--list-rows`` rows) in pages of 1,000 by cursor, then whole
  in one call.

Prints a table (rows/s, seconds) and writes ``bench/results/store.json``. Compare the writes
with ../shared/LIMITS.md, 500 rows of ~4.6 KB per transaction: SQLite ~53,000 rows/s insert and
~69,000 update, PostgreSQL ``jsonb`` ~12,400 (the server process is the bound there).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from harness import arguments, postgres_database, report, table
from xorca.store import Commit, ObjectRow, Store

TYPES = ("vm", "vdi", "vbd", "vif", "host")
CEILINGS = {  # LIMITS.md, rows/s at 500 rows per transaction
    ("sqlite", "insert"): 53_000,
    ("sqlite", "update"): 69_000,
    ("postgresql", "insert"): 12_400,
    ("postgresql", "update"): 12_400,
}
PAGE = 1000


def document(type_: str, n: int, version: int) -> dict[str, Any]:
    """A VM-like client object of about 2 KB of JSON."""
    uuid = f"{n:08x}-0000-4000-8000-{version:012x}"
    return {
        "uuid": uuid,
        "type": type_,
        "name_label": f"{type_}-{n:06} ünïcødé",
        "name_description": "a benchmark object " * 4,
        "power_state": ("Running", "Halted", "Paused")[(n + version) % 3],
        "memory": {"static_max": 4 << 30, "dynamic_min": 2 << 30, "actual": (n * 4096) << 10},
        "vcpus": {"max": 8, "at_startup": 4, "utilisation": [0.125 * i for i in range(8)]},
        "host": f"host-{n % 16:02}",
        "pool": f"pool-{n % 2}",
        "addresses": {f"{i}/ip": f"10.{version % 250}.{n % 250}.{i}" for i in range(6)},
        "other_config": {f"key_{i:02}": f"value {i} of {n}, version {version}" for i in range(30)},
        "tags": [f"tag-{i}" for i in range(n % 5)],
        "blocked_operations": {},
        "allowed_operations": ["start", "clean_shutdown", "hard_shutdown", "snapshot", "migrate"],
        "version": version,
    }  # fmt: skip


def batch_of(start: int, count: int, version: int, first_rev: int) -> list[ObjectRow]:
    """Objects ``start`` to ``start + count`` at ``version``, each its own revision."""
    at = datetime.now(UTC)
    return [
        ObjectRow(
            type=TYPES[i % len(TYPES)],
            id=f"{i:08x}-0000-4000-8000-000000000000",
            pool=f"pool-{i % 2}",
            rev=first_rev + i,
            deleted=False,
            changed_at=at,
            data=document(TYPES[i % len(TYPES)], i, version),
        )
        for i in range(start, start + count)
    ]


async def write(store: Store, count: int, batch: int, version: int, first_rev: int) -> float:
    """Commit ``count`` objects in batches as the projection would; the seconds the commits took
    (the batches are made between them, untimed, so that the process holds one at a time as a
    projection does, not the whole set)."""
    spent = 0.0
    position = await store.position("projection")
    for start in range(0, count, batch):
        rows = batch_of(start, min(batch, count - start), version, first_rev)
        started = time.perf_counter()
        await store.commit(Commit("projection", position, rows[-1].rev, objects=rows))
        spent += time.perf_counter() - started
        position = rows[-1].rev
    return spent


def figure(phase: str, rows: int, seconds: float, backend: str) -> dict[str, Any]:
    rate = rows / seconds
    ceiling = CEILINGS.get((backend, phase))
    return {
        "phase": phase,
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rate),
        "limits_rows_per_s": ceiling,
        "ratio_to_limits": round(rate / ceiling, 2) if ceiling else None,
    }


async def bench(backend: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    sample = batch_of(0, 1000, 1, 1)
    size = sum(len(orjson.dumps(row.data)) for row in sample) / len(sample)
    del sample
    count, one_type, per_type = args.objects, TYPES[0], args.list_rows
    phases: list[dict[str, Any]] = []
    async with await Store.open(url) as store:
        # each phase starts from a collected heap: the figures are the store's, not the
        # garbage collector's walk over what a previous phase left
        gc.collect()
        seconds = await write(store, count, args.batch, version=1, first_rev=1)
        phases.append(figure("insert", count, seconds, backend))
        gc.collect()
        seconds = await write(store, count, args.batch, version=2, first_rev=count + 1)
        phases.append(figure("update", count, seconds, backend))
        gc.collect()
        started = time.perf_counter()
        async with store.reader() as view:
            changed = len(await view.changes(0))
        phases.append(figure("changes", changed, time.perf_counter() - started, backend))
        assert changed == count
        gc.collect()
        listed = 0
        started = time.perf_counter()
        async with store.reader() as view:
            after: str | None = None
            while listed < per_type:
                page = await view.list(one_type, after=after, limit=min(PAGE, per_type - listed))
                if not page:
                    break
                listed += len(page)
                after = page[-1].id
        phases.append(figure("list pages", listed, time.perf_counter() - started, backend))
        gc.collect()
        started = time.perf_counter()
        async with store.reader() as view:
            whole = len(await view.list(one_type, limit=per_type))
        phases.append(figure("list whole", whole, time.perf_counter() - started, backend))
    return {"backend": backend, "url": store.url, "json_bytes": round(size), "phases": phases}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory(prefix="bench-store-") as directory:
            url = f"sqlite:///{Path(directory) / 'state.db'}"
            results.append(await bench("sqlite", url, args))
    if "postgresql" in backends:
        if not args.postgres:
            skipped["postgresql"] = "no --postgres URL and no XORCA_TEST_POSTGRES_URL"
            print("postgresql: skipped (give --postgres URL or set XORCA_TEST_POSTGRES_URL)")
        else:
            async with postgres_database(args.postgres) as url:
                results.append(await bench("postgresql", url, args))
    return {
        "objects": args.objects,
        "batch": args.batch,
        "list_rows": args.list_rows,
        "results": results,
        "skipped": skipped,
    }


def show(result: dict[str, Any]) -> None:
    print(f"{result['objects']:,} objects in commits of {result['batch']}; "
          f"list over {result['list_rows']:,} rows of one type")  # fmt: skip
    table(
        [("backend", "<12"), ("phase", "<12"), ("rows", ">8,"), ("seconds", ">9.2f"),
         ("rows/s", ">10,"), ("LIMITS.md", ">11,"), ("ratio", ">7.2f")],
        [(backend["backend"], p["phase"], p["rows"], p["seconds"], p["rows_per_s"],
          p["limits_rows_per_s"], p["ratio_to_limits"])
         for backend in result["results"] for p in backend["phases"]],
    )  # fmt: skip
    sizes = ", ".join(f"{b['backend']} {b['json_bytes']:,} B" for b in result["results"])
    print(f"JSON per object: {sizes}")


def main() -> None:
    parser = arguments(__doc__, "store")
    parser.add_argument("--objects", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--list-rows", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres", default=os.environ.get("XORCA_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    report(asyncio.run(run(args)), show, args.out)


if __name__ == "__main__":
    main()
