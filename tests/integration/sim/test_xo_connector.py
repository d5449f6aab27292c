"""Xen Orchestra's own XAPI connector (npm ``xen-api``, in ``tests/xo``) against the simulator.

``tests/xo/drive.mjs`` uses only the connector's public API: it connects, waits until every type
the connector found through ``system.listMethods`` is loaded, calls a method with a bogus ref,
starts a halted VM with ``callAsync('VM.start', …)``, waits until the VM in ``xapi.objects`` is
Running (delivered by the connector's own ``event.from`` loop), starts it again, takes a barrier
and disconnects, printing one JSON line of what it saw. The driver runs once per transport
(JSON-RPC and XML-RPC), each time against a pool of its own; every test below checks one part of
that run against the pool's database.

Needs ``node`` (>= 20) and ``tests/xo/node_modules`` (``./scripts/check`` installs it with
``npm ci``); without them these tests fail, they never skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.sdk import sdk_session
from tests.support.simthread import FAST, SimThread
from xorca.xapi.datamodel import datamodel
from xorca.xapi_sim.simulator import SimOptions
from xorca.xapi_sim.state.db import Database

XO = Path(__file__).resolve().parents[2] / "xo"
DRIVER = XO / "drive.mjs"
INSTALL_STEP = "run ./scripts/check, or `npm ci --no-audit --no-fund` in tests/xo"
#: the driver's own deadline, and the subprocess's (a little longer, so the driver reports first)
DRIVER_TIMEOUT = 45
PROCESS_TIMEOUT = DRIVER_TIMEOUT + 30

TRANSPORTS = ["json-rpc", "xml-rpc"]

#: every class whose get_all_records real XAPI dispatches, and those among them that answer
#: MESSAGE_REMOVED (so the connector, which ignores that error, holds none of them after loading)
DM = datamodel()
ALL_RECORDS_CLASSES = {c.name for c in DM.classes.values() if "get_all_records" in c.messages}
REMOVED = {
    c.name
    for c in DM.classes.values()
    if "get_all_records" in c.messages and c.messages["get_all_records"].lifecycle == "Removed_s"
}


@dataclass
class Run:
    transport: str
    problem: str | None = None
    returncode: int | None = None
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)
    seconds: float = 0.0
    #: the classes the connector watches: text before the first dot of every
    #: ``*.get_all_records`` name of system.listMethods, as it computes them
    discovered: list[str] = field(default_factory=list, repr=False)
    vm_uuid: str = ""
    vm_ref: str = ""
    pool_ref: str = ""
    expected_loaded: dict[str, int] = field(default_factory=dict, repr=False)
    db_after: dict[str, int] = field(default_factory=dict, repr=False)
    vm_after: dict[str, Any] = field(default_factory=dict, repr=False)
    parsed: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def result(self) -> dict[str, Any]:
        """What the driver printed; fails the calling test when it could not run at all."""
        if self.problem is not None:
            pytest.fail(self.problem)
        if self.parsed is None:
            pytest.fail(
                f"drive.mjs ({self.transport}) printed no JSON line (exit {self.returncode}):\n"
                f"stdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-4000:]}"
            )
        return self.parsed

    def completed(self, *fields: str) -> dict[str, Any]:
        """The result, failing with the driver's own error when it stopped before ``fields``."""
        result = self.result
        missing = [f for f in fields if f not in result]
        if missing:
            pytest.fail(
                f"drive.mjs ({self.transport}) stopped at {result.get('stage')!r} before "
                f"recording {missing}: {result.get('error')}\n"
                f"event loop errors: {result.get('event_fetching_errors')}\n"
                f"connector warnings: {[w[:300] for w in result.get('warnings', [])]}"
            )
        return result


def counts(db: Database, classes: list[str]) -> dict[str, int]:
    """Rows per class, as the connector should hold them (messages live outside the tables)."""
    out = {}
    for cls in classes:
        if cls == "message":
            out[cls] = len(db.messages)
        elif cls in db.tables:
            out[cls] = len(db.tables[cls])
    return out


def nonzero(by_type: dict[str, int]) -> dict[str, int]:
    return {t: n for t, n in sorted(by_type.items()) if n}


def drive(transport: str) -> Iterator[Run]:
    run = Run(transport)
    node = shutil.which("node")
    if node is None:
        run.problem = f"node is not on PATH: install Node.js >= 20, then {INSTALL_STEP}"
        yield run
        return
    if not (XO / "node_modules" / "xen-api" / "package.json").is_file():
        run.problem = f"tests/xo/node_modules/xen-api is missing: {INSTALL_STEP}"
        yield run
        return

    options = SimOptions(pools=1, hosts_per_pool=2, vms_per_pool=6, seed=11, config=FAST)
    with SimThread(options) as sim:
        running = sim.pool(1)
        db = running.pool.db
        url = running.describe()["url"]
        with sdk_session(url) as sdk:
            names: list[str] = sdk.system.listMethods()
            vms = sdk.xenapi.VM.get_all_records()
            guests = {
                ref: r
                for ref, r in vms.items()
                if not (r["is_a_template"] or r["is_a_snapshot"] or r["is_control_domain"])
            }
            halted = [ref for ref, r in guests.items() if r["power_state"] == "Halted"]
            if not halted:  # this seed's pool has none: make one, before anything is counted
                halted = [next(ref for ref, r in guests.items() if r["power_state"] == "Running")]
                sdk.xenapi.VM.hard_shutdown(halted[0])
            run.vm_ref, run.vm_uuid = halted[0], guests[halted[0]]["uuid"]
        run.discovered = sorted(
            {n[: n.index(".")] for n in names if n.endswith(".get_all_records")}
        )

        async def before() -> None:
            run.pool_ref = running.pool.pool_ref
            run.expected_loaded = {
                cls: 0 if cls in REMOVED else n for cls, n in counts(db, run.discovered).items()
            }

        sim.run(before)
        started = time.monotonic()
        command = [node, str(DRIVER), url, running.pool.config.username]
        command += [running.pool.config.password, transport, run.vm_uuid, str(DRIVER_TIMEOUT)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=PROCESS_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired as e:
            run.problem = f"drive.mjs ({transport}) did not finish in {PROCESS_TIMEOUT} s: {e}"
            yield run
            return
        run.seconds = time.monotonic() - started
        run.returncode, run.stdout, run.stderr = done.returncode, done.stdout, done.stderr
        lines = done.stdout.strip().splitlines()
        run.parsed = json.loads(lines[-1]) if lines else None

        async def after() -> None:
            run.db_after = counts(db, run.discovered)
            vm = db.get("VM", run.vm_ref)
            run.vm_after = {k: vm[k] for k in ("power_state", "resident_on", "domid")}

        sim.run(after)
        yield run


@pytest.fixture(scope="module", params=TRANSPORTS)
def xo(request: pytest.FixtureRequest) -> Iterator[Run]:
    """One run of the driver per transport, against a pool of its own."""
    yield from drive(request.param)


def test_the_driver_ran_to_the_end(xo: Run) -> None:
    result = xo.result
    assert xo.returncode == 0 and "error" not in result, (
        f"drive.mjs ({xo.transport}) failed at {result.get('stage')!r}: {result.get('error')}"
    )
    assert result["stage"] == "done"
    assert result["status"] == "disconnected"
    assert xo.seconds < DRIVER_TIMEOUT


def test_the_types_the_connector_discovers_are_xapi_classes(xo: Run) -> None:
    # system.listMethods lists real XAPI's synchronous wire names only: an `Async.` one would make
    # the connector watch a class named "Async", whose load fails and whose event.from fails
    result = xo.completed("discovered_types")
    assert result["discovered_types"] == xo.discovered  # over its transport as over the SDK's
    assert set(result["discovered_types"]) == ALL_RECORDS_CLASSES


def test_every_object_is_loaded(xo: Run) -> None:
    result = xo.completed("loaded_counts")
    expected = nonzero(xo.expected_loaded)
    assert {"VM", "host", "SR", "network", "VDI", "VBD", "PIF", "pool"} <= expected.keys()
    assert result["loaded_counts"] == expected
    assert result["pool_ref"] == xo.pool_ref


def test_the_event_loop_never_failed(xo: Run) -> None:
    result = xo.completed("watch_events_error")
    assert result["event_fetching_errors"] == []
    assert result["watch_events_error"] is None
    # the connector reports failed loads of a type and event-loop errors with console.warn
    assert result["warnings"] == []
    # it loaded everything once: no restart of its main loop (SESSION_INVALID, EVENTS_LOST)
    assert result["reloaded"] is False
    assert result["event_fetches"] >= 1


def test_running_arrives_through_the_connectors_event_loop(xo: Run) -> None:
    result = xo.completed("running")
    assert result["vm_ref"] == xo.vm_ref and result["vm_type"] == "VM"
    assert result["initial_power_state"] == "Halted"
    assert result["start_result"] == ""  # a void task result
    assert result["running"]["power_state"] == "Running"
    # the state reached xapi.objects after event.from answered again, not from a fetch
    assert result["running_via_event_loop"] is True
    states = [s["power_state"] for s in result["power_states_seen"]]
    assert states[-1] == "Running"
    assert xo.vm_after["power_state"] == "Running"


def test_the_cache_matches_the_pool_after_a_barrier(xo: Run) -> None:
    result = xo.completed("final_counts", "final_vm")
    final = result["final_vm"]
    assert final["power_state"] == "Running"
    assert final["resident_on"] == xo.vm_after["resident_on"] != "OpaqueRef:NULL"
    assert int(final["domid"]) == int(xo.vm_after["domid"]) >= 1
    # an int is a bare number in JSON-RPC, an untyped <value> (so a string) in XML-RPC
    assert isinstance(final["domid"], str if xo.transport == "xml-rpc" else int)
    assert final["current_operations"] == {}
    # every class but tasks (the connector destroys its finished task without waiting) and
    # removed classes (never loaded) holds what the database holds, events included
    skip = REMOVED | {"task"}
    expected = nonzero({c: n for c, n in xo.db_after.items() if c not in skip})
    got = nonzero({c: n for c, n in result["final_counts"].items() if c not in skip})
    assert got == expected


def test_a_second_start_fails_with_vm_bad_power_state(xo: Run) -> None:
    result = xo.completed("second_start", "second_start_async")
    expected = {
        "code": "VM_BAD_POWER_STATE",
        "params": [xo.vm_ref, "halted", "running"],
    }
    for attempt in (result["second_start"], result["second_start_async"]):
        assert {k: attempt.get(k) for k in expected} == expected
    assert result["second_start"]["method"] == "VM.start"


def test_a_bogus_ref_fails_with_handle_invalid(xo: Run) -> None:
    result = xo.completed("bogus_call")
    assert result["bogus_call"]["code"] == "HANDLE_INVALID"
    assert result["bogus_call"]["params"] == ["VM", result["bogus_ref"]]
    assert result["bogus_call"]["method"] == "VM.get_power_state"
