"""xorca's public NATS contract: subjects, headers, message models, streams and the pool registry.

Every service, and any outside team, talks to xorca over NATS through what this package defines;
docs/nats.md is the guide and docs/asyncapi.json the machine-readable form
(``python -m xorca.contracts.asyncapi``).

The package is pure: no NATS client, no HTTP, no XAPI client anywhere in what it imports
(tests/unit/test_import_graph.py holds it to that). The adapters that speak it over NATS (the
connection, the stream set-up, the registry, leases and tokens KV) are ``xorca.bus``.
"""

from xorca.contracts.audit import CommandAudited, decode_audit, encode_audit
from xorca.contracts.base import ErrorBody, OutgoingMessage
from xorca.contracts.commands import (
    ALLOWED_METHODS,
    Command,
    CommandAccepted,
    CommandFailed,
    CommandReply,
    allowed_method,
    parse_command,
    parse_reply,
    validate,
)
from xorca.contracts.errors import (
    CommandRejected,
    ContractError,
    InvalidSubject,
    LeaseLost,
    MalformedMessage,
    PoolExists,
    PoolNotFound,
    RegistryEntryInvalid,
    RegistryError,
    RegistryUnavailable,
    SecretKeyError,
)
from xorca.contracts.log_entries import decode_log_entry
from xorca.contracts.msgid import GENESIS, next_msg_id
from xorca.contracts.objects import ObjectChanged, decode_object, encode_object
from xorca.contracts.passwords import PasswordCipher, generate_secret_key
from xorca.contracts.registry import PoolEntry, TlsSettings
from xorca.contracts.status import PoolStatusChanged, decode_status, encode_status
from xorca.contracts.subjects import (
    AUDIT_STREAM,
    LEASES_BUCKET,
    OBJECTS_STREAM,
    POOLS_BUCKET,
    TOKENS_BUCKET,
    audit_subject,
    command_subject,
    object_subject,
    status_subject,
)

__all__ = [
    "ALLOWED_METHODS",
    "AUDIT_STREAM",
    "GENESIS",
    "LEASES_BUCKET",
    "OBJECTS_STREAM",
    "POOLS_BUCKET",
    "TOKENS_BUCKET",
    "Command",
    "CommandAccepted",
    "CommandAudited",
    "CommandFailed",
    "CommandRejected",
    "CommandReply",
    "ContractError",
    "ErrorBody",
    "InvalidSubject",
    "LeaseLost",
    "MalformedMessage",
    "ObjectChanged",
    "OutgoingMessage",
    "PasswordCipher",
    "PoolEntry",
    "PoolExists",
    "PoolNotFound",
    "PoolStatusChanged",
    "RegistryEntryInvalid",
    "RegistryError",
    "RegistryUnavailable",
    "SecretKeyError",
    "TlsSettings",
    "allowed_method",
    "audit_subject",
    "command_subject",
    "decode_audit",
    "decode_log_entry",
    "decode_object",
    "decode_status",
    "encode_audit",
    "encode_object",
    "encode_status",
    "generate_secret_key",
    "next_msg_id",
    "object_subject",
    "parse_command",
    "parse_reply",
    "status_subject",
    "validate",
]
