"""Simulator benchmark: a pool of 10,000 VMs, read whole and followed under activity.

    .venv/bin/python bench/bench_sim.py [--vms 10000] [--hosts 16] [--rates 100,1000] [--seconds 15]

Starts ``xorca sim`` in its own process (so the server and this client use both cores), then
measures over real sockets:

- ``X.get_all_records`` for every class that has it, over JSON-RPC and XML-RPC;
- ``event.from(["*"], "")`` (the initial load XenCenter uses) over both protocols;
- sustained ``event.from`` throughput while the activity mode changes the pool, at each of
  the ``--rates`` (set through the control endpoint; reads above run on a still pool).

Prints a table and writes ``bench/results/sim.json``. Compare with ../shared/LIMITS.md.
"""

from __future__ import annotations

import argparse
import json
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from xorca.xapi import codec
from xorca.xapi.datamodel import datamodel
from xorca.xapi.errors import XapiError

ROOT = Path(__file__).resolve().parent.parent
XORCA = str(Path(sys.executable).parent / "xorca")


def start_sim(vms: int, hosts: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    args = [
        XORCA,
        "sim",
        "--json",
        "--pools",
        "1",
        "--hosts-per-pool",
        str(hosts),
        "--vms-per-pool",
        str(vms),
        "--operation-seconds",
        "0.5",
    ]
    started = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 600)
    if not ready:
        process.kill()
        raise SystemExit("simulator did not start")
    pool = json.loads(process.stdout.readline())
    pool["startup_s"] = time.monotonic() - started
    return process, pool


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=600)
        self.session = self.json("session.login_with_password", ["root", "xorca"])

    def json(self, method: str, params: list[Any]) -> Any:
        body = codec.encode_jsonrpc_request(method, params, 1)
        answer = self.http.post(f"{self.url}/jsonrpc", content=body)
        return codec.decode_jsonrpc_response(answer.content).unwrap()

    def xml(self, method: str, params: list[Any]) -> Any:
        answer = self.http.post(self.url, content=codec.encode_xmlrpc_request(method, params))
        return codec.unwrap(codec.decode_xmlrpc_response(answer.content)), len(answer.content)

    def timed_json(self, method: str, params: list[Any]) -> tuple[float, Any, int]:
        started = time.perf_counter()
        body = codec.encode_jsonrpc_request(method, params, 1)
        answer = self.http.post(f"{self.url}/jsonrpc", content=body)
        value = codec.decode_jsonrpc_response(answer.content).unwrap()
        return time.perf_counter() - started, value, len(answer.content)

    def timed_xml(self, method: str, params: list[Any]) -> tuple[float, Any, int]:
        started = time.perf_counter()
        value, size = self.xml(method, params)
        return time.perf_counter() - started, value, size


def bench_records(client: Client) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cdef in datamodel().classes.values():
        if "get_all_records" not in cdef.messages:
            continue
        try:
            seconds, value, size = client.timed_json(
                f"{cdef.name}.get_all_records", [client.session]
            )
        except XapiError as e:  # removed classes (VIF_metrics…), as on real XAPI
            if e.code != "MESSAGE_REMOVED":
                raise
            continue
        if not value:
            continue
        out[cdef.name] = {"records": len(value), "json_s": round(seconds, 4), "json_bytes": size}
    for name in sorted(out, key=lambda n: -out[n]["records"])[:6]:
        seconds, _, size = client.timed_xml(f"{name}.get_all_records", [client.session])
        out[name].update(xml_s=round(seconds, 4), xml_bytes=size)
    return out


def bench_initial_load(client: Client) -> dict[str, Any]:
    json_s, batch, json_bytes = client.timed_json("event.from", [client.session, ["*"], "", 30.0])
    xml_s, _, xml_bytes = client.timed_xml("event.from", [client.session, ["*"], "", 30.0])
    return {
        "events": len(batch["events"]),
        "json_s": round(json_s, 3),
        "json_bytes": json_bytes,
        "xml_s": round(xml_s, 3),
        "xml_bytes": xml_bytes,
    }


def bench_follow(client: Client, seconds: float) -> dict[str, Any]:
    token = client.json("event.from", [client.session, ["*"], "", 30.0])["token"]
    events = calls = 0
    by_class: dict[str, int] = {}
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        batch = client.json("event.from", [client.session, ["*"], token, 5.0])
        token = batch["token"]
        calls += 1
        events += len(batch["events"])
        for e in batch["events"]:
            by_class[e["class"]] = by_class.get(e["class"], 0) + 1
    elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 2),
        "events": events,
        "events_per_s": round(events / elapsed, 1),
        "calls": calls,
        "events_per_call": round(events / max(calls, 1), 1),
        "by_class": by_class,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--rates", default="100,1000", help="activity rates to follow, per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sim.json")
    args = parser.parse_args()

    process, pool = start_sim(args.vms, args.hosts)
    rates = [float(r) for r in args.rates.split(",")]
    follow: list[dict[str, Any]] = []
    try:
        client = Client(pool["url"])
        records = bench_records(client)
        initial = bench_initial_load(client)
        for rate in rates:
            httpx.post(
                f"{pool['control_url']}/pools/1/activity", json={"rate": rate}
            ).raise_for_status()
            follow.append({"activity_rate": rate, **bench_follow(client, args.seconds)})
    finally:
        process.terminate()
        process.wait(30)

    print(f"pool: {args.vms} VMs on {args.hosts} hosts, started in {pool['startup_s']:.1f} s")
    print(f"{'class':<20}{'records':>9}{'JSON-RPC s':>12}{'MB':>8}{'XML-RPC s':>11}{'MB':>8}")
    for name, r in sorted(records.items(), key=lambda kv: -kv[1]["records"]):
        xml = f"{r['xml_s']:>11.3f}{r['xml_bytes'] / 1e6:>8.1f}" if "xml_s" in r else ""
        print(f"{name:<20}{r['records']:>9}{r['json_s']:>12.3f}{r['json_bytes'] / 1e6:>8.1f}{xml}")
    total = sum(r["json_s"] for r in records.values())
    print(f"{'all classes':<20}{sum(r['records'] for r in records.values()):>9}{total:>12.3f}")
    json_mb, xml_mb = initial["json_bytes"] / 1e6, initial["xml_bytes"] / 1e6
    print(
        f"event.from('*', ''): {initial['events']} events, "
        f"JSON-RPC {initial['json_s']} s ({json_mb:.0f} MB), "
        f"XML-RPC {initial['xml_s']} s ({xml_mb:.0f} MB)"
    )
    for f in follow:
        print(
            f"activity {f['activity_rate']:.0f}/s: {f['events_per_s']} events/s delivered "
            f"over {f['seconds']} s ({f['events_per_call']} per event.from call)"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "vms": args.vms,
        "hosts": args.hosts,
        "startup_s": round(pool["startup_s"], 2),
        "get_all_records": records,
        "event_from_initial": initial,
        "event_from_follow": follow,
    }
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
