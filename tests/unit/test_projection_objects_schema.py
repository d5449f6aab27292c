"""The client objects' models and schema against what the translation makes.

- Committed as generated: docs/objects.schema.json is what `xorca.projection.schema` renders,
  and web/src/types/objects.ts what the web's generator (``npm run types``) makes of it.
- Every object fits: from real xapi databases, a simulated pool, hand-built records for the rare
  fields, pool statuses, and hypothesis' made-up and damaged records. Each is checked twice: by
  the models (pydantic, strict) and by the published schema (JSON Schema 2020-12).
- Closed both ways: a field the translation emits that the models do not list fails (every model
  forbids extra fields), and every field the models list is emitted by some object here, so the
  schema promises nothing the translation never gives.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, get_args

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from tests.support import record_fuzz as fuzz
from tests.support.browser import missing
from tests.support.translated_pools import DUMP_FILES, dump_objects, sim_pool, translate_all
from xorca.contracts.base import ErrorBody
from xorca.contracts.deltas import OBJECT_TYPES
from xorca.contracts.status import PoolStatusChanged
from xorca.projection.core import objects
from xorca.projection.core.records import ClientObject, Raw
from xorca.projection.core.translate import PRIMARY_CLASSES, pool_status, translate
from xorca.projection.schema import document, render

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SCHEMA_FILE = ROOT / "docs" / "objects.schema.json"
TYPES_FILE = WEB / "src" / "types" / "objects.ts"

MODELS: TypeAdapter[Any] = TypeAdapter(objects.ClientObject)
SCHEMA = document()
VALIDATOR = jsonschema_rs.Draft202012Validator(SCHEMA)


def assert_fits(obj: ClientObject) -> None:
    """``obj`` is valid for its type's model and for the published schema."""
    model = MODELS.validate_python(obj.data)
    assert type(model) is objects.OBJECT_MODELS[obj.type], obj.type
    errors = [f"{e.instance_path}: {e.message}" for e in VALIDATOR.iter_errors(obj.data)]
    assert not errors, f"{obj.type} {obj.id} does not fit the schema: {errors}"


# ---- committed as generated ----------------------------------------------------------------------


def test_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text() == render(), (
        "docs/objects.schema.json is stale: "
        "python -m xorca.projection.schema > docs/objects.schema.json"
    )


def test_committed_typescript_is_generated_from_the_schema() -> None:
    node = shutil.which("node")
    if node is None:
        missing("no node on PATH: the web UI's types cannot be generated")
    if not (WEB / "node_modules" / "json-schema-to-typescript").is_dir():
        missing("web/node_modules lacks json-schema-to-typescript: run npm ci in web/")
    generated = subprocess.run(
        [node, "scripts/types.mjs", "--stdout"],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert generated == TYPES_FILE.read_text(), (
        "web/src/types/objects.ts is stale: npm run types in web/"
    )


def test_generation_is_deterministic() -> None:
    assert render() == render()


def test_the_types_are_the_contracts() -> None:
    assert set(objects.OBJECT_MODELS) == set(get_args(objects.ObjectType)) == set(OBJECT_TYPES)
    assert set(get_args(objects.XapiObjectType)) == set(OBJECT_TYPES) - {"pool-status"}


# ---- every object fits ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [path.name for path in DUMP_FILES])
def test_every_object_of_a_dump_fits(name: str) -> None:
    for obj in dump_objects(name).values():
        assert_fits(obj)


@cache
def sim_objects() -> dict[str, ClientObject]:
    _, records = sim_pool()
    return translate_all(records)


def test_every_object_of_a_simulated_pool_fits() -> None:
    for obj in sim_objects().values():
        assert_fits(obj)


POOL = "pool-uuid"


@cache
def rare_objects() -> list[ClientObject]:
    """What the pools above do not show: an alarm with every setting, a subtask whose result is a
    VM, and pool statuses with and without their optional fields."""
    body = (
        'value: 0.5\nconfig:\n<variable><name value="cpu_usage"/>'
        '<alarm_trigger_level value="0.9"/><alarm_trigger_period value="60"/>'
        '<alarm_auto_inhibit_period value="3600"/><alarm_trigger_sense value="high"/>'
        '<consolidation_fn value="average"/></variable>'
    )
    records = {
        raw.ref: raw
        for raw in [
            Raw(POOL, "message", "OpaqueRef:m", "m-uuid",
                {"name": "ALARM", "cls": "VM", "obj_uuid": "vm-uuid", "body": body}),
            Raw(POOL, "task", "OpaqueRef:parent", "parent-uuid", {"status": "pending"}),
            Raw(POOL, "task", "OpaqueRef:t", "t-uuid",
                {"status": "success", "result": "<value>OpaqueRef:vm</value>",
                 "subtask_of": "OpaqueRef:parent"}),
            Raw(POOL, "vm", "OpaqueRef:vm", "vm-uuid", {"power_state": "Halted"}),
        ]
    }  # fmt: skip
    made = [translate(raw, lambda _pool, ref: records.get(ref)) for raw in records.values()]
    at = datetime(2026, 11, 26, 9, tzinfo=UTC)
    statuses = [
        PoolStatusChanged(registry_id="new", state="connecting", since=at, collector="c1", at=at),
        PoolStatusChanged(
            registry_id="paris",
            pool_uuid=POOL,
            state="degraded",
            since=at,
            master="10.0.0.1",
            last_event_at=at,
            error=ErrorBody(code="HOST_OFFLINE", params=["OpaqueRef:h2"]),
            collector="c1",
            at=at,
        ),
    ]
    return [obj for obj in made if obj is not None] + [pool_status(s) for s in statuses]


def test_rare_objects_fit() -> None:
    found = rare_objects()
    assert {obj.type for obj in found} == {"message", "task", "vm", "pool-status"}
    for obj in found:
        assert_fits(obj)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cls=st.sampled_from(fuzz.CLASSES),
    record=fuzz.records | fuzz.not_records,
    uuid=st.sampled_from(["", "u-1"]),
    linked=fuzz.linked_records(),
)
def test_objects_of_made_up_records_fit(
    cls: str, record: Any, uuid: str, linked: dict[str, Raw]
) -> None:
    found = fuzz.check(
        Raw(fuzz.POOL, cls, "OpaqueRef:self", uuid, record), lambda _, r: linked.get(r)
    )
    if found is not None:
        assert_fits(found)


@pytest.mark.parametrize("cls", sorted(PRIMARY_CLASSES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_objects_of_damaged_simulator_records_fit(cls: str, data: st.DataObject) -> None:
    real = fuzz.sim_records()
    target = real[data.draw(st.sampled_from(fuzz.sim_refs_of(cls)))]
    damaged = {
        ref: data.draw(fuzz.damaged(real[ref]))
        for ref in data.draw(st.lists(st.sampled_from(fuzz.sim_refs_of(None)), max_size=20))
    }
    found = fuzz.check(data.draw(fuzz.damaged(target)), lambda _, r: damaged.get(r) or real.get(r))
    if found is not None:
        assert_fits(found)


# ---- closed both ways ----------------------------------------------------------------------------


def _defs() -> dict[str, Any]:
    defs: dict[str, Any] = SCHEMA["$defs"]
    return defs


def _target(prop: dict[str, Any]) -> str | None:
    """The $defs name a property's objects are (itself or its items), if any."""
    ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
    return ref.rsplit("/", 1)[1] if isinstance(ref, str) else None


def schema_paths(name: str) -> Iterator[str]:
    """``Vm.disks.$vdi``: every property of definition ``name``, at any depth."""
    for key, prop in _defs()[name]["properties"].items():
        yield f"{name}.{key}"
        inner = _target(prop)
        if inner is not None:
            yield from (f"{name}.{key}{path[len(inner) :]}" for path in schema_paths(inner))


def data_paths(name: str, data: dict[str, Any]) -> Iterator[str]:
    """The paths of `schema_paths` that ``data`` (of definition ``name``) has."""
    properties = _defs()[name]["properties"]
    for key, value in data.items():
        yield f"{name}.{key}"
        inner = _target(properties[key])
        if inner is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            yield from (f"{name}.{key}{path[len(inner) :]}" for path in data_paths(inner, item))


def test_every_field_of_the_models_is_made_by_the_translation() -> None:
    made = [
        *sim_objects().values(),
        *(obj for path in DUMP_FILES for obj in dump_objects(path.name).values()),
        *rare_objects(),
    ]
    seen: set[str] = set()
    for obj in made:
        seen.update(data_paths(objects.OBJECT_MODELS[obj.type].__name__, obj.data))
    roots = {model.__name__ for model in objects.OBJECT_MODELS.values()}
    promised = {path for root in roots for path in schema_paths(root)}
    assert len(promised) > 250
    assert promised - seen == set(), "fields that no translated object has"


def one_of(type_: str) -> dict[str, Any]:
    for obj in [*sim_objects().values(), *rare_objects()]:
        if obj.type == type_:
            return dict(obj.data)
    raise AssertionError(f"no {type_} object")


def refused(data: dict[str, Any]) -> bool:
    """Whether both the models and the schema refuse ``data``."""
    try:
        MODELS.validate_python(data)
    except ValidationError:
        by_models = True
    else:
        by_models = False
    return by_models and not VALIDATOR.is_valid(data)


@pytest.mark.parametrize("type_", sorted(OBJECT_TYPES))
def test_a_field_the_models_do_not_list_is_refused(type_: str) -> None:
    data = one_of(type_)
    assert not refused(data)
    assert refused({**data, "surprise": 1})
    assert refused({**data, "$surprise": data["id"]})


def test_nested_fields_the_models_do_not_list_are_refused() -> None:
    vm = one_of("vm")
    assert vm["disks"] and vm["memory"]
    assert refused({**vm, "disks": [{**vm["disks"][0], "surprise": 1}, *vm["disks"][1:]]})
    assert refused({**vm, "memory": {**vm["memory"], "surprise": 1}})
    status = next(obj.data for obj in rare_objects() if obj.data.get("error"))
    assert refused({**status, "error": {**status["error"], "surprise": 1}})


def test_null_wrong_types_and_missing_fields_are_refused() -> None:
    vm = one_of("vm")
    assert "name_label" in vm and "domid" in vm
    assert not VALIDATOR.is_valid({**vm, "name_label": None})  # no null, anywhere
    assert refused({**vm, "domid": "0"})  # numbers are numbers, not XML-RPC's text
    assert refused({**vm, "is_a_template": "false"})
    assert refused({**vm, "type": "host"})
    assert refused({key: value for key, value in vm.items() if key != "$container"})
    host = one_of("host")
    assert refused({**host, "power_state": "Paused"})  # the translation's own enum
