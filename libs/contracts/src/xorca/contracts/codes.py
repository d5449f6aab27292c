"""xorca's own error codes (``XORCA_*``) that travel on the bus, one definition each: in a
command's `CommandFailed` reply (``error: {code, params}``) and in a pool status's ``error``.
The collector sends them and the API reads them (and sends some itself when no collector
answers): both import them from here, never spell them.

============================  ===================  ==============================================
code                          params               meaning
============================  ===================  ==============================================
XORCA_MALFORMED_COMMAND       [reason]             the body is not a `Command`
XORCA_UNKNOWN_FIELD           [param, field]       a constructor record with a field XAPI lacks
XORCA_POOL_NOT_MANAGED        [pool]               no collector serves this pool
XORCA_POOL_UNAVAILABLE        [pool, state]        the pool is known but not connected
XORCA_ERROR                   [params…]            an XAPI failure that came without a code
XORCA_COLLECTOR_STOPPED       [collector]          the collector serving the pool stopped
XORCA_RESYNCING               [reason]             the collector reloads the pool's objects
XORCA_REGISTRY_ENTRY_INVALID  [reason]             the pool's registry entry cannot be used
XORCA_CONNECTION_FAILED…      [method, message]    the XAPI client's transport failures (below)
============================  ===================  ==============================================

The transport codes (``XORCA_CONNECTION_FAILED``, ``XORCA_TIMEOUT``, ``XORCA_TLS_FAILED``,
``XORCA_PROTOCOL_ERROR``, ``XORCA_POOL_UNREACHABLE``, ``XORCA_TRANSPORT_ERROR``,
``XORCA_CONSOLE_UNAVAILABLE``) are defined where they are raised, on the exception classes of
`xorca.xapi.errors` (a library below this one), and only named here.
"""

from __future__ import annotations

from xorca.xapi.errors import (
    CallTimeout,
    ConnectionFailed,
    ConsoleUnavailable,
    PoolUnreachable,
    ProtocolError,
    TlsError,
    TransportError,
)

__all__ = [
    "COLLECTOR_STOPPED",
    "CONNECTION_FAILED",
    "CONSOLE_UNAVAILABLE",
    "MALFORMED_COMMAND",
    "POOL_NOT_MANAGED",
    "POOL_UNAVAILABLE",
    "POOL_UNREACHABLE",
    "PREFIX",
    "PROTOCOL_ERROR",
    "REGISTRY_ENTRY_INVALID",
    "RESYNCING",
    "TIMEOUT",
    "TLS_FAILED",
    "TRANSPORT_ERROR",
    "UNKNOWN_ERROR",
    "UNKNOWN_FIELD",
]

#: the start of every code of xorca's own, here or anywhere else (XAPI's never have it)
PREFIX = "XORCA_"

# ---- commands refused before XAPI (xorca.contracts.commands, .arguments)
MALFORMED_COMMAND = "XORCA_MALFORMED_COMMAND"
UNKNOWN_FIELD = "XORCA_UNKNOWN_FIELD"
POOL_NOT_MANAGED = "XORCA_POOL_NOT_MANAGED"
POOL_UNAVAILABLE = "XORCA_POOL_UNAVAILABLE"

# ---- the collector's
#: stands in for the code of an XAPI failure that had none (the reply always has one)
UNKNOWN_ERROR = "XORCA_ERROR"
COLLECTOR_STOPPED = "XORCA_COLLECTOR_STOPPED"
RESYNCING = "XORCA_RESYNCING"
REGISTRY_ENTRY_INVALID = "XORCA_REGISTRY_ENTRY_INVALID"

# ---- the XAPI client's: no answer from the pool
TRANSPORT_ERROR = TransportError.CODE
CONNECTION_FAILED = ConnectionFailed.CODE
TIMEOUT = CallTimeout.CODE
TLS_FAILED = TlsError.CODE
PROTOCOL_ERROR = ProtocolError.CODE
POOL_UNREACHABLE = PoolUnreachable.CODE
CONSOLE_UNAVAILABLE = ConsoleUnavailable.CODE
