"""The actions the REST API offers on objects, and the XAPI command each one becomes.

``POST /api/v1/{collection}/{id}/actions/{name}`` (or, in bulk, ``POST
/api/v1/{collection}/actions/{name}`` with ``{"ids": [...], "args": {...}}``) runs one `Action`:
its ``body`` model validates the request's arguments (unknown fields refused, strict JSON types),
its ``build`` turns them into XAPI's argument list, and `command_for` wraps that in the
`Command` the pool's collector runs. Every method is one of the collector's allow-list
(`xorca.contracts.commands.ALLOWED_METHODS`; checked when this module loads), and every list
``build`` makes passes `xorca.contracts.commands.validate` (tests/unit/test_api_actions.py).

XAPI names objects by ref, clients by id (uuid). The object acted on comes with its ref (the API
reads it from the state store); objects that a body names (the host to migrate to, the SR to
copy to) are ids, turned into refs by a `Resolve` the API supplies: ``(collection, id) -> ref``,
raising `ActionError` (`ActionError.not_found`, `ActionError.other_pool`) when the id is
unknown or in another pool than the object acted on. ``Action.links`` says which body fields
name objects, so that the API can read those rows before it builds the command.

The XAPI calls keep to what every supported XAPI version takes: trailing parameters with
defaults (``host.disable``'s ``auto_enable``, ``VM.snapshot``'s ``ignore_vdis``, ``VDI.clone``'s
``driver_params``) are left out rather than sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    create_model,
)
from pydantic_core import ErrorDetails

from xorca.api.core.codes import (
    INVALID_ARGUMENT,
    OBJECT_NOT_FOUND,
    OTHER_POOL,
    UNKNOWN_ACTION,
    UNKNOWN_REFERENCE,
)
from xorca.api.core.errors import ApiProblem
from xorca.api.core.problems import FieldError, describe_xapi_error, status_for_xapi, title_for
from xorca.contracts.commands import ALLOWED_METHODS, Command, allowed_method

__all__ = [
    "COLLECTIONS",
    "MAX_BULK",
    "NULL_REF",
    "Action",
    "ActionError",
    "Resolve",
    "actions_of",
    "bulk_body",
    "command_for",
    "find_action",
    "parse_body",
    "references",
]

#: ``(collection, id) -> ref`` of an object of the acted-on object's pool, or `ActionError`
Resolve = Callable[[str, str], str]

#: XAPI's null ref: "none" where a ref parameter is optional (``VM.copy``'s SR)
NULL_REF = "OpaqueRef:NULL"
#: most objects one bulk request acts on
MAX_BULK = 500


class ActionError(ApiProblem):
    """An error code made a problem: its status (400, 404, 409… by `status_for_xapi`), title
    and, unless given, ``detail`` all follow from the ``code`` and its ``params``; ``errors`` are
    the body's wrong fields. Raised for an action refused before any command is sent (by this
    module, or by a `Resolve`), and for one the pool refused (the command's reply)."""

    code: str

    def __init__(
        self,
        code: str,
        params: Sequence[object] = (),
        *,
        detail: str | None = None,
        errors: Sequence[FieldError] = (),
    ) -> None:
        said = [str(p) for p in params]
        super().__init__(
            status_for_xapi(code),
            detail if detail is not None else describe_xapi_error(code, said),
            code=code,
            params=said,
            title=title_for(code),
            errors=errors,
        )

    @classmethod
    def not_found(cls, collection: str, id_: str) -> ActionError:
        """No object ``id_`` in ``collection`` (404 for the object acted on; a `Resolve` raises
        it too, and a body naming such an object gets 400 ``XORCA_UNKNOWN_REFERENCE``)."""
        return cls(OBJECT_NOT_FOUND, [collection, id_])

    @classmethod
    def other_pool(cls, collection: str, id_: str) -> ActionError:
        """A `Resolve`'s refusal of an object of another pool than the one acted on (409)."""
        return cls(OTHER_POOL, [collection, id_])

    @classmethod
    def unknown_action(cls, collection: str, name: str) -> ActionError:
        known = ", ".join(actions_of(collection)) or "none"
        detail = f"There is no action {name} on {collection} (there are: {known})."
        return cls(UNKNOWN_ACTION, [collection, name], detail=detail)


# -------------------------------------------------------------------------------- bodies

_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_HOST_EXAMPLE = "8c4b2a1e-3f5d-4e6a-9b7c-1d2e3f4a5b6c"
_SR_EXAMPLE = "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f"


def _object_id(what: str, example: str) -> Any:
    return Field(pattern=_UUID, description=f"id (uuid) of the {what}", examples=[example])


class _Body(BaseModel):
    # strict: JSON true/false for booleans, numbers for ints ("yes" or "1" is an error, not a
    # guess); unknown fields refused, a misspelt option must not be silently ignored
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoArgs(_Body):
    """No arguments: send ``{}`` or no body."""

    model_config = ConfigDict(json_schema_extra={"examples": [{}]})


_PAUSED = Field(
    description="leave the VM paused once its domain is built (unpause it to run it)",
    examples=[False],
)
_FORCE = Field(
    description="skip XAPI's safety checks (such as a CPU that differs from the one the VM "
    "last ran on)",
    examples=[False],
)


class StartArgs(_Body):
    """How to start (or resume) a VM."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"paused": False, "force": False}]})

    paused: Annotated[bool, _PAUSED] = False
    force: Annotated[bool, _FORCE] = False


class StartOnArgs(_Body):
    """Where and how to start (or resume) a VM."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"host": _HOST_EXAMPLE}]})

    host: Annotated[str, _object_id("host to run the VM on", _HOST_EXAMPLE)]
    paused: Annotated[bool, _PAUSED] = False
    force: Annotated[bool, _FORCE] = False


class MigrateArgs(_Body):
    """Where to move a VM, within its pool (its disks stay where they are)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"host": _HOST_EXAMPLE, "live": True}]}
    )

    host: Annotated[str, _object_id("host to move the VM to", _HOST_EXAMPLE)]
    live: Annotated[
        bool,
        Field(
            description="move a running VM without stopping it (false: pause it during the move)",
            examples=[True],
        ),
    ] = True


_NAME = Annotated[str, Field(min_length=1, max_length=255)]


class NewNameArgs(_Body):
    """The name of the object an action makes (a clone, a snapshot, a checkpoint)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "web-01 before upgrade"}]})

    name: Annotated[
        _NAME, Field(description="name_label of the new object", examples=["web-01 copy"])
    ]


class CopyArgs(_Body):
    """The name of a full copy, and where its disks go."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "web-01 copy", "sr": _SR_EXAMPLE}]}
    )

    name: Annotated[
        _NAME, Field(description="name_label of the new object", examples=["web-01 copy"])
    ]
    sr: Annotated[
        str | None,
        Field(
            pattern=_UUID,
            description="id (uuid) of the storage repository for the copy's disks; "
            "absent: each disk is copied on the SR it is on",
            examples=[_SR_EXAMPLE],
        ),
    ] = None


class RenameArgs(_Body):
    """A new name."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name_label": "web-01"}]})

    name_label: Annotated[_NAME, Field(description="the new name", examples=["web-01"])]


class DescribeArgs(_Body):
    """A new description."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name_description": "Front web server"}]}
    )

    name_description: Annotated[
        str,
        Field(
            max_length=4096,
            description="the new description (empty clears it)",
            examples=["Front web server"],
        ),
    ]


class TagArgs(_Body):
    """One tag."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"tag": "production"}]})

    tag: Annotated[
        str,
        Field(min_length=1, max_length=255, description="the tag", examples=["production"]),
    ]


class ResizeArgs(_Body):
    """A disk's new size (XAPI only grows disks)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"size": 21474836480}]})

    size: Annotated[
        int,
        Field(
            gt=0,
            le=2**63 - 1,
            description="the new virtual size in bytes (at least the current one)",
            examples=[21474836480],
        ),
    ]


# ------------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Action:
    """One action on the objects of a collection."""

    collection: str
    #: the URL segment (kebab-case)
    name: str
    #: the XAPI call (from the collector's allow-list)
    method: str
    #: the arguments' model (its schema goes into the OpenAPI document)
    body: type[BaseModel]
    #: the UI asks for confirmation first (data or state is lost)
    destructive: bool
    summary: str
    #: ``(ref of the object acted on, validated body, resolve) -> XAPI args after the session``
    build: Callable[[str, BaseModel, Resolve], list[JsonValue]]
    #: body fields that name objects: ``(field, collection)``
    links: tuple[tuple[str, str], ...] = ()

    @property
    def asynchronous(self) -> bool:
        """XAPI runs it as a task (the reply names it); else synchronously (it has a result)."""
        return allowed_method(self.method).asynchronous

    def example(self) -> dict[str, JsonValue]:
        """The body's first documented example."""
        extra = self.body.model_config.get("json_schema_extra")
        examples = extra.get("examples") if isinstance(extra, dict) else None
        if isinstance(examples, list) and examples and isinstance(examples[0], dict):
            return cast(dict[str, JsonValue], dict(examples[0]))
        return {}


_B = TypeVar("_B", bound=BaseModel)


def _action(
    collection: str,
    name: str,
    method: str,
    body: type[_B],
    build: Callable[[str, _B, Resolve], list[JsonValue]],
    summary: str,
    *,
    destructive: bool = False,
    links: tuple[tuple[str, str], ...] = (),
) -> Action:
    if method not in ALLOWED_METHODS:
        raise ValueError(f"{collection}/{name}: {method} is not in the collector's allow-list")

    def typed(ref: str, args: BaseModel, resolve: Resolve) -> list[JsonValue]:
        if not isinstance(args, body):
            raise TypeError(f"{collection}/{name} takes {body.__name__}, not {type(args)}")
        return build(ref, args, resolve)

    return Action(collection, name, method, body, destructive, summary, typed, links)


def _link(resolve: Resolve, field: str, collection: str, id_: str) -> str:
    """The ref of the object a body field names; a refusal names the field."""
    try:
        return resolve(collection, id_)
    except ActionError as e:
        # the body is wrong, not the URL: an unknown object is a 400 here, not a 404
        code = UNKNOWN_REFERENCE if e.code == OBJECT_NOT_FOUND else e.code
        said = ActionError(code, e.params).detail
        message = f"no such object in {collection}" if code == UNKNOWN_REFERENCE else said
        raise ActionError(
            code,
            e.params,
            detail=f"{field}: {said[:1].lower()}{said[1:]}",
            errors=[*e.errors, FieldError(field=field, message=message)],
        ) from None


# builders: (ref, body, resolve) -> XAPI args after the session


def _ref_only(ref: str, _: NoArgs, __: Resolve) -> list[JsonValue]:
    return [ref]


def _start(ref: str, a: StartArgs, _: Resolve) -> list[JsonValue]:
    return [ref, a.paused, a.force]


def _start_on(ref: str, a: StartOnArgs, resolve: Resolve) -> list[JsonValue]:
    return [ref, _link(resolve, "host", "hosts", a.host), a.paused, a.force]


def _migrate(ref: str, a: MigrateArgs, resolve: Resolve) -> list[JsonValue]:
    host = _link(resolve, "host", "hosts", a.host)
    return [ref, host, {"live": "true" if a.live else "false"}]


def _new_name(ref: str, a: NewNameArgs, _: Resolve) -> list[JsonValue]:
    return [ref, a.name]


def _copy(ref: str, a: CopyArgs, resolve: Resolve) -> list[JsonValue]:
    sr = NULL_REF if a.sr is None else _link(resolve, "sr", "srs", a.sr)
    return [ref, a.name, sr]


def _rename(ref: str, a: RenameArgs, _: Resolve) -> list[JsonValue]:
    return [ref, a.name_label]


def _describe(ref: str, a: DescribeArgs, _: Resolve) -> list[JsonValue]:
    return [ref, a.name_description]


def _tag(ref: str, a: TagArgs, _: Resolve) -> list[JsonValue]:
    return [ref, a.tag]


def _resize(ref: str, a: ResizeArgs, _: Resolve) -> list[JsonValue]:
    return [ref, a.size]


_HOST_LINK = (("host", "hosts"),)


def _names_and_tags(collection: str, cls: str, noun: str) -> list[Action]:
    """rename, describe, add-tag, remove-tag: every class with names and tags has them."""
    return [
        _action(collection, "rename", f"{cls}.set_name_label", RenameArgs, _rename,
                f"Rename the {noun}"),
        _action(collection, "describe", f"{cls}.set_name_description", DescribeArgs, _describe,
                f"Set the {noun}'s description"),
        _action(collection, "add-tag", f"{cls}.add_tags", TagArgs, _tag,
                f"Add a tag to the {noun}"),
        _action(collection, "remove-tag", f"{cls}.remove_tags", TagArgs, _tag,
                f"Remove a tag from the {noun}"),
    ]  # fmt: skip


def _vms() -> list[Action]:
    c = "vms"
    return [
        _action(c, "start", "VM.start", StartArgs, _start,
                "Start the VM on a host the pool chooses"),
        _action(c, "start-on", "VM.start_on", StartOnArgs, _start_on,
                "Start the VM on a given host", links=_HOST_LINK),
        _action(c, "clean-shutdown", "VM.clean_shutdown", NoArgs, _ref_only,
                "Ask the guest to shut down"),
        _action(c, "hard-shutdown", "VM.hard_shutdown", NoArgs, _ref_only,
                "Power the VM off at once, as pulling the plug", destructive=True),
        _action(c, "clean-reboot", "VM.clean_reboot", NoArgs, _ref_only,
                "Ask the guest to reboot"),
        _action(c, "hard-reboot", "VM.hard_reboot", NoArgs, _ref_only,
                "Reset the VM at once, as pressing the reset button", destructive=True),
        _action(c, "suspend", "VM.suspend", NoArgs, _ref_only,
                "Save the VM's memory to disk and stop it"),
        _action(c, "resume", "VM.resume", StartArgs, _start,
                "Resume a suspended VM on a host the pool chooses"),
        _action(c, "resume-on", "VM.resume_on", StartOnArgs, _start_on,
                "Resume a suspended VM on a given host", links=_HOST_LINK),
        _action(c, "pause", "VM.pause", NoArgs, _ref_only,
                "Pause the VM's vCPUs (its memory stays in place)"),
        _action(c, "unpause", "VM.unpause", NoArgs, _ref_only, "Let a paused VM run again"),
        _action(c, "migrate", "VM.pool_migrate", MigrateArgs, _migrate,
                "Move the VM to another host of its pool", links=_HOST_LINK),
        _action(c, "clone", "VM.clone", NewNameArgs, _new_name,
                "Clone the halted VM (fast, disks shared copy-on-write where the SR allows)"),
        _action(c, "copy", "VM.copy", CopyArgs, _copy,
                "Copy the halted VM, disks in full", links=(("sr", "srs"),)),
        _action(c, "snapshot", "VM.snapshot", NewNameArgs, _new_name,
                "Take a snapshot of the VM's disks"),
        _action(c, "checkpoint", "VM.checkpoint", NewNameArgs, _new_name,
                "Take a snapshot of the VM's disks and memory"),
        _action(c, "destroy", "VM.destroy", NoArgs, _ref_only,
                "Delete the halted VM's record (its disks are kept)", destructive=True),
        *_names_and_tags(c, "VM", "VM"),
    ]  # fmt: skip


def _vm_snapshots() -> list[Action]:
    c = "vm-snapshots"
    return [
        _action(c, "revert", "VM.revert", NoArgs, _ref_only,
                "Return the VM to this snapshot (its current state is lost)", destructive=True),
        # XAPI's clone of a snapshot is a template (xe snapshot-clone); a VM is then made from
        # it as from any template (see vm-templates)
        _action(c, "clone", "VM.clone", NewNameArgs, _new_name,
                "Make a new template from the snapshot"),
        _action(c, "destroy", "VM.destroy", NoArgs, _ref_only,
                "Delete the snapshot's record (its disks are kept)", destructive=True),
        *_names_and_tags(c, "VM", "snapshot"),
    ]  # fmt: skip


def _vm_templates() -> list[Action]:
    c = "vm-templates"
    return [
        # a real "new VM from template" also needs VM.provision (creating the disks that the
        # template describes) and clearing is_a_template; neither is in the collector's
        # allow-list yet, so this is the clone only: a new template, or the first step of one
        _action(c, "clone", "VM.clone", NewNameArgs, _new_name,
                "Clone the template (fast, disks shared copy-on-write where the SR allows)"),
        _action(c, "copy", "VM.copy", CopyArgs, _copy,
                "Copy the template, disks in full", links=(("sr", "srs"),)),
        _action(c, "destroy", "VM.destroy", NoArgs, _ref_only,
                "Delete the template's record (its disks are kept)", destructive=True),
        *_names_and_tags(c, "VM", "template"),
    ]  # fmt: skip


def _hosts() -> list[Action]:
    c = "hosts"
    return [
        _action(c, "enable", "host.enable", NoArgs, _ref_only,
                "Let the host run VMs again (leave maintenance)"),
        # host.disable's auto_enable is left out: hosts before XCP-ng 8.3 do not take it
        _action(c, "disable", "host.disable", NoArgs, _ref_only,
                "Stop the host taking new VMs (enter maintenance)"),
        *_names_and_tags(c, "host", "host"),
    ]  # fmt: skip


def _vdis() -> list[Action]:
    c = "vdis"
    return [
        _action(c, "resize", "VDI.resize", ResizeArgs, _resize, "Grow the disk"),
        _action(c, "snapshot", "VDI.snapshot", NoArgs, _ref_only, "Take a snapshot of the disk"),
        _action(c, "clone", "VDI.clone", NoArgs, _ref_only,
                "Clone the disk (copy-on-write where the SR allows)"),
        _action(c, "destroy", "VDI.destroy", NoArgs, _ref_only,
                "Delete the disk and its data", destructive=True),
        *_names_and_tags(c, "VDI", "disk"),
    ]  # fmt: skip


def _tasks() -> list[Action]:
    return [_action("tasks", "cancel", "task.cancel", NoArgs, _ref_only, "Cancel the task")]


@cache
def _catalogue() -> dict[str, dict[str, Action]]:
    actions = [
        *_vms(),
        *_vm_snapshots(),
        *_vm_templates(),
        *_hosts(),
        *_names_and_tags("srs", "SR", "storage repository"),
        *_names_and_tags("networks", "network", "network"),
        *_names_and_tags("pools", "pool", "pool"),
        *_vdis(),
        *_tasks(),
    ]
    out: dict[str, dict[str, Action]] = {}
    for action in actions:
        by_name = out.setdefault(action.collection, {})
        if action.name in by_name:
            raise ValueError(f"{action.collection}/{action.name} is defined twice")
        by_name[action.name] = action
    return out


#: collections that have actions
COLLECTIONS: tuple[str, ...] = tuple(_catalogue())


def actions_of(collection: str) -> dict[str, Action]:
    """The actions of ``collection`` by name (empty for a collection without any)."""
    return dict(_catalogue().get(collection, {}))


def find_action(collection: str, name: str) -> Action | None:
    return _catalogue().get(collection, {}).get(name)


# ---------------------------------------------------------------------------- commands


def parse_body(action: Action, body: Mapping[str, Any] | BaseModel | None) -> BaseModel:
    """The validated arguments of ``action`` (no body: ``{}``), or `ActionError` 400 naming
    each wrong field."""
    if isinstance(body, action.body):
        return body
    if isinstance(body, BaseModel):
        body = body.model_dump()
    try:
        return action.body.model_validate({} if body is None else body)
    except ValidationError as e:
        errors = [FieldError(field=_where(d), message=_message(d, action)) for d in e.errors()]
        first = errors[0]
        listed = "; ".join(f"{f.field}: {f.message}" for f in errors)
        raise ActionError(
            INVALID_ARGUMENT,
            [first.field, first.message],
            detail=f"Invalid arguments for {action.collection}/{action.name}: {listed}.",
            errors=errors,
        ) from None


def references(action: Action, body: BaseModel) -> list[tuple[str, str]]:
    """``(collection, id)`` of every object the validated ``body`` names (to read beforehand)."""
    out: list[tuple[str, str]] = []
    for field, collection in action.links:
        value = getattr(body, field, None)
        if isinstance(value, str):
            out.append((collection, value))
    return out


def command_for(
    action: Action,
    ref: str,
    body: Mapping[str, Any] | BaseModel | None,
    resolve: Resolve,
    *,
    actor: str,
    request_id: str,
) -> Command:
    """The command that runs ``action`` on the object whose ref is ``ref``; `ActionError` for a
    body that does not fit or names objects ``resolve`` refuses."""
    args = parse_body(action, body)
    return Command(
        method=action.method,
        args=action.build(ref, args, resolve),
        actor=actor,
        request_id=request_id,
    )


@cache
def bulk_body(body: type[BaseModel]) -> type[BaseModel]:
    """The body of a bulk request whose ``args`` are a ``body``: ``{"ids": [...], "args":
    {...}}`` (one model per argument model, for the OpenAPI document)."""
    ids = Annotated[
        list[Annotated[str, Field(pattern=_UUID)]],
        Field(min_length=1, max_length=MAX_BULK, description="ids of the objects to act on"),
    ]
    model: type[BaseModel] = create_model(
        f"Bulk{body.__name__}",
        __config__=ConfigDict(extra="forbid", strict=True, frozen=True),
        ids=(ids, ...),
        args=(body, Field(default_factory=body, description="the action's arguments")),
    )
    return model


def _where(error: ErrorDetails) -> str:
    return ".".join(str(p) for p in error["loc"]) or "body"


def _message(error: ErrorDetails, action: Action) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        takes = ", ".join(action.body.model_fields) or "no arguments"
        return f"is not an argument of {action.name} (it takes: {takes})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    if kind == "bool_type":
        return "must be true or false"
    if kind in ("int_type", "int_from_float"):
        return "must be an integer"
    if kind == "string_type":
        return "must be a string"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return "must be an object id (a uuid)"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    return str(error["msg"])
