"""Whole pools translated, each object checked as it is made: the XenAdmin dumps (real xapi
databases, tests/data/xenadmin) and a simulated pool read as XAPI's JSON-RPC serves
``get_all_records``."""

from __future__ import annotations

import asyncio
import math
from functools import cache
from pathlib import Path

from tests.support.simthread import FAST
from tests.support.statedb import StateDb, load_statedb
from xorca.projection.core.records import ClientObject, Raw
from xorca.projection.core.translate import PRIMARY_CLASSES, translate, type_of
from xorca.xapi.codec.jsonrpc import decode_jsonrpc_response, encode_jsonrpc_result
from xorca.xapi.datamodel import EVENTLESS
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.content.inventory import build_pool
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.pool import SimPool

DUMPS = Path(__file__).resolve().parents[1] / "data" / "xenadmin"
DUMP_FILES = sorted(DUMPS.glob("*.xml"))


def assert_json_ready(value: object, path: str = "data") -> None:
    """No None, no NaN, only JSON types and string keys, at every depth."""
    assert value is not None, f"None at {path}"
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"key {key!r} at {path}"
            assert_json_ready(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_json_ready(item, f"{path}[{i}]")
    elif isinstance(value, float):
        assert math.isfinite(value), f"{value} at {path}"
    else:
        assert type(value) in (str, int, bool), f"{type(value).__name__} at {path}"


def translate_all(records: dict[str, Raw]) -> dict[str, ClientObject]:
    """Every object of a pool by id, checked one by one."""

    def lookup(pool: str, ref: str) -> Raw | None:
        found = records.get(ref)
        return found if found is not None and found.pool == pool else None

    objects: dict[str, ClientObject] = {}
    for raw in records.values():
        found = translate(raw, lookup)
        if raw.cls not in PRIMARY_CLASSES:
            assert found is None
            continue
        assert found is not None, raw.ref
        assert found.type == type_of(raw.cls, raw.record)
        assert (found.id, found.pool) == (raw.uuid, raw.pool)
        assert_json_ready(found.data)
        assert found.id not in objects
        objects[found.id] = found
    return objects


@cache
def dump(name: str) -> StateDb:
    return load_statedb(DUMPS / name)


@cache
def dump_objects(name: str) -> dict[str, ClientObject]:
    return translate_all(dump(name).records)


async def served(pool: SimPool) -> dict[str, Raw]:
    """Every record of ``pool`` as its master serves ``<class>.get_all_records`` over JSON-RPC."""
    master = pool.master_ref
    login: list[Value] = [pool.config.username, pool.config.password]
    session = await dispatch.call(pool, master, "session.login_with_password", login)
    assert isinstance(session, str)
    classes = [name for name, rows in pool.db.tables.items() if rows]
    classes = [c for c in classes if c.lower() not in EVENTLESS] + ["message"]
    out: dict[str, Raw] = {}
    for cls in classes:
        try:
            answer = await dispatch.call(pool, master, f"{cls}.get_all_records", [session])
        except XapiError as e:  # VIF_metrics, VBD_metrics: removed classes, as on real XAPI
            if e.code != "MESSAGE_REMOVED":
                raise
            continue
        wire = decode_jsonrpc_response(encode_jsonrpc_result(1, "2.0", answer)).unwrap()
        assert isinstance(wire, dict)
        for ref, record in wire.items():
            assert isinstance(record, dict)
            out[ref] = Raw(pool.uuid, cls.lower(), ref, str(record["uuid"]), record)
    return out


@cache
def sim_pool() -> tuple[SimPool, dict[str, Raw]]:
    pool = build_pool(name="Lab", index=1, hosts=3, vms=12, seed=7, config=FAST, now=1.8e9)
    return pool, asyncio.run(served(pool))
