"""The API's action catalogue: every action is an allowed XAPI call whose arguments pass the
collector's checks (and run on the simulator), bodies are strict and say what is wrong, and
objects named in bodies are resolved or refused with the field's name."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from tests.support.waiting import eventually
from xorca.api.core.actions import (
    COLLECTIONS,
    MAX_BULK,
    NULL_REF,
    Action,
    ActionError,
    actions_of,
    bulk_body,
    command_for,
    find_action,
    parse_body,
    references,
)
from xorca.api.core.problems import FieldError
from xorca.contracts.commands import ALLOWED_METHODS, Command, allowed_method, validate
from xorca.xapi.errors import XapiError
from xorca.xapi_sim.content.inventory import build_pool
from xorca.xapi_sim.handlers.session import open_session
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.pool import SimConfig, SimPool

REF = "OpaqueRef:5e2a7c1d-0b9f-4d3e-8a6c-7f1e2d3c4b5a"
HOST = "8c4b2a1e-3f5d-4e6a-9b7c-1d2e3f4a5b6c"
SR = "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f"

ALL = [a for c in COLLECTIONS for a in actions_of(c).values()]
IDS = [f"{a.collection}/{a.name}" for a in ALL]


def fake_ref(collection: str, id_: str) -> str:
    return f"OpaqueRef:{id_}"


def run(action: Action, body: Any = None, resolve: Any = fake_ref, ref: str = REF) -> Command:
    return command_for(action, ref, body, resolve, actor="user:alice", request_id="req-1")


def action(path: str) -> Action:
    collection, name = path.split("/")
    found = find_action(collection, name)
    assert found is not None, path
    return found


# ---- the catalogue ----------------------------------------------------------------------


def test_the_catalogue_has_what_users_of_a_xen_manager_expect() -> None:
    names_and_tags = {"rename", "describe", "add-tag", "remove-tag"}
    expected = {
        "vms": {"start", "start-on", "clean-shutdown", "hard-shutdown", "clean-reboot",
                "hard-reboot", "suspend", "resume", "pause", "unpause", "migrate", "clone",
                "copy", "snapshot", "checkpoint", "destroy"} | names_and_tags,
        "vm-snapshots": {"revert", "clone", "destroy"} | names_and_tags,
        "vm-templates": {"clone", "destroy"} | names_and_tags,
        "hosts": {"enable", "disable"} | names_and_tags,
        "srs": names_and_tags,
        "networks": names_and_tags,
        "pools": names_and_tags,
        "vdis": {"resize", "snapshot", "clone", "destroy"} | names_and_tags,
        "tasks": {"cancel"},
    }  # fmt: skip
    assert set(COLLECTIONS) == set(expected)
    for collection, names in expected.items():
        assert names <= set(actions_of(collection)), collection


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_every_action_is_well_formed(act: Action) -> None:
    assert act.method in ALLOWED_METHODS
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", act.name)
    assert act.summary and "\n" not in act.summary and len(act.summary) <= 100
    assert act.summary[0].isupper() and not act.summary.endswith(".")
    assert find_action(act.collection, act.name) is act
    # bodies are documented for the OpenAPI document and refuse unknown fields
    schema = act.body.model_json_schema()
    assert schema.get("additionalProperties") is False
    assert schema.get("description") and schema.get("examples")
    for name, prop in schema.get("properties", {}).items():
        assert prop.get("description"), f"{act.body.__name__}.{name} has no description"
        assert prop.get("examples") or "anyOf" in prop, name
    for field, collection in act.links:
        assert field in act.body.model_fields and collection in ("hosts", "srs")


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_every_action_builds_a_command_the_collector_accepts(act: Action) -> None:
    cmd = run(act, act.example())
    assert (cmd.method, cmd.actor, cmd.request_id) == (act.method, "user:alice", "req-1")
    assert cmd.args[0] == REF  # the object acted on comes first
    validate(cmd)  # count and types against the datamodel, as the collector checks them
    # …and back through the wire format the command travels in
    assert Command.model_validate_json(cmd.to_json()) == cmd
    assert act.asynchronous == allowed_method(act.method).asynchronous


def test_destructive_actions_are_the_ones_that_lose_something() -> None:
    destructive = {f"{a.collection}/{a.name}" for a in ALL if a.destructive}
    assert destructive == {
        "vms/hard-shutdown", "vms/hard-reboot", "vms/destroy", "vm-snapshots/revert",
        "vm-snapshots/destroy", "vm-templates/destroy", "vdis/destroy",
    }  # fmt: skip


def test_unknown_collections_and_actions() -> None:
    assert find_action("vms", "fly") is None
    assert find_action("vbds", "plug") is None
    assert actions_of("messages") == {}
    actions_of("vms").clear()  # a copy: the catalogue is not changed
    assert find_action("vms", "start") is not None
    error = ActionError.unknown_action("vms", "fly")
    assert (error.status, error.code, error.params) == (404, "XORCA_UNKNOWN_ACTION", ["vms", "fly"])
    assert "start" in error.detail and "migrate" in error.detail


# ---- arguments ---------------------------------------------------------------------------


def test_defaults_and_the_xapi_arguments_they_make() -> None:
    assert run(action("vms/start")).args == [REF, False, False]
    assert run(action("vms/start"), {}).args == [REF, False, False]
    assert run(action("vms/start"), {"paused": True, "force": True}).args == [REF, True, True]
    on = run(action("vms/start-on"), {"host": HOST})
    assert on.args == [REF, f"OpaqueRef:{HOST}", False, False]
    migrate = action("vms/migrate")
    assert run(migrate, {"host": HOST}).args == [REF, f"OpaqueRef:{HOST}", {"live": "true"}]
    assert run(migrate, {"host": HOST, "live": False}).args[2] == {"live": "false"}
    copy = action("vms/copy")
    assert run(copy, {"name": "c"}).args == [REF, "c", NULL_REF]  # each disk stays on its SR
    assert run(copy, {"name": "c", "sr": SR}).args == [REF, "c", f"OpaqueRef:{SR}"]
    assert run(copy, {"name": "c", "sr": None}).args == [REF, "c", NULL_REF]
    assert run(action("vms/rename"), {"name_label": "web"}).args == [REF, "web"]
    assert run(action("vms/describe"), {"name_description": ""}).args == [REF, ""]
    assert run(action("hosts/disable")).args == [REF]  # auto_enable left out: older hosts
    assert run(action("vdis/resize"), {"size": 2**40}).args == [REF, 2**40]
    assert run(action("vm-snapshots/revert")).method == "VM.revert"
    assert run(action("tasks/cancel")).method == "task.cancel"


def test_a_validated_body_can_be_passed_as_is() -> None:
    start = action("vms/start")
    body = parse_body(start, {"paused": True})
    assert run(start, body).args == [REF, True, False]
    with pytest.raises(ActionError):  # a model of another action is checked like a mapping
        parse_body(start, parse_body(action("vms/rename"), {"name_label": "x"}))


BAD_BODIES = [
    ("vms/start", {"paused": "yes"}, "paused", "must be true or false"),
    ("vms/start", {"paused": 1}, "paused", "must be true or false"),
    ("vms/start", {"colour": "red"}, "colour",
     "is not an argument of start (it takes: paused, force)"),
    ("vms/clean-shutdown", {"force": True}, "force",
     "is not an argument of clean-shutdown (it takes: no arguments)"),
    ("vms/start", [1, 2], "body", "must be a JSON object"),
    ("vms/start", "start", "body", "must be a JSON object"),
    ("vms/clone", {}, "name", "is required"),
    ("vms/clone", {"name": ""}, "name", "must not be empty"),
    ("vms/clone", {"name": 7}, "name", "must be a string"),
    ("vms/clone", {"name": "x" * 256}, "name", "must be at most 255 characters"),
    ("vms/migrate", {"host": "web-01"}, "host", "must be an object id (a uuid)"),
    ("vms/migrate", {"host": HOST, "live": "true"}, "live", "must be true or false"),
    ("vms/copy", {"name": "c", "sr": "OpaqueRef:x"}, "sr", "must be an object id (a uuid)"),
    ("vdis/resize", {"size": 0}, "size", "must be greater than 0"),
    ("vdis/resize", {"size": -5}, "size", "must be greater than 0"),
    ("vdis/resize", {"size": "1073741824"}, "size", "must be an integer"),
    ("vdis/resize", {"size": 1.5}, "size", "must be an integer"),
    ("vdis/resize", {"size": 2**63}, "size", f"must be at most {2**63 - 1}"),
    ("vms/add-tag", {"tag": ""}, "tag", "must not be empty"),
    ("hosts/rename", {"name_label": None}, "name_label", "must be a string"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "field", "message"), BAD_BODIES)
def test_bad_bodies_are_refused_naming_the_field(
    path: str, body: Any, field: str, message: str
) -> None:
    act = action(path)
    with pytest.raises(ActionError) as caught:
        run(act, body, resolve=unreachable)
    error = caught.value
    assert (error.status, error.code) == (400, "XORCA_INVALID_ARGUMENT")
    assert error.params == [field, message]
    assert error.errors[0] == FieldError(field=field, message=message)
    assert error.detail == f"Invalid arguments for {path}: {field}: {message}."


def test_every_wrong_field_is_reported() -> None:
    with pytest.raises(ActionError) as caught:
        run(action("vms/migrate"), {"live": "no", "extra": 1})
    fields = {e.field: e.message for e in caught.value.errors}
    assert fields == {
        "host": "is required",
        "live": "must be true or false",
        "extra": "is not an argument of migrate (it takes: host, live)",
    }
    problem = caught.value.problem("/api/v1/vms/x/actions/migrate")
    assert problem.status == 400 and problem.errors == caught.value.errors
    assert problem.instance == "/api/v1/vms/x/actions/migrate"


def unreachable(collection: str, id_: str) -> str:
    raise AssertionError(f"resolved {collection}/{id_} for a body that is refused")


# ---- objects named in bodies ---------------------------------------------------------------


def test_objects_named_in_bodies_are_resolved_through_the_api() -> None:
    asked: list[tuple[str, str]] = []

    def resolve(collection: str, id_: str) -> str:
        asked.append((collection, id_))
        return "OpaqueRef:resolved"

    run(action("vms/migrate"), {"host": HOST}, resolve)
    run(action("vms/copy"), {"name": "c", "sr": SR}, resolve)
    run(action("vms/copy"), {"name": "c"}, resolve)
    run(action("vms/start"), {}, resolve)
    assert asked == [("hosts", HOST), ("srs", SR)]
    migrate = action("vms/migrate")
    assert references(migrate, parse_body(migrate, {"host": HOST})) == [("hosts", HOST)]
    copy = action("vms/copy")
    assert references(copy, parse_body(copy, {"name": "c"})) == []
    assert references(action("vms/start"), parse_body(action("vms/start"), None)) == []


def test_an_unknown_object_in_a_body_is_a_bad_request_naming_the_field() -> None:
    def resolve(collection: str, id_: str) -> str:
        raise ActionError.not_found(collection, id_)

    with pytest.raises(ActionError) as caught:
        run(action("vms/migrate"), {"host": HOST}, resolve)
    error = caught.value
    assert (error.status, error.code, error.params) == (
        400, "XORCA_UNKNOWN_REFERENCE", ["hosts", HOST])  # fmt: skip
    assert error.errors == [FieldError(field="host", message="no such object in hosts")]
    assert error.detail == f"host: there is no {HOST} in hosts."
    # the object acted on itself is the API's 404
    assert ActionError.not_found("vms", HOST).status == 404


def test_an_object_of_another_pool_is_a_conflict_naming_the_field() -> None:
    def resolve(collection: str, id_: str) -> str:
        raise ActionError.other_pool(collection, id_)

    with pytest.raises(ActionError) as caught:
        run(action("vms/copy"), {"name": "c", "sr": SR}, resolve)
    error = caught.value
    assert (error.status, error.code, error.params) == (
        409, "XORCA_OBJECT_IN_OTHER_POOL", ["srs", SR])  # fmt: skip
    assert [e.field for e in error.errors] == ["sr"]
    assert error.detail.startswith("sr: ") and "another pool" in error.detail


# ---- bulk --------------------------------------------------------------------------------


def test_bulk_bodies() -> None:
    model = bulk_body(action("vms/migrate").body)
    on = bulk_body(action("vms/start-on").body)
    assert on is bulk_body(action("vms/resume-on").body)  # one model per argument model
    bulk = model.model_validate({"ids": [HOST, SR], "args": {"host": HOST}})
    args = getattr(bulk, "args")  # noqa: B009 - a model made at run time
    assert isinstance(args, BaseModel) and getattr(args, "live") is True  # noqa: B009
    plain = bulk_body(action("vms/start").body).model_validate({"ids": [HOST]})
    assert getattr(plain, "args").model_dump() == {"paused": False, "force": False}  # noqa: B009
    bad_bodies: list[dict[str, Any]] = [
        {"ids": []},
        {"ids": ["web-01"]},
        {"ids": [HOST] * (MAX_BULK + 1)},
        {"ids": [HOST], "args": {"host": HOST}, "more": 1},
        {"ids": [HOST], "args": {"colour": "red"}},
    ]
    for bad in bad_bodies:
        with pytest.raises(ValidationError):
            bulk_body(action("vms/start").body).model_validate(bad)
    schema = model.model_json_schema()
    assert schema["title"] == "BulkMigrateArgs" and schema["additionalProperties"] is False


# ---- on the simulator: the arguments are what XAPI takes ----------------------------------

#: the power state a VM needs for each action (others: Running)
_STATE = {"start": "Halted", "start-on": "Halted", "clone": "Halted", "copy": "Halted",
          "destroy": "Halted", "resume": "Suspended", "resume-on": "Suspended",
          "unpause": "Paused"}  # fmt: skip


class _Lab:
    """A simulated pool and, for one action, an object it can run on."""

    def __init__(self, act: Action) -> None:
        seconds = 5.0 if act.collection == "tasks" else 0.01  # a task to cancel must last
        self.pool = build_pool(
            name="lab", index=1, hosts=2, vms=6, seed=2, config=SimConfig(operation_seconds=seconds)
        )
        self.db = self.pool.db
        self.session = open_session(self.pool, self.pool.master_ref, "root", "", is_pool=False)
        self.act = act

    async def call(self, method: str, *args: Any) -> Any:
        return await dispatch.call(self.pool, self.pool.master_ref, method, [self.session, *args])

    def vm(self, test: Any) -> str:
        return next(ref for ref, vm in self.db.records("VM") if test(vm))

    async def target(self) -> str:
        c, db = self.act.collection, self.db
        if c == "vms":
            state = _STATE.get(self.act.name, "Running")
            ref = self.vm(lambda v: _guest(v) and v["power_state"] == state)
            db.update("VM", ref, blocked_operations={})
            return ref
        if c == "vm-snapshots":
            return self.vm(lambda v: v["is_a_snapshot"])
        if c == "vm-templates":
            ref = self.vm(lambda v: v["is_a_template"] and not v["is_a_snapshot"])
            db.update("VM", ref, is_default_template=False, other_config={})  # a user's own
            return ref
        if c == "vdis":  # on a real SR, used by no running VM
            return next(
                ref
                for ref, vdi in db.records("VDI")
                if vdi["SR"] == self.sr()
                and all(self.vm_of(b)["power_state"] == "Halted" for b in list(vdi["VBDs"]))  # type: ignore[arg-type]
            )
        if c == "tasks":
            return str(await self.call("Async.VM.clean_shutdown", self.vm(_running_guest)))
        cls = {"hosts": "host", "srs": "SR", "networks": "network", "pools": "pool"}[c]
        return next(iter(db.refs(cls)))

    def vm_of(self, vbd: Any) -> dict[str, Any]:
        return self.db.get("VM", self.db.get("VBD", vbd)["VM"])  # type: ignore[arg-type]

    def sr(self) -> str:
        return next(ref for ref, sr in self.db.records("SR") if sr["type"] == "nfs")

    def resolver(self, target: str) -> Any:
        here = self.db.get("VM", target).get("resident_on") if "VM" in self._class() else None

        def resolve(collection: str, id_: str) -> str:
            if collection == "hosts":  # a host other than the VM's own
                return next(h for h in self.db.refs("host") if h != here)
            return self.sr()

        return resolve

    def _class(self) -> str:
        return "VM" if self.act.collection.startswith("vm") else self.act.collection

    async def outcome(self, cmd: Command) -> tuple[str, list[str]]:
        args = validate(cmd)
        try:
            if not allowed_method(cmd.method).asynchronous:
                await self.call(cmd.method, *args)
                return "success", []
            task = await self.call(f"Async.{cmd.method}", *args)
        except XapiError as e:
            return "refused", e.description
        await eventually(
            lambda: self.db.get("task", task)["status"] not in ("pending", "cancelling"),
            what=f"{cmd.method} to finish",
            interval=0.005,
        )
        record = self.db.get("task", task)
        return str(record["status"]), [str(e) for e in record["error_info"]]  # type: ignore[union-attr]


def _guest(vm: Any) -> bool:
    return not (vm["is_a_template"] or vm["is_control_domain"] or vm["is_a_snapshot"])


def _running_guest(vm: Any) -> bool:
    return bool(_guest(vm) and vm["power_state"] == "Running")


@pytest.mark.parametrize("act", ALL, ids=IDS)
async def test_every_action_runs_on_the_simulator(act: Action) -> None:
    lab = _Lab(act)
    target = await lab.target()
    cmd = command_for(
        act, target, act.example(), lab.resolver(target), actor="user:alice", request_id="r-1"
    )
    assert await lab.outcome(cmd) == ("success", [])
    if act.collection == "tasks":
        await eventually(
            lambda: lab.db.get("task", target)["status"] == "cancelled",
            what="the task cancelled",
            interval=0.01,
        )


def test_the_lab_pool_has_every_kind_of_target() -> None:
    # the simulator test above relies on this seed giving VMs in every power state
    pool: SimPool = build_pool(name="lab", index=1, hosts=2, vms=6, seed=2)
    vms = [v for _, v in pool.db.records("VM")]
    assert {v["power_state"] for v in vms if _guest(v)} >= {"Running", "Halted", "Suspended",
                                                           "Paused"}  # fmt: skip
    assert any(v["is_a_snapshot"] for v in vms)
