"""The client's exception tree: codes to classes, structured fields, the transport branch apart."""

from __future__ import annotations

import pytest

from xorca.xapi.errors import (
    ApiError,
    AuthenticationFailed,
    BadPowerState,
    CallTimeout,
    ConnectionFailed,
    ConsoleUnavailable,
    EventsLost,
    HandleInvalid,
    HostIsSlave,
    MethodUnknown,
    OperationNotAllowed,
    OtherOperationInProgress,
    PermissionDenied,
    PoolUnreachable,
    ProtocolError,
    SessionInvalid,
    TaskCancelled,
    TlsError,
    TransportError,
    XapiError,
    error_for,
)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("SESSION_INVALID", SessionInvalid),
        ("SESSION_AUTHENTICATION_FAILED", AuthenticationFailed),
        ("HOST_IS_SLAVE", HostIsSlave),
        ("HANDLE_INVALID", HandleInvalid),
        ("UUID_INVALID", HandleInvalid),
        ("VM_BAD_POWER_STATE", BadPowerState),
        ("OPERATION_NOT_ALLOWED", OperationNotAllowed),
        ("OPERATION_BLOCKED", OperationNotAllowed),
        ("OTHER_OPERATION_IN_PROGRESS", OtherOperationInProgress),
        ("TASK_CANCELLED", TaskCancelled),
        ("EVENTS_LOST", EventsLost),
        ("RBAC_PERMISSION_DENIED", PermissionDenied),
        ("MESSAGE_METHOD_UNKNOWN", MethodUnknown),
        ("SR_FULL", ApiError),
    ],
)
def test_each_code_gets_its_class(code: str, kind: type[ApiError]) -> None:
    error = error_for(code, ["a", "b"], method="VM.start")
    assert type(error) is kind
    assert isinstance(error, ApiError) and isinstance(error, XapiError)
    assert not isinstance(error, TransportError)
    assert error.code == code and error.params == ["a", "b"]
    assert error.description == [code, "a", "b"]
    assert error.method == "VM.start"


def test_structured_fields() -> None:
    bad = error_for("VM_BAD_POWER_STATE", ["OpaqueRef:v", "halted, suspended", "running"])
    assert isinstance(bad, BadPowerState)
    assert (bad.vm, bad.expected, bad.actual) == ("OpaqueRef:v", ["halted", "suspended"], "running")
    slave = error_for("HOST_IS_SLAVE", ["10.0.0.2"])
    assert isinstance(slave, HostIsSlave) and slave.master == "10.0.0.2"
    handle = error_for("HANDLE_INVALID", ["VM", "OpaqueRef:x"])
    assert isinstance(handle, HandleInvalid) and (handle.cls, handle.ref) == ("VM", "OpaqueRef:x")
    busy = error_for("OTHER_OPERATION_IN_PROGRESS", ["VM", "OpaqueRef:v", "start", "OpaqueRef:t"])
    assert isinstance(busy, OtherOperationInProgress) and busy.task == "OpaqueRef:t"
    short = error_for("HOST_IS_SLAVE", [])  # fewer parameters than documented: no IndexError
    assert isinstance(short, HostIsSlave) and short.master == ""


def test_from_description_and_the_base_class_the_simulator_uses() -> None:
    error = XapiError.from_description(["TASK_CANCELLED", "OpaqueRef:t"], method="Async.VM.start")
    assert isinstance(error, TaskCancelled) and error.params == ["OpaqueRef:t"]
    assert str(error) == "Async.VM.start: TASK_CANCELLED ['OpaqueRef:t']"
    for broken in ([], [1, "x"], [""]):
        assert isinstance(XapiError.from_description(broken, method="m"), ProtocolError)
    plain = XapiError("SESSION_INVALID", ["OpaqueRef:s"])  # as the simulator raises it
    assert str(plain) == "SESSION_INVALID ['OpaqueRef:s']" and plain.method is None


def test_transport_errors_name_the_call_and_say_whether_it_was_sent() -> None:
    for kind in (ConnectionFailed, CallTimeout, ProtocolError, PoolUnreachable):
        error = kind("VM.get_all", "boom", url="http://10.0.0.1", sent=False)
        assert isinstance(error, TransportError) and not isinstance(error, ApiError)
        assert error.method == "VM.get_all" and error.params == ["VM.get_all", "boom"]
        assert error.code.startswith("XORCA_") and not error.sent
        assert str(error) == "VM.get_all: boom (http://10.0.0.1)"
    tls = TlsError("session.login_with_password", "bad certificate")
    assert isinstance(tls, TransportError) and tls.sent is False
    console = ConsoleUnavailable("OpaqueRef:v", "halted")
    assert isinstance(console, XapiError) and not isinstance(console, ApiError | TransportError)
    assert console.description == ["XORCA_CONSOLE_UNAVAILABLE", "OpaqueRef:v", "halted"]
