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
import asyncio
import time
from typing import Any

import httpx

from harness import arguments, report, set_activity, simulator, table
from xorca.xapi import codec
from xorca.xapi.datamodel import datamodel
from xorca.xapi.errors import XapiError


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


def run(args: argparse.Namespace) -> dict[str, Any]:
    rates = [float(r) for r in args.rates.split(",")]
    follow: list[dict[str, Any]] = []
    with simulator(args.vms, args.hosts) as (_, pool):
        client = Client(pool["url"])
        records = bench_records(client)
        initial = bench_initial_load(client)
        for rate in rates:
            asyncio.run(set_activity(pool["control_url"], rate))
            follow.append({"activity_rate": rate, **bench_follow(client, args.seconds)})
    return {
        "vms": args.vms,
        "hosts": args.hosts,
        "startup_s": round(pool["startup_s"], 2),
        "get_all_records": records,
        "event_from_initial": initial,
        "event_from_follow": follow,
    }


def show(result: dict[str, Any]) -> None:
    records, initial = result["get_all_records"], result["event_from_initial"]
    print(f"pool: {result['vms']} VMs on {result['hosts']} hosts, "
          f"started in {result['startup_s']:.1f} s")  # fmt: skip
    rows = sorted(records.items(), key=lambda kv: -kv[1]["records"])
    table(
        [("class", "<20"), ("records", ">9"), ("JSON-RPC s", ">12.3f"), ("MB", ">8.1f"),
         ("XML-RPC s", ">11.3f"), ("MB", ">8.1f")],
        [(name, r["records"], r["json_s"], r["json_bytes"] / 1e6, r.get("xml_s"),
          r["xml_bytes"] / 1e6 if "xml_bytes" in r else None) for name, r in rows],
    )  # fmt: skip
    total = sum(r["json_s"] for r in records.values())
    print(f"{'all classes':<20}{sum(r['records'] for r in records.values()):>9}{total:>12.3f}")
    json_mb, xml_mb = initial["json_bytes"] / 1e6, initial["xml_bytes"] / 1e6
    print(
        f"event.from('*', ''): {initial['events']} events, "
        f"JSON-RPC {initial['json_s']} s ({json_mb:.0f} MB), "
        f"XML-RPC {initial['xml_s']} s ({xml_mb:.0f} MB)"
    )
    for f in result["event_from_follow"]:
        print(
            f"activity {f['activity_rate']:.0f}/s: {f['events_per_s']} events/s delivered "
            f"over {f['seconds']} s ({f['events_per_call']} per event.from call)"
        )


def main() -> None:
    parser = arguments(__doc__, "sim")
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--rates", default="100,1000", help="activity rates to follow, per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    report(run(args), show, args.out)


if __name__ == "__main__":
    main()
