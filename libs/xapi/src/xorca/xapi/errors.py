"""Every failure of an XAPI call, as one exception tree carrying XAPI's own code and parameters.

    XapiError(code, params)           the root: ``code``, ``params``, ``description``, ``method``
     ├── ApiError                     the host answered ``ErrorDescription = [code, *params]``
     │    ├── SessionInvalid          SESSION_INVALID: log in again (the client does, once)
     │    ├── AuthenticationFailed    SESSION_AUTHENTICATION_FAILED, SESSION_AUTHORIZATION_FAILED
     │    ├── HostIsSlave             HOST_IS_SLAVE [master address]: ask ``.master`` instead
     │    ├── HandleInvalid           HANDLE_INVALID [class, ref], UUID_INVALID [class, uuid]
     │    ├── BadPowerState           VM_BAD_POWER_STATE [vm, expected, actual]
     │    ├── OperationNotAllowed     OPERATION_NOT_ALLOWED [reason], OPERATION_BLOCKED [ref, why]
     │    ├── OtherOperationInProgress  OTHER_OPERATION_IN_PROGRESS [class, ref, op, task]
     │    ├── TaskCancelled           TASK_CANCELLED [task]
     │    ├── EventsLost              EVENTS_LOST, SESSION_NOT_REGISTERED: reload everything
     │    ├── PermissionDenied        RBAC_PERMISSION_DENIED, PERMISSION_DENIED
     │    ├── MethodUnknown           MESSAGE_METHOD_UNKNOWN, MESSAGE_PARAMETER_COUNT_MISMATCH…
     │    └── (any other code)        ApiError itself
     ├── TransportError               no XAPI answer at all; ``.sent``: the call may have run
     │    ├── ConnectionFailed        refused, reset or cut; ``.sent`` False if never delivered
     │    ├── CallTimeout             no answer in time
     │    ├── TlsError                certificate refused, or its fingerprint is not the pinned one
     │    ├── ProtocolError           an answer that is not XAPI: HTTP error, bad envelope, bad
     │    │                           bytes, a value of the wrong type; ``.status`` if HTTP said
     │    └── PoolUnreachable         no known host of the pool answered as (or named) a master
     └── ConsoleUnavailable           the VM has no rfb console, or its host refused the tunnel

Why a tree: callers act on a handful of codes (re-login, follow the master, reload a stale ref,
tell the user the VM is in the wrong state) and treat the rest alike, and "the host said no"
(`ApiError`: safe to report, the call did not run) must never be confused with "we do not know
what happened" (`TransportError`: the call may have run). Transport errors still carry a code
and parameters (``XORCA_*`` codes, never XAPI's; the first parameter is the call) so that one
``{code, params}`` shape reports every failure.

The simulator raises plain `XapiError` with XAPI codes; `error_for` (or
`XapiError.from_description`) picks the subclass for a code, which is what the client does with
every failure it decodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

__all__ = [
    "ApiError",
    "AuthenticationFailed",
    "BadPowerState",
    "CallTimeout",
    "ConnectionFailed",
    "ConsoleUnavailable",
    "EventsLost",
    "HandleInvalid",
    "HostIsSlave",
    "MethodUnknown",
    "OperationNotAllowed",
    "OtherOperationInProgress",
    "PermissionDenied",
    "PoolUnreachable",
    "ProtocolError",
    "SessionInvalid",
    "TaskCancelled",
    "TlsError",
    "TransportError",
    "XapiError",
    "error_for",
]


class XapiError(Exception):
    """An XAPI failure: ``code`` is the error code, ``params`` its string parameters.

    ``method`` names the call that failed, when known (the client sets it; the simulator does not).
    """

    def __init__(
        self, code: str, params: Sequence[object] = (), *, method: str | None = None
    ) -> None:
        self.code = code
        self.params = [str(p) for p in params]
        self.method = method
        super().__init__(code, *self.params)

    def __str__(self) -> str:
        text = f"{self.code} {self.params}" if self.params else self.code
        return f"{self.method}: {text}" if self.method else text

    @property
    def description(self) -> list[str]:
        """The wire's ``ErrorDescription``: the code, then the parameters."""
        return [self.code, *self.params]

    @classmethod
    def from_description(
        cls, description: Sequence[object], *, method: str | None = None
    ) -> XapiError:
        """The error for ``[code, *params]`` (an ``ErrorDescription`` or a task's ``error_info``),
        as the most specific class; an empty or code-less description is a `ProtocolError`."""
        if not description or not isinstance(description[0], str) or not description[0]:
            return ProtocolError(
                method or "?", f"malformed error description {list(description)!r}"
            )
        return error_for(description[0], description[1:], method=method)


# ---------------------------------------------------------------------------------- API errors


class ApiError(XapiError):
    """The host answered the call with a failure: the call did not (or did not fully) run."""

    #: the XAPI codes this class stands for (read by `error_for`)
    CODES: ClassVar[tuple[str, ...]] = ()

    def param(self, index: int) -> str:
        """Parameter ``index``, or ``""`` when the server sent fewer (older hosts sometimes do)."""
        return self.params[index] if index < len(self.params) else ""


class SessionInvalid(ApiError):
    CODES = ("SESSION_INVALID",)


class AuthenticationFailed(ApiError):
    CODES = ("SESSION_AUTHENTICATION_FAILED", "SESSION_AUTHORIZATION_FAILED")


class HostIsSlave(ApiError):
    CODES = ("HOST_IS_SLAVE",)

    @property
    def master(self) -> str:
        """The master's address (an IP, without scheme or port)."""
        return self.param(0)


class HandleInvalid(ApiError):
    CODES = ("HANDLE_INVALID", "UUID_INVALID")

    @property
    def cls(self) -> str:
        return self.param(0)

    @property
    def ref(self) -> str:
        """The ref (or, for UUID_INVALID, the uuid) that names nothing."""
        return self.param(1)


class BadPowerState(ApiError):
    CODES = ("VM_BAD_POWER_STATE",)

    @property
    def vm(self) -> str:
        return self.param(0)

    @property
    def expected(self) -> list[str]:
        """The allowed states, lowercase (XAPI joins them with ``", "``)."""
        return [s.strip() for s in self.param(1).split(",") if s.strip()]

    @property
    def actual(self) -> str:
        return self.param(2)


class OperationNotAllowed(ApiError):
    CODES = ("OPERATION_NOT_ALLOWED", "OPERATION_BLOCKED")


class OtherOperationInProgress(ApiError):
    CODES = ("OTHER_OPERATION_IN_PROGRESS",)

    @property
    def task(self) -> str:
        """The task running the other operation, when the server named it."""
        return self.param(3)


class TaskCancelled(ApiError):
    CODES = ("TASK_CANCELLED",)


class EventsLost(ApiError):
    CODES = ("EVENTS_LOST", "SESSION_NOT_REGISTERED")


class PermissionDenied(ApiError):
    CODES = ("RBAC_PERMISSION_DENIED", "PERMISSION_DENIED")


class MethodUnknown(ApiError):
    CODES = ("MESSAGE_METHOD_UNKNOWN", "MESSAGE_PARAMETER_COUNT_MISMATCH", "MESSAGE_REMOVED")


_BY_CODE: dict[str, type[ApiError]] = {
    code: kind
    for kind in (
        SessionInvalid,
        AuthenticationFailed,
        HostIsSlave,
        HandleInvalid,
        BadPowerState,
        OperationNotAllowed,
        OtherOperationInProgress,
        TaskCancelled,
        EventsLost,
        PermissionDenied,
        MethodUnknown,
    )
    for code in kind.CODES
}


def error_for(code: str, params: Sequence[object] = (), *, method: str | None = None) -> ApiError:
    """The `ApiError` subclass for an XAPI code (`ApiError` itself for codes nobody acts on)."""
    return _BY_CODE.get(code, ApiError)(code, params, method=method)


# ---------------------------------------------------------------------------- transport errors


class TransportError(XapiError):
    """No XAPI answer. ``sent`` is False only when the request certainly never reached the host
    (refused connection, TLS refused), so re-sending cannot run the call twice."""

    CODE: ClassVar[str] = "XORCA_TRANSPORT_ERROR"

    def __init__(
        self, method: str, message: str, *, url: str = "", sent: bool = True, status: int = 0
    ) -> None:
        super().__init__(self.CODE, [method, message], method=method)
        self.message = message
        self.url = url
        self.sent = sent
        self.status = status

    def __str__(self) -> str:
        where = f" ({self.url})" if self.url else ""
        return f"{self.method}: {self.message}{where}"


class ConnectionFailed(TransportError):
    CODE = "XORCA_CONNECTION_FAILED"


class CallTimeout(TransportError):
    CODE = "XORCA_TIMEOUT"


class TlsError(TransportError):
    CODE = "XORCA_TLS_FAILED"

    def __init__(self, method: str, message: str, *, url: str = "") -> None:
        super().__init__(method, message, url=url, sent=False)


class ProtocolError(TransportError):
    """An answer we cannot read as XAPI: an HTTP error page, a broken envelope, undecodable bytes,
    or a value whose type is not what the call returns. ``status`` is the HTTP status (0 when
    the HTTP exchange itself was fine)."""

    CODE = "XORCA_PROTOCOL_ERROR"


class PoolUnreachable(TransportError):
    """Every known host of the pool failed: down, unreachable, or naming a master that is."""

    CODE = "XORCA_POOL_UNREACHABLE"


# ------------------------------------------------------------------------------------ consoles


class ConsoleUnavailable(XapiError):
    """No console to open: the VM has no rfb console (not running), or its host refused."""

    CODE: ClassVar[str] = "XORCA_CONSOLE_UNAVAILABLE"

    def __init__(self, vm: str, reason: str, *, method: str = "console") -> None:
        super().__init__(self.CODE, [vm, reason], method=method)
        self.vm = vm
        self.reason = reason
