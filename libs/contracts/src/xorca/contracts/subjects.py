"""Every name xorca puts on NATS: subjects (with builders and parsers), streams and KV buckets.

Subjects are versioned (``xorca.v1.…``) and made of tokens. A token that xorca did not choose (a
pool's uuid, an object's uuid) is checked before it goes into a subject: a ``.`` would add a level,
``*`` and ``>`` are wildcards, whitespace ends the subject in the protocol. A bad token is refused
with `InvalidSubject` rather than escaped, because XAPI uuids never contain any of these: one that
does means a bug or a hostile pool, and either way the message must not be published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xorca.contracts.errors import InvalidSubject

__all__ = [
    "AUDIT_STREAM",
    "LEASES_BUCKET",
    "OBJECTS_STREAM",
    "POOLS_BUCKET",
    "PREFIX",
    "TOKENS_BUCKET",
    "ObjectAddress",
    "audit_subject",
    "check_class",
    "check_token",
    "command_subject",
    "deadletter_subject",
    "object_subject",
    "objects_filter",
    "parse_audit_subject",
    "parse_command_subject",
    "parse_object_subject",
    "parse_status_subject",
    "status_subject",
]

PREFIX = "xorca.v1"

#: the log: object changes (``xorca.v1.obj.>``) and pool statuses (``xorca.v1.status.>``)
OBJECTS_STREAM = "XORCA_OBJECTS"
#: every command a collector accepted, failed or rejected (``xorca.v1.audit.>``)
AUDIT_STREAM = "XORCA_AUDIT"
#: KV bucket: the pools to manage (the registry)
POOLS_BUCKET = "XORCA_POOLS"
#: KV bucket: which collector replica holds which pool
LEASES_BUCKET = "XORCA_LEASES"
#: KV bucket: api tokens (their SHA-256 only)
TOKENS_BUCKET = "XORCA_TOKENS"

OBJ = f"{PREFIX}.obj"
STATUS = f"{PREFIX}.status"
CMD = f"{PREFIX}.cmd"
AUDIT = f"{PREFIX}.audit"
DEADLETTER = f"{PREFIX}.deadletter"

_MAX_TOKEN = 256
_BAD_TOKEN = re.compile(r"[.*>\s\x00-\x1f\x7f]")
_CLASS = re.compile(r"^[a-z][a-z0-9_]*$")


def check_token(token: str, what: str = "token") -> str:
    """``token`` if it can stand alone between two dots of a subject, else `InvalidSubject`."""
    if not isinstance(token, str) or not token:
        raise InvalidSubject(f"empty {what}")
    if len(token) > _MAX_TOKEN:
        raise InvalidSubject(f"{what} longer than {_MAX_TOKEN} characters")
    bad = _BAD_TOKEN.search(token)
    if bad:
        raise InvalidSubject(f"{what} {token!r} contains {bad.group()!r}")
    return token


def check_class(xapi_class: str) -> str:
    """An XAPI class as event.from names it: lowercase (``vm``, ``vm_guest_metrics``, ``sr``)."""
    if not isinstance(xapi_class, str) or not _CLASS.match(xapi_class):
        raise InvalidSubject(f"xapi class {xapi_class!r} is not a lowercase XAPI class name")
    return xapi_class


@dataclass(frozen=True, slots=True)
class ObjectAddress:
    """Where one XAPI object lives in the log."""

    pool: str
    xapi_class: str
    uuid: str

    @property
    def subject(self) -> str:
        return object_subject(self.pool, self.xapi_class, self.uuid)


def object_subject(pool: str, xapi_class: str, uuid: str) -> str:
    """``xorca.v1.obj.<pool_uuid>.<xapi_class>.<object_uuid>``; the class is lowercased."""
    pool = check_token(pool, "pool uuid")
    cls = check_class(xapi_class.lower() if isinstance(xapi_class, str) else xapi_class)
    return f"{OBJ}.{pool}.{cls}.{check_token(uuid, 'object uuid')}"


def parse_object_subject(subject: str) -> ObjectAddress:
    parts = _split(subject, OBJ, 3)
    return ObjectAddress(
        check_token(parts[0], "pool uuid"), check_class(parts[1]), check_token(parts[2], "uuid")
    )


def objects_filter(pool: str | None = None, xapi_class: str | None = None) -> str:
    """A consumer's filter subject: every object, a pool's, or one class (of a pool or all)."""
    pool_token = "*" if pool is None else check_token(pool, "pool uuid")
    if xapi_class is None:
        return f"{OBJ}.>" if pool is None else f"{OBJ}.{pool_token}.>"
    return f"{OBJ}.{pool_token}.{check_class(xapi_class.lower())}.*"


def status_subject(registry_id: str) -> str:
    """``xorca.v1.status.<registry_id>``: one subject per registry entry (see status.py)."""
    return f"{STATUS}.{check_token(registry_id, 'registry id')}"


def parse_status_subject(subject: str) -> str:
    """The registry id of a status subject."""
    return check_token(_split(subject, STATUS, 1)[0], "registry id")


def command_subject(pool: str) -> str:
    """``xorca.v1.cmd.<pool_uuid>``: request/reply to the collector that serves the pool."""
    return f"{CMD}.{check_token(pool, 'pool uuid')}"


def parse_command_subject(subject: str) -> str:
    """The pool uuid of a command subject."""
    return check_token(_split(subject, CMD, 1)[0], "pool uuid")


def audit_subject(pool: str) -> str:
    """``xorca.v1.audit.<pool_uuid>``."""
    return f"{AUDIT}.{check_token(pool, 'pool uuid')}"


def parse_audit_subject(subject: str) -> str:
    """The pool uuid of an audit subject."""
    return check_token(_split(subject, AUDIT, 1)[0], "pool uuid")


def deadletter_subject(service: str) -> str:
    """``xorca.v1.deadletter.<service>``: messages a service could not use (core NATS, not kept:
    the message itself stays in its stream, at the sequence the dead letter names)."""
    return f"{DEADLETTER}.{check_token(service, 'service')}"


def _split(subject: str, prefix: str, count: int) -> list[str]:
    if not isinstance(subject, str) or not subject.startswith(prefix + "."):
        raise InvalidSubject(f"{subject!r} is not under {prefix}.")
    parts = subject[len(prefix) + 1 :].split(".")
    if len(parts) != count:
        raise InvalidSubject(f"{subject!r}: expected {count} token(s) after {prefix}")
    return parts
