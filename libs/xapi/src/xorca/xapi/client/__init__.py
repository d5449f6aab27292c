"""The async XAPI client, on httpx.

    async with Xapi(url, "root", password, tls=TlsPolicy.pinned(fingerprint)) as xapi:
        vms = await xapi.VM.get_all_records()              # or xapi.call("VM.get_all_records")
        task = await xapi.Async.VM.clone(vm, "copy")        # a Task
        new_vm = await task.result()                        # decoded; raises the task's error
        stats = await xapi.rrd_updates(host_ref, start=-600)
        async with await xapi.console(vm) as console:       # raw RFB
            greeting = await console.reader.readexactly(12)

Modules: `client` (the `Xapi` class), `session` (login, redirects, failover), `transport` (the
one HTTP seam), `tls`, `proxy`, `tasks`, `rrd` (pure parsing of metrics), `console` (the one raw
socket). Errors are the tree drawn in `xorca.xapi.errors`, re-exported here.
"""

from xorca.xapi.client.client import RetryPolicy, Xapi, is_idempotent
from xorca.xapi.client.console import ConsoleStream
from xorca.xapi.client.rrd import RrdFormatError, RrdUpdates, SeriesKey, parse_rrd_updates
from xorca.xapi.client.tasks import Task
from xorca.xapi.client.tls import TlsPolicy
from xorca.xapi.client.transport import JsonRpcUnsupported, Protocol, Transport
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

__all__ = [
    "ApiError",
    "AuthenticationFailed",
    "BadPowerState",
    "CallTimeout",
    "ConnectionFailed",
    "ConsoleStream",
    "ConsoleUnavailable",
    "EventsLost",
    "HandleInvalid",
    "HostIsSlave",
    "JsonRpcUnsupported",
    "MethodUnknown",
    "OperationNotAllowed",
    "OtherOperationInProgress",
    "PermissionDenied",
    "PoolUnreachable",
    "Protocol",
    "ProtocolError",
    "RetryPolicy",
    "RrdFormatError",
    "RrdUpdates",
    "SeriesKey",
    "SessionInvalid",
    "Task",
    "TaskCancelled",
    "TlsError",
    "TlsPolicy",
    "Transport",
    "TransportError",
    "Xapi",
    "XapiError",
    "error_for",
    "is_idempotent",
    "parse_rrd_updates",
]
