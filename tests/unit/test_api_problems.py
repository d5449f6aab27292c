"""Problem details for the API: which HTTP status each XAPI or xorca code gets, and the titles
and sentences people read."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xorca.api.core.problems import (
    PROBLEM_JSON,
    FieldError,
    Problem,
    describe_xapi_error,
    problem_for,
    status_for_xapi,
    title_for,
)
from xorca.xapi.datamodel import errors as xapi_errors

VM = "OpaqueRef:5e2a7c1d-0b9f-4d3e-8a6c-7f1e2d3c4b5a"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        # the pool refused in its current state
        ("VM_BAD_POWER_STATE", 409), ("OPERATION_NOT_ALLOWED", 409),
        ("OTHER_OPERATION_IN_PROGRESS", 409), ("VM_IS_TEMPLATE", 409), ("VM_IS_SNAPSHOT", 409),
        ("HOST_OFFLINE", 409), ("HOST_NOT_LIVE", 409), ("SR_FULL", 409),
        ("SR_BACKEND_FAILURE_44", 409), ("XORCA_OBJECT_IN_OTHER_POOL", 409),
        # unknown codes: XAPI refused a request it understood
        ("SOME_FUTURE_XAPI_ERROR", 409),
        # gone
        ("HANDLE_INVALID", 404), ("UUID_INVALID", 404), ("XORCA_OBJECT_NOT_FOUND", 404),
        ("XORCA_UNKNOWN_ACTION", 404),
        # the request itself is wrong
        ("MESSAGE_PARAMETER_COUNT_MISMATCH", 400), ("FIELD_TYPE_ERROR", 400),
        ("INVALID_VALUE", 400), ("MESSAGE_METHOD_UNKNOWN", 400), ("XORCA_MALFORMED_COMMAND", 400),
        ("XORCA_UNKNOWN_FIELD", 400), ("XORCA_INVALID_ARGUMENT", 400),
        ("XORCA_UNKNOWN_REFERENCE", 400),
        # the pool's account may not: forbidden for good, not a fault between xorca and the pool
        ("RBAC_PERMISSION_DENIED", 403), ("PERMISSION_DENIED", 403), ("LICENCE_RESTRICTION", 403),
        # the pool's credentials or XAPI itself failed
        ("SESSION_AUTHENTICATION_FAILED", 502), ("SESSION_AUTHORIZATION_FAILED", 502),
        ("SESSION_INVALID", 502), ("SESSION_SOMETHING_NEW", 502), ("INTERNAL_ERROR", 502),
        ("XORCA_CONNECTION_FAILED", 502), ("XORCA_TLS_FAILED", 502),
        ("XORCA_PROTOCOL_ERROR", 502),
        ("NOT_IMPLEMENTED", 501),
        # the pool cannot take commands now
        ("XORCA_POOL_NOT_MANAGED", 503), ("XORCA_POOL_UNAVAILABLE", 503),
        ("XORCA_POOL_UNREACHABLE", 503), ("TOO_BUSY", 503),
        ("XORCA_TIMEOUT", 504),
        ("XORCA_SOMETHING_NEW", 500),
    ],
)  # fmt: skip
def test_status_for_xapi(code: str, status: int) -> None:
    assert status_for_xapi(code) == status


def test_every_xapi_code_has_a_status_a_title_and_a_sentence() -> None:
    statuses = set()
    for code, error in xapi_errors().items():
        params = [f"p{i}" for i in range(len(error.params))]
        statuses.add(status_for_xapi(code))
        assert title_for(code) and len(title_for(code)) <= 100
        text = describe_xapi_error(code, params)
        assert text and "{" not in text, code
    assert statuses <= {400, 403, 404, 409, 501, 502, 503}


@pytest.mark.parametrize(
    ("code", "params", "text"),
    [
        ("VM_BAD_POWER_STATE", [VM, "halted", "running"],
         "The VM is Running; this needs it Halted."),
        ("VM_BAD_POWER_STATE", [VM, "running", "suspended"],
         "The VM is Suspended; this needs it Running."),
        ("OTHER_OPERATION_IN_PROGRESS", ["VM", VM, "clean_shutdown", "OpaqueRef:t"],
         "Another operation (clean shutdown) is running on this VM: try again when it ends."),
        ("OTHER_OPERATION_IN_PROGRESS", ["SR", VM],
         "Another operation is running on this storage repository: try again when it ends."),
        ("HANDLE_INVALID", ["VM", VM], "The VM no longer exists (or never did)."),
        ("HANDLE_INVALID", ["VDI", VM], "The disk no longer exists (or never did)."),
        ("HOST_NOT_ENOUGH_FREE_MEMORY", ["4294967296", "1610612736"],
         "The host has 1.5 GiB of memory free; this needs 4 GiB."),
        ("SR_FULL", ["21474836480", "10737418240"],
         "The storage repository is full: 20 GiB requested, at most 10 GiB possible."),
        ("SR_BACKEND_FAILURE_44", ["", "There is insufficient space", ""],
         "The storage driver failed: There is insufficient space."),
        ("SR_BACKEND_FAILURE", ["1", "", "lvcreate: no space."],
         "The storage driver failed: lvcreate: no space."),
        ("SR_BACKEND_FAILURE_46", ["", "", ""], "The storage driver failed."),
        ("VDI_IN_USE", [VM, "vdi_resize"],
         "The disk is in use by another operation (vdi resize)."),
        ("OPERATION_NOT_ALLOWED", ["VM has no empty CD drive"],
         "The pool does not allow this now: VM has no empty CD drive."),
        ("OPERATION_NOT_ALLOWED", [], "The pool does not allow this now."),
        ("VM_SHUTDOWN_TIMEOUT", [VM, "1200"],
         "The guest did not shut down within 1200 seconds: try a hard shutdown."),
        ("XORCA_POOL_UNAVAILABLE", ["3a1c", "disconnected"],
         "The pool is disconnected: nothing was sent to it."),
        ("RBAC_PERMISSION_DENIED", ["VM.destroy", "No permission"],
         "The pool refused: xorca's account on it lacks the role for VM.destroy."),
        ("XORCA_INVALID_ARGUMENT", ["paused", "must be true or false"],
         "paused: must be true or false."),
    ],
)  # fmt: skip
def test_descriptions_use_the_params_they_understand(
    code: str, params: list[str], text: str
) -> None:
    assert describe_xapi_error(code, params) == text


#: the errors users of a Xen manager meet most, on VMs, hosts and storage
COMMON = [
    "VM_BAD_POWER_STATE", "OPERATION_NOT_ALLOWED", "OPERATION_BLOCKED",
    "OTHER_OPERATION_IN_PROGRESS", "HANDLE_INVALID", "VM_IS_TEMPLATE", "VM_IS_SNAPSHOT",
    "VM_CANNOT_DELETE_DEFAULT_TEMPLATE", "VM_MISSING_PV_DRIVERS", "VM_LACKS_FEATURE",
    "VM_NO_SUSPEND_SR", "VM_REQUIRES_SR", "VM_REQUIRES_NETWORK", "VM_MIGRATE_FAILED",
    "VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT", "VM_SHUTDOWN_TIMEOUT", "VM_HAS_PCI_ATTACHED",
    "VM_UNSAFE_BOOT", "VM_IS_PROTECTED", "VM_HAS_NO_SUSPEND_VDI", "BOOTLOADER_FAILED",
    "HOST_OFFLINE", "HOST_NOT_LIVE", "HOST_DISABLED", "HOST_NOT_ENOUGH_FREE_MEMORY",
    "HOST_IN_USE", "HOST_NOT_DISABLED", "NO_HOSTS_AVAILABLE", "CANNOT_EVACUATE_HOST",
    "SR_FULL", "SR_NOT_ATTACHED", "SR_HAS_NO_PBDS", "SR_OPERATION_NOT_SUPPORTED",
    "SR_BACKEND_FAILURE", "VDI_IN_USE", "VDI_READONLY", "VDI_TOO_SMALL", "VDI_MISSING",
    "TASK_CANCELLED", "RBAC_PERMISSION_DENIED", "LICENCE_RESTRICTION",
]  # fmt: skip


@pytest.mark.parametrize("code", COMMON)
def test_common_errors_read_as_sentences_without_refs(code: str) -> None:
    declared = xapi_errors()[code].params
    params = [
        VM if name.lower() in ("vm", "host", "sr", "vdi", "ref") else "7" for name in declared
    ]
    text = describe_xapi_error(code, params)
    assert text[0].isupper() and text.endswith(".")
    assert code not in text and "OpaqueRef" not in text
    assert title_for(code)[0].isupper() and not title_for(code).endswith(".")


def test_unknown_codes_fall_back_to_the_code_and_params() -> None:
    assert describe_xapi_error("SOME_NEW_ERROR", ["a", "b"]) == "SOME_NEW_ERROR: a, b"
    assert describe_xapi_error("SOME_NEW_ERROR") == "SOME_NEW_ERROR"
    # a known code whose params are missing: a shorter sentence, or the raw form
    assert describe_xapi_error("VM_BAD_POWER_STATE", [VM]) == f"VM_BAD_POWER_STATE: {VM}"
    assert describe_xapi_error("SR_FULL", []) == "The storage repository is full."


def test_long_params_are_clipped() -> None:
    text = describe_xapi_error("INTERNAL_ERROR", ["x" * 5000])
    assert len(text) < 400 and text.endswith("….")


def test_titles() -> None:
    assert title_for("VM_BAD_POWER_STATE") == "The VM is not in a power state that allows this"
    assert title_for("SR_BACKEND_FAILURE_12") == "The storage driver failed"
    # a code we have no words for: XAPI's documentation, else one for the status
    assert title_for("VM_NO_CRASHDUMP_SR") == "This VM does not have a crash dump SR specified"
    assert title_for("SOME_NEW_ERROR") == "The pool refused this operation"
    assert title_for("XORCA_TIMEOUT") == "The pool did not answer in time"


@given(st.text(min_size=1, max_size=40), st.lists(st.text(max_size=50), max_size=6))
def test_any_code_and_params_give_a_problem(code: str, params: list[str]) -> None:
    problem = problem_for(code, params)
    assert 400 <= problem.status <= 599 and problem.title and problem.detail is not None


def test_a_problem_as_sent() -> None:
    problem = problem_for(
        "VM_BAD_POWER_STATE",
        [VM, "halted", "running"],
        instance="/api/v1/vms/0b9f/actions/start",
    )
    assert orjson.loads(problem.to_json()) == {
        "type": "/api/v1/problems/VM_BAD_POWER_STATE",
        "title": "The VM is not in a power state that allows this",
        "status": 409,
        "detail": "The VM is Running; this needs it Halted.",
        "instance": "/api/v1/vms/0b9f/actions/start",
        "code": "VM_BAD_POWER_STATE",
        "params": [VM, "halted", "running"],
    }
    assert PROBLEM_JSON == "application/problem+json"
    overridden = problem_for(
        "XORCA_INVALID_ARGUMENT",
        ["paused", "must be true or false"],
        status=422,
        detail="bad",
        errors=[FieldError(field="paused", message="must be true or false")],
    )
    assert (overridden.status, overridden.detail) == (422, "bad")
    assert overridden.errors == [FieldError(field="paused", message="must be true or false")]
    bare = Problem(title="Not found", status=404)
    assert orjson.loads(bare.to_json()) == {"type": "about:blank", "title": "Not found",
                                            "status": 404}  # fmt: skip
    example = Problem.model_json_schema()["examples"][0]
    assert Problem.model_validate(example).code == "VM_BAD_POWER_STATE"
