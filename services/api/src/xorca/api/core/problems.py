"""Errors as the REST API answers them: RFC 9457 problem details (``application/problem+json``),
made from XAPI's and xorca's error codes.

An error reaches the API as ``{code, params}``: XAPI's own code when the pool refused (the
collector passes it on untouched), or an ``XORCA_*`` code when xorca refused or could not reach
the pool. `problem_for` turns it into a `Problem` whose

- ``status`` is `status_for_xapi` (below),
- ``title`` is `title_for`: short, the same for every occurrence of the code,
- ``detail`` is `describe_xapi_error`: one English sentence using the params whose meaning is
  known (``VM_BAD_POWER_STATE [vm, expected, actual]`` → "The VM is Running; this needs it
  Halted."); the web UI shows it to users, so refs and raw codes stay out of it where possible,
- ``code`` and ``params`` are kept as they came, for programs.

How codes map to statuses:

====  ==========================================================================================
400   the request could not be understood as an operation: bad body, bad argument types or
      count, a body naming an object that does not exist (``XORCA_INVALID_ARGUMENT``,
      ``XORCA_UNKNOWN_REFERENCE``, ``FIELD_TYPE_ERROR``, ``INVALID_VALUE``…)
403   the pool forbids it for good: its account for xorca lacks the XAPI role
      (``RBAC_PERMISSION_DENIED``, ``PERMISSION_DENIED``) or its licence lacks the feature.
      xorca checks the caller's own rights before any command is sent, so a 403 from XAPI
      means the *pool's account* is not allowed, which the detail says; 403 (not 502) because
      repeating the request cannot help and nothing is broken between xorca and the pool
404   the object is gone (``HANDLE_INVALID``, ``UUID_INVALID``, ``XORCA_OBJECT_NOT_FOUND``) or
      the collection has no such action
409   the pool understood and refused in its current state (``VM_BAD_POWER_STATE``,
      ``OTHER_OPERATION_IN_PROGRESS``, ``HOST_OFFLINE``, ``SR_FULL``…): the default for any
      code not listed, since XAPI refusing means the request itself was well formed
501   the pool's XAPI does not implement the call (``NOT_IMPLEMENTED``, ``MESSAGE_REMOVED``)
502   the link to the pool failed, or XAPI failed inside: ``SESSION_*`` (the pool's credentials
      stopped working: the collector re-logs in by itself, so one that reaches a client is a
      configuration fault, not the caller's), ``INTERNAL_ERROR``, ``XORCA_CONNECTION_FAILED``,
      ``XORCA_TLS_FAILED``, ``XORCA_PROTOCOL_ERROR``
503   the pool cannot take commands now: ``XORCA_POOL_NOT_MANAGED``, ``XORCA_POOL_UNAVAILABLE``,
      ``XORCA_POOL_UNREACHABLE``, ``TOO_BUSY``, ``HOST_STILL_BOOTING``
504   no answer in time (``XORCA_TIMEOUT``): the operation may still have run
500   an ``XORCA_*`` code this version does not know
====  ==========================================================================================

Problem ``type`` is ``/api/v1/problems/<CODE>`` (a URI reference, RFC 9457 §3.1.1), so that a
client can tell problems apart by type as the RFC intends and the API can document each code
there; ``about:blank`` is kept for problems without a code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from xorca.xapi.datamodel import errors as xapi_errors

__all__ = [
    "INVALID_ARGUMENT",
    "OBJECT_NOT_FOUND",
    "OTHER_POOL",
    "PROBLEM_JSON",
    "PROBLEM_TYPES",
    "UNKNOWN_ACTION",
    "UNKNOWN_REFERENCE",
    "FieldError",
    "Problem",
    "describe_xapi_error",
    "problem_for",
    "problem_type",
    "status_for_xapi",
    "title_for",
]

PROBLEM_JSON = "application/problem+json"
#: prefix of every problem type made from a code
PROBLEM_TYPES = "/api/v1/problems/"

# the API's own codes (actions.py raises them)
#: a body that does not fit the action [field, message]
INVALID_ARGUMENT = "XORCA_INVALID_ARGUMENT"
#: the object acted on does not exist [collection, id]
OBJECT_NOT_FOUND = "XORCA_OBJECT_NOT_FOUND"
#: a body names an object that does not exist [collection, id]
UNKNOWN_REFERENCE = "XORCA_UNKNOWN_REFERENCE"
#: a body names an object of another pool than the one acted on [collection, id]
OTHER_POOL = "XORCA_OBJECT_IN_OTHER_POOL"
#: the collection has no such action [collection, name]
UNKNOWN_ACTION = "XORCA_UNKNOWN_ACTION"

#: longest XAPI documentation sentence used as a title
_MAX_TITLE = 100
#: longest param quoted in a detail (storage back-ends can send pages of stderr)
_MAX_PARAM = 300


class FieldError(BaseModel):
    """One field of a request body that is wrong, and why."""

    model_config = ConfigDict(frozen=True)

    field: Annotated[
        str, Field(description="dotted path in the body; `body` for the body as a whole")
    ]
    message: Annotated[str, Field(description="what is wrong, for a person")]


class Problem(BaseModel):
    """An error answer (RFC 9457), with XAPI's or xorca's code and params when there is one."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "/api/v1/problems/VM_BAD_POWER_STATE",
                    "title": "The VM is not in a power state that allows this",
                    "status": 409,
                    "detail": "The VM is Running; this needs it Halted.",
                    "instance": "/api/v1/vms/0b9f4d3e-8a6c-4f1e-9d3c-4b5a7f1e2d3c/actions/start",
                    "code": "VM_BAD_POWER_STATE",
                    "params": ["OpaqueRef:5e2a7c1d", "halted", "running"],
                }
            ]
        },
    )

    type: Annotated[str, Field(description="URI reference naming the kind of problem")] = (
        "about:blank"
    )
    title: Annotated[str, Field(description="short summary of the kind of problem")]
    status: Annotated[int, Field(ge=400, le=599, description="the HTTP status")]
    detail: Annotated[str | None, Field(description="what happened this time, for a person")] = None
    instance: Annotated[str | None, Field(description="the request path it happened on")] = None
    code: Annotated[str | None, Field(description="XAPI's error code, or xorca's (`XORCA_*`)")] = (
        None
    )
    params: Annotated[list[str] | None, Field(description="the code's parameters")] = None
    errors: Annotated[
        list[FieldError] | None, Field(description="the fields of the body that are wrong")
    ] = None

    def to_json(self) -> bytes:
        """The body as sent: members that are None left out."""
        return self.model_dump_json(exclude_none=True).encode()


# ---------------------------------------------------------------------------------- statuses

_STATUSES: dict[int, tuple[str, ...]] = {
    400: (
        "MESSAGE_METHOD_UNKNOWN",
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "FIELD_TYPE_ERROR",
        "INVALID_VALUE",
        "VALUE_NOT_SUPPORTED",
        "INVALID_DEVICE",
        "ILLEGAL_VBD_DEVICE",
        "INVALID_IP_ADDRESS_SPECIFIED",
        "INVALID_CIDR_ADDRESS_SPECIFIED",
        "HOST_NAME_INVALID",
        "XORCA_MALFORMED_COMMAND",
        "XORCA_UNKNOWN_FIELD",
        INVALID_ARGUMENT,
        UNKNOWN_REFERENCE,
    ),
    403: (
        "PERMISSION_DENIED",
        "RBAC_PERMISSION_DENIED",
        "USER_IS_NOT_LOCAL_SUPERUSER",
        "LICENCE_RESTRICTION",
    ),
    404: (
        "HANDLE_INVALID",
        "UUID_INVALID",
        "OBJECT_NOLONGER_EXISTS",
        OBJECT_NOT_FOUND,
        UNKNOWN_ACTION,
    ),
    # the default for unknown codes: listed for the record (and the tests)
    409: (
        "VM_BAD_POWER_STATE",
        "OPERATION_NOT_ALLOWED",
        "OPERATION_BLOCKED",
        "OTHER_OPERATION_IN_PROGRESS",
        "VM_IS_TEMPLATE",
        "VM_IS_SNAPSHOT",
        "VM_CANNOT_DELETE_DEFAULT_TEMPLATE",
        "VM_IS_PROTECTED",
        "HOST_OFFLINE",
        "HOST_NOT_LIVE",
        "HOST_DISABLED",
        "HOST_IN_USE",
        "HOST_NOT_DISABLED",
        "HOST_NOT_ENOUGH_FREE_MEMORY",
        "NO_HOSTS_AVAILABLE",
        "SR_FULL",
        "SR_NOT_ATTACHED",
        "VDI_IN_USE",
        "TASK_CANCELLED",
        OTHER_POOL,
    ),
    501: ("NOT_IMPLEMENTED", "MESSAGE_REMOVED"),
    502: (
        "INTERNAL_ERROR",
        "HOST_IS_SLAVE",
        "XORCA_CONNECTION_FAILED",
        "XORCA_TLS_FAILED",
        "XORCA_PROTOCOL_ERROR",
        "XORCA_TRANSPORT_ERROR",
        "XORCA_ERROR",
    ),
    503: (
        "XORCA_POOL_NOT_MANAGED",
        "XORCA_POOL_UNAVAILABLE",
        "XORCA_POOL_UNREACHABLE",
        "XORCA_COLLECTOR_STOPPED",
        "TOO_BUSY",
        "TOO_MANY_PENDING_TASKS",
        "HOST_STILL_BOOTING",
    ),
    504: ("XORCA_TIMEOUT",),
}
_STATUS_OF = {code: status for status, codes in _STATUSES.items() for code in codes}


def status_for_xapi(code: str) -> int:
    """The HTTP status of an error code, XAPI's or xorca's (see the module's table)."""
    known = _STATUS_OF.get(code)
    if known is not None:
        return known
    if code.startswith("SESSION_"):
        return 502
    if code.startswith("XORCA_"):
        return 500
    return 409


# ------------------------------------------------------------------------------ descriptions


class _Param(str):
    """A param as a template shows it: ``{0}`` as given (clipped), ``{0:state}`` a power state
    (``running`` → ``Running``), ``{0:class}`` a class for people (``SR`` → ``storage
    repository``), ``{0:op}`` an operation (``clean_shutdown`` → ``clean shutdown``),
    ``{0:bytes}`` a size (``4294967296`` → ``4 GiB``)."""

    __slots__ = ()

    def __format__(self, spec: str) -> str:
        text = str(self).strip()
        if spec == "state":
            return text[:1].upper() + text[1:].lower()
        if spec == "class":
            return _CLASS_NAMES.get(text, _CLASS_NAMES.get(text.lower(), text))
        if spec == "op":
            return text.replace("_", " ")
        if spec == "bytes":
            return _size(text)
        if spec:
            raise ValueError(f"unknown param format {spec!r}")
        clipped = text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 1] + "…"
        return clipped.rstrip(".")


_CLASS_NAMES = {
    "VM": "VM",
    "vm": "VM",
    "host": "host",
    "SR": "storage repository",
    "sr": "storage repository",
    "VDI": "disk",
    "vdi": "disk",
    "VBD": "disk drive",
    "vbd": "disk drive",
    "VIF": "network interface",
    "vif": "network interface",
    "PIF": "physical interface",
    "pif": "physical interface",
    "PBD": "storage connection",
    "pbd": "storage connection",
    "network": "network",
    "pool": "pool",
    "task": "task",
}


def _size(text: str) -> str:
    try:
        n = int(text)
    except ValueError:
        return text
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


# code -> (title, detail templates tried in order: the first whose params are all there wins).
# Templates name params by position, in XAPI's order (xapi-errors.json); refs are never shown.
_TEXTS: dict[str, tuple[str, tuple[str, ...]]] = {
    # ---- VMs
    "VM_BAD_POWER_STATE": (
        "The VM is not in a power state that allows this",
        ("The VM is {2:state}; this needs it {1:state}.",),
    ),
    "VM_IS_TEMPLATE": (
        "Not possible on a template",
        ("This is a template: the operation is only possible on a VM.",),
    ),
    "VM_IS_SNAPSHOT": (
        "Not possible on a snapshot",
        ("This is a snapshot: the operation is only possible on a VM.",),
    ),
    "VM_CANNOT_DELETE_DEFAULT_TEMPLATE": (
        "Default templates cannot be deleted",
        ("This template ships with XAPI and cannot be deleted.",),
    ),
    "VM_IS_PROTECTED": (
        "The VM is protected by high availability",
        ("High availability protects this VM: lower its restart priority first.",),
    ),
    "VM_NO_SUSPEND_SR": (
        "No storage for the VM's memory image",
        (
            "The VM has no SR to suspend to: set a suspend SR on the VM or a default SR on the "
            "pool.",
        ),
    ),
    "VM_MEMORY_SIZE_TOO_LOW": (
        "The VM has too little memory",
        ("The VM has too little memory to start.",),
    ),
    "VM_MISSING_PV_DRIVERS": (
        "The VM's guest tools are missing",
        ("This needs the guest tools (PV drivers) running in the VM, and none were detected.",),
    ),
    "VM_OLD_PV_DRIVERS": (
        "The VM's guest tools are too old",
        ("This needs newer guest tools (PV drivers) than version {1}.{2} in the VM.",),
    ),
    "VM_LACKS_FEATURE": (
        "The VM lacks a feature this needs",
        ("The VM's guest does not support this (its guest tools may be missing or old).",),
    ),
    "VM_NON_SUSPENDABLE": (
        "The VM cannot be suspended",
        ("The VM cannot be suspended: {1}.", "The VM cannot be suspended."),
    ),
    "VM_HAS_NO_SUSPEND_VDI": (
        "The VM has no memory image to resume from",
        ("The VM has no suspend disk to resume from.",),
    ),
    "VM_REQUIRES_SR": (
        "The host cannot reach the VM's storage",
        ("The host cannot reach a storage repository that the VM's disks are on.",),
    ),
    "VM_REQUIRES_NETWORK": (
        "The host is not on the VM's network",
        ("The host has no interface on a network that the VM is connected to.",),
    ),
    "VM_REQUIRES_VDI": (
        "A disk of the VM cannot be attached",
        ("A disk of the VM cannot be attached on this host.",),
    ),
    "VM_REQUIRES_GPU": (
        "No GPU available for the VM",
        ("The host has no free GPU in the group the VM needs.",),
    ),
    "VM_HOST_INCOMPATIBLE_VERSION_MIGRATE": (
        "The destination host is older",
        ("A VM cannot move to a host running an older version than its current one.",),
    ),
    "VM_INCOMPATIBLE_WITH_THIS_HOST": (
        "The VM is incompatible with the host",
        ("The VM cannot run on this host: {2}.", "The VM cannot run on this host."),
    ),
    "VM_MIGRATE_FAILED": (
        "The migration failed",
        ("The migration failed: {3}.", "The migration failed."),
    ),
    "VM_HAS_PCI_ATTACHED": (
        "The VM has PCI devices passed through",
        ("This is not possible while the VM has PCI devices passed through.",),
    ),
    "VM_HAS_VGPU": (
        "The VM has a virtual GPU",
        ("This is not possible while the VM has a virtual GPU.",),
    ),
    "VM_HAS_TOO_MANY_SNAPSHOTS": (
        "The VM has too many snapshots",
        ("The VM has too many snapshots for this: delete some first.",),
    ),
    "VM_HAS_CHECKPOINT": (
        "The VM has a checkpoint",
        ("This is not possible while the VM has a checkpoint (a snapshot with memory).",),
    ),
    "VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT": (
        "The VM did not acknowledge the shutdown",
        ("The guest did not acknowledge the shutdown request: try a hard shutdown.",),
    ),
    "VM_SHUTDOWN_TIMEOUT": (
        "The VM did not shut down in time",
        (
            "The guest did not shut down within {1} seconds: try a hard shutdown.",
            "The guest did not shut down in time: try a hard shutdown.",
        ),
    ),
    "VM_FAILED_SUSPEND_ACKNOWLEDGMENT": (
        "The VM did not acknowledge the suspend",
        ("The guest did not acknowledge the suspend request.",),
    ),
    "VM_SUSPEND_TIMEOUT": (
        "The VM did not suspend in time",
        ("The guest did not suspend within {1} seconds.", "The guest did not suspend in time."),
    ),
    "VM_NO_VCPUS": ("The VM has no vCPU", ("A VM needs at least one vCPU to start.",)),
    "VM_TOO_MANY_VCPUS": (
        "The VM has too many vCPUs",
        ("The VM has more vCPUs than it can start with.",),
    ),
    "VM_UNSAFE_BOOT": (
        "Starting the VM looks unsafe",
        (
            "XAPI judged starting the VM unsafe (its CPU may differ from the one it last ran on): "
            "start it with force to override.",
        ),
    ),
    "VM_CRASHED": ("The VM crashed", ("The VM crashed during the operation.",)),
    "VM_HALTED": ("The VM halted", ("The VM halted unexpectedly during the operation.",)),
    "VM_REBOOTED": ("The VM rebooted", ("The VM rebooted unexpectedly during the operation.",)),
    "BOOTLOADER_FAILED": (
        "The VM's bootloader failed",
        ("The VM's bootloader failed: {1}.", "The VM's bootloader failed."),
    ),
    "VM_REVERT_FAILED": ("Reverting failed", ("Reverting the VM to the snapshot failed.",)),
    "VM_CHECKPOINT_SUSPEND_FAILED": (
        "Saving the VM's memory failed",
        ("Saving the VM's memory for the checkpoint failed.",),
    ),
    "VM_CHECKPOINT_RESUME_FAILED": (
        "Restoring the VM's memory failed",
        ("Restoring the VM's memory after the checkpoint failed.",),
    ),
    "VM_NOT_RESIDENT_HERE": (
        "The VM is not on that host",
        ("The VM is not running on the host named.",),
    ),
    "MEMORY_CONSTRAINT_VIOLATION": (
        "The VM's memory settings are inconsistent",
        (
            "The VM's memory limits are inconsistent: {0}.",
            "The VM's memory limits are inconsistent.",
        ),
    ),
    # ---- operations in general
    "OPERATION_NOT_ALLOWED": (
        "The operation is not allowed now",
        ("The pool does not allow this now: {0}.", "The pool does not allow this now."),
    ),
    "OPERATION_BLOCKED": (
        "The operation is blocked on this object",
        (
            "This operation is blocked on the object (its blocked operations say: {1}).",
            "This operation is blocked on the object.",
        ),
    ),
    "OTHER_OPERATION_IN_PROGRESS": (
        "Another operation is in progress",
        (
            "Another operation ({2:op}) is running on this {0:class}: try again when it ends.",
            "Another operation is running on this {0:class}: try again when it ends.",
            "Another operation is running on this object: try again when it ends.",
        ),
    ),
    "HANDLE_INVALID": (
        "The object does not exist",
        (
            "The {0:class} no longer exists (or never did).",
            "The object no longer exists (or never did).",
        ),
    ),
    "UUID_INVALID": (
        "The object does not exist",
        ("There is no {0:class} {1}.", "The object does not exist."),
    ),
    "OBJECT_NOLONGER_EXISTS": ("The object does not exist", ("The object no longer exists.",)),
    "TASK_CANCELLED": ("The task was cancelled", ("The task was cancelled.",)),
    "TOO_BUSY": ("The pool is too busy", ("The pool is too busy: try again in a moment.",)),
    "TOO_MANY_PENDING_TASKS": (
        "The pool is too busy",
        ("The pool has too many tasks pending: try again in a moment.",),
    ),
    "NOT_IMPLEMENTED": (
        "The pool does not implement this",
        ("The pool's XAPI does not implement {0}.", "The pool's XAPI does not implement this."),
    ),
    "MESSAGE_REMOVED": (
        "The pool does not implement this",
        ("The pool's XAPI no longer has this call.",),
    ),
    "LICENCE_RESTRICTION": (
        "The pool's licence does not allow this",
        (
            "The pool's licence lacks the feature this needs ({0}).",
            "The pool's licence lacks the feature this needs.",
        ),
    ),
    # ---- hosts
    "HOST_OFFLINE": (
        "The host is offline",
        ("A host this needs cannot be contacted: it may be off or cut off from the pool.",),
    ),
    "HOST_NOT_LIVE": (
        "The host is not live",
        ("The host is not live: it may be off or cut off from the pool.",),
    ),
    "HOST_DISABLED": (
        "The host is disabled",
        ("The host is disabled (in maintenance): enable it first.",),
    ),
    "HOST_DISABLED_UNTIL_REBOOT": (
        "The host is disabled until it reboots",
        ("The host is disabled and can only be enabled again after a reboot.",),
    ),
    "HOST_NOT_DISABLED": (
        "The host is not disabled",
        ("This needs the host disabled (in maintenance) first.",),
    ),
    "HOST_IN_USE": (
        "The host is in use",
        ("The host is still in use by a {1:class}.", "The host is still in use."),
    ),
    "HOST_NOT_ENOUGH_FREE_MEMORY": (
        "Not enough free memory on the host",
        (
            "The host has {1:bytes} of memory free; this needs {0:bytes}.",
            "The host does not have enough free memory.",
        ),
    ),
    "HOST_NOT_ENOUGH_PCPUS": (
        "Not enough physical CPUs on the host",
        ("The VM has {0} vCPUs; the host has only {1} physical CPUs.",),
    ),
    "NO_HOSTS_AVAILABLE": (
        "No host can run this",
        ("No host of the pool can run this now (check their free memory, storage and networks).",),
    ),
    "HOST_STILL_BOOTING": (
        "The host is still starting",
        ("The host's toolstack is still starting: try again in a moment.",),
    ),
    "HOST_IN_EMERGENCY_MODE": (
        "The host is in emergency mode",
        ("The host is in emergency mode: it cannot reach its pool master.",),
    ),
    "HOST_IS_SLAVE": (
        "Not the pool master",
        ("xorca reached a pool member ({0}) instead of the master.",),
    ),
    "CANNOT_EVACUATE_HOST": (
        "The host cannot be evacuated",
        ("Its VMs cannot all be moved to other hosts: {0}.", "Its VMs cannot all be moved."),
    ),
    "HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN": (
        "This would break high availability",
        ("This would leave the pool unable to restart its protected VMs if a host failed.",),
    ),
    # ---- storage
    "SR_FULL": (
        "The storage repository is full",
        (
            "The storage repository is full: {0:bytes} requested, at most {1:bytes} possible.",
            "The storage repository is full.",
        ),
    ),
    "SR_NOT_ATTACHED": (
        "The storage repository is not attached",
        ("The storage repository is not attached to the host: plug its storage connection.",),
    ),
    "SR_HAS_NO_PBDS": (
        "The storage repository is not connected",
        ("The storage repository is connected to no host.",),
    ),
    "SR_OPERATION_NOT_SUPPORTED": (
        "The storage does not support this",
        ("The storage repository's driver does not support this operation.",),
    ),
    "SR_UNHEALTHY": (
        "The storage repository is unhealthy",
        ("The storage repository is {1}: {2}.", "The storage repository is unhealthy."),
    ),
    "SR_BACKEND_FAILURE": (
        "The storage driver failed",
        ("The storage driver failed: {2}.", "The storage driver failed."),
    ),
    "VDI_IN_USE": (
        "The disk is in use",
        ("The disk is in use by another operation ({1:op}).", "The disk is in use."),
    ),
    "VDI_READONLY": ("The disk is read-only", ("The disk is read-only.",)),
    "VDI_TOO_SMALL": (
        "The disk is too small",
        ("The disk is too small: it must be at least {1:bytes}.", "The disk is too small."),
    ),
    "VDI_TOO_LARGE": (
        "The disk is too large",
        ("The disk is too large: it must be at most {1:bytes}.", "The disk is too large."),
    ),
    "VDI_MISSING": (
        "The disk is missing from its storage",
        ("The disk cannot be found on its storage.",),
    ),
    "VDI_NOT_AVAILABLE": (
        "The disk cannot be attached",
        ("The disk could not be attached.",),
    ),
    "VDI_IS_A_PHYSICAL_DEVICE": (
        "Not possible on a physical device",
        ("This disk is a physical device: the operation is not possible on it.",),
    ),
    "VDI_CBT_ENABLED": (
        "Changed block tracking is on",
        ("This is not possible on a disk with changed block tracking enabled.",),
    ),
    # ---- rights and sessions
    "PERMISSION_DENIED": (
        "The pool's account is not allowed to do this",
        (
            "The pool refused: xorca's account on it is not allowed to do this ({0}).",
            "The pool refused: xorca's account on it is not allowed to do this.",
        ),
    ),
    "RBAC_PERMISSION_DENIED": (
        "The pool's account is not allowed to do this",
        (
            "The pool refused: xorca's account on it lacks the role for {0}.",
            "The pool refused: xorca's account on it lacks the role for this.",
        ),
    ),
    "SESSION_AUTHENTICATION_FAILED": (
        "xorca cannot log in to the pool",
        ("The pool refused xorca's credentials: check the pool's registry entry.",),
    ),
    "SESSION_AUTHORIZATION_FAILED": (
        "xorca cannot log in to the pool",
        (
            "The pool's account for xorca is not authorised to log in: {1}.",
            "The pool's account for xorca is not authorised to log in.",
        ),
    ),
    "SESSION_INVALID": (
        "xorca's session on the pool ended",
        ("xorca's session on the pool ended: try again.",),
    ),
    "INTERNAL_ERROR": (
        "The pool failed",
        ("XAPI failed inside: {0}.", "XAPI failed inside."),
    ),
    # ---- requests XAPI could not read (xorca checks them first: these are rare)
    "MESSAGE_METHOD_UNKNOWN": (
        "Unknown call",
        ("There is no call {0} (not in XAPI, or not allowed through xorca).",),
    ),
    "MESSAGE_PARAMETER_COUNT_MISMATCH": (
        "Wrong number of arguments",
        ("{0} takes {1} arguments, {2} were given.",),
    ),
    "FIELD_TYPE_ERROR": ("An argument has the wrong type", ("{0} has the wrong type.",)),
    "INVALID_VALUE": (
        "An argument has an invalid value",
        ("{1} is not a valid value for {0}.", "{0} has an invalid value."),
    ),
    "VALUE_NOT_SUPPORTED": (
        "The value is not supported",
        ("{1} is not supported for {0}: {2}.", "The value is not supported."),
    ),
    # ---- xorca's own
    "XORCA_POOL_NOT_MANAGED": (
        "The pool is not managed",
        (
            "No collector serves this pool: it may be unregistered or disabled, or every "
            "collector is down.",
        ),
    ),
    "XORCA_POOL_UNAVAILABLE": (
        "The pool is not available",
        ("The pool is {1}: nothing was sent to it.",),
    ),
    "XORCA_POOL_UNREACHABLE": (
        "The pool cannot be reached",
        ("No host of the pool answered as its master.",),
    ),
    "XORCA_COLLECTOR_STOPPED": (
        "The pool's collector stopped",
        ("The collector serving the pool stopped: another one takes over shortly.",),
    ),
    "XORCA_TIMEOUT": (
        "The pool did not answer in time",
        (
            "The pool did not answer in time: the operation may still have run, so check its "
            "tasks before trying again.",
        ),
    ),
    "XORCA_CONNECTION_FAILED": (
        "The connection to the pool failed",
        (
            "The connection to the pool failed ({1}): the operation may or may not have run.",
            "The connection to the pool failed: the operation may or may not have run.",
        ),
    ),
    "XORCA_TLS_FAILED": (
        "The pool's certificate was refused",
        ("The pool's TLS certificate was refused: {1}.", "The pool's TLS certificate was refused."),
    ),
    "XORCA_PROTOCOL_ERROR": (
        "The pool answered something that is not XAPI",
        ("The pool's answer was not XAPI: {1}.", "The pool's answer was not XAPI."),
    ),
    "XORCA_MALFORMED_COMMAND": ("The command was malformed", ("The command was malformed: {0}.",)),
    "XORCA_UNKNOWN_FIELD": ("Unknown field", ("{1} is not a field of {0}.",)),
    INVALID_ARGUMENT: ("The request body is not valid", ("{0}: {1}.",)),
    OBJECT_NOT_FOUND: ("The object does not exist", ("There is no {1} in {0}.",)),
    UNKNOWN_REFERENCE: ("A referenced object does not exist", ("There is no {1} in {0}.",)),
    OTHER_POOL: (
        "The object is in another pool",
        ("{1} in {0} belongs to another pool than the object acted on.",),
    ),
    UNKNOWN_ACTION: ("No such action", ("There is no action {1} on {0}.",)),
}

_GENERIC_TITLES = {
    400: "The request is not valid",
    403: "Not allowed",
    404: "Not found",
    409: "The pool refused this operation",
    500: "xorca failed",
    501: "Not implemented",
    502: "The pool could not be used",
    503: "The pool is not available",
    504: "The pool did not answer in time",
}


def _base(code: str) -> str:
    # XAPI numbers storage back-end failures: SR_BACKEND_FAILURE_44 is SR_BACKEND_FAILURE
    return "SR_BACKEND_FAILURE" if code.startswith("SR_BACKEND_FAILURE") else code


def title_for(code: str) -> str:
    """A short human title for a code: ours, else XAPI's documentation's first sentence, else
    one for its status."""
    known = _TEXTS.get(_base(code))
    if known is not None:
        return known[0]
    doc = xapi_errors().get(code)
    if doc is not None and doc.doc and not doc.doc.startswith("("):
        first = doc.doc.split(". ")[0].rstrip(".")
        if len(first) <= _MAX_TITLE:
            return first
    return _GENERIC_TITLES.get(status_for_xapi(code), "The request failed")


def describe_xapi_error(code: str, params: Sequence[str] = ()) -> str:
    """One English sentence for a user, from the params whose meaning is known; else
    ``CODE: params``."""
    values = [_Param(p) for p in params]
    known = _TEXTS.get(_base(code))
    if known is not None:
        if _base(code) == "SR_BACKEND_FAILURE":
            values = _backend_message(values)
        for template in known[1]:
            try:
                return template.format(*values)
            except IndexError:
                continue
    return f"{code}: {', '.join(params)}" if params else code


def _backend_message(values: list[_Param]) -> list[_Param]:
    """``[status, stdout, stderr]`` (``SR_BACKEND_FAILURE_44 ["", "There is insufficient
    space", ""]``): the first text that says something, as param 2."""
    said = next((v for v in (values[1:2] + values[2:3] + values[0:1]) if v.strip()), None)
    return [] if said is None else [_Param(""), _Param(""), said]


def problem_type(code: str | None) -> str:
    return f"{PROBLEM_TYPES}{code}" if code else "about:blank"


def problem_for(
    code: str,
    params: Sequence[str] = (),
    *,
    status: int | None = None,
    detail: str | None = None,
    instance: str | None = None,
    errors: Sequence[FieldError] = (),
) -> Problem:
    """The problem for an error ``{code, params}`` (status, title and detail derived unless
    given)."""
    return Problem(
        type=problem_type(code),
        title=title_for(code),
        status=status if status is not None else status_for_xapi(code),
        detail=detail if detail is not None else describe_xapi_error(code, params),
        instance=instance,
        code=code,
        params=list(params),
        errors=list(errors) or None,
    )
