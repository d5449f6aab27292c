"""Object deltas: what the projection committed to the state store, as it happened.

On the wire (core NATS, not stored: the state store is the record, these are its live feed)::

    subject  xorca.v1.delta.<type>                 one subject per client object type
    headers  Xorca-Op: put | patch | del
             Xorca-Rev: <revision>                 the object's new revision (its row's ``rev``)
             Xorca-Commit: <revision>              the store holds every change up to this one
                                                   once this delta is published
             Xorca-Chain: <epoch>:<n>              n counts the deltas one projection process
                                                   published (epoch: random, per start)
             Xorca-Complete: <revision>            on the last delta of each revision (deltas go
                                                   out in revision order): with it, a subscriber
                                                   has every change up to that revision (the
                                                   commit's, on a commit's last delta)
    body     {"op", "type", "id", "pool"?, "rev", "data" (put) | "patch" (patch)}

- ``put``: the whole object (``data``), new or replaced;
- ``patch``: a JSON merge patch (RFC 7386, merge_patch.py) against the previous version, sent when
  it is smaller than the object;
- ``del``: the object is gone (its tombstone row has this ``rev``).

A consumer that must miss nothing (the api's SSE streams) follows ``Xorca-Chain``: a new epoch or
a skipped ``n`` means deltas were lost (the projection restarted, or this subscriber fell behind),
and the missing changes are read from the store: every row with ``rev`` greater than the last
revision the consumer saw in full. ``Xorca-Commit`` is how a consumer that has just read the store
at revision R drops the deltas the store already covered (``commit <= R``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, ValidationError

from xorca.contracts.base import Message, OutgoingMessage
from xorca.contracts.errors import InvalidSubject, MalformedMessage
from xorca.contracts.subjects import PREFIX

__all__ = [
    "CHAIN_HEADER",
    "COMMIT_HEADER",
    "COMPLETE_HEADER",
    "DELTA",
    "OBJECT_TYPES",
    "DeltaHeaders",
    "DeltaOp",
    "ObjectProjected",
    "collection_type",
    "decode_delta",
    "delta_subject",
    "encode_delta",
    "parse_delta_subject",
]

DELTA = f"{PREFIX}.delta"

OP_HEADER = "Xorca-Op"
REV_HEADER = "Xorca-Rev"
COMMIT_HEADER = "Xorca-Commit"
CHAIN_HEADER = "Xorca-Chain"
COMPLETE_HEADER = "Xorca-Complete"

#: every client object type, and the REST collection that lists it (docs/objects.md)
OBJECT_TYPES: dict[str, str] = {
    "pool": "pools",
    "pool-status": "pool-statuses",
    "host": "hosts",
    "vm": "vms",
    "vm-template": "vm-templates",
    "vm-snapshot": "vm-snapshots",
    "vm-controller": "vm-controllers",
    "sr": "srs",
    "vdi": "vdis",
    "vdi-snapshot": "vdi-snapshots",
    "vbd": "vbds",
    "vif": "vifs",
    "network": "networks",
    "pif": "pifs",
    "pbd": "pbds",
    "task": "tasks",
    "message": "messages",
}
_COLLECTIONS = {collection: type_ for type_, collection in OBJECT_TYPES.items()}

DeltaOp = Literal["put", "patch", "del"]


class ObjectProjected(Message):
    """One object change the projection committed."""

    op: DeltaOp
    type: Annotated[str, Field(description="client object type, e.g. vm, host, pool-status")]
    id: Annotated[str, Field(description="the object's id: its XAPI uuid (registry id for a "
                             "pool-status)")]  # fmt: skip
    pool: Annotated[str | None, Field(description="uuid of the object's pool")] = None
    rev: Annotated[int, Field(ge=1, description="the object's revision after the change")]
    data: Annotated[dict[str, Any] | None, Field(description="put: the whole object")] = None
    patch: Annotated[dict[str, Any] | None, Field(description="patch: RFC 7386 merge patch")] = None


class DeltaHeaders(Message):
    """The headers of a delta (described for the AsyncAPI document)."""

    op: Annotated[DeltaOp, Field(alias=OP_HEADER)]
    rev: Annotated[str, Field(alias=REV_HEADER, description="the object's new revision")]
    commit: Annotated[
        str, Field(alias=COMMIT_HEADER, description="the store holds every change up to this")
    ]
    chain: Annotated[
        str,
        Field(
            alias=CHAIN_HEADER,
            pattern=r"^[0-9a-f]+:[0-9]+$",
            description="<epoch>:<n>: a new epoch or a skipped n means deltas were missed",
        ),
    ]
    complete: Annotated[
        str | None,
        Field(
            alias=COMPLETE_HEADER,
            description="on the last delta of a revision: every change up to this is out",
        ),
    ] = None


def collection_type(collection: str) -> str | None:
    """The object type a REST collection lists (``vms`` → ``vm``), or None."""
    return _COLLECTIONS.get(collection)


def delta_subject(type_: str) -> str:
    if type_ not in OBJECT_TYPES:
        raise InvalidSubject(f"{type_!r} is not a client object type")
    return f"{DELTA}.{type_}"


def parse_delta_subject(subject: str) -> str:
    prefix = DELTA + "."
    type_ = subject[len(prefix) :] if subject.startswith(prefix) else ""
    if type_ not in OBJECT_TYPES:
        raise InvalidSubject(f"{subject!r} is not a delta subject")
    return type_


def encode_delta(
    delta: ObjectProjected, *, commit: int, chain: str, complete: int | None = None
) -> OutgoingMessage:
    """The message for ``delta``; ``commit``, ``chain`` and ``complete`` as the module docstring
    says."""
    body: dict[str, Any] = {"op": delta.op, "type": delta.type, "id": delta.id}
    if delta.pool is not None:
        body["pool"] = delta.pool
    body["rev"] = delta.rev
    if delta.op == "put":
        body["data"] = delta.data or {}
    elif delta.op == "patch":
        body["patch"] = delta.patch or {}
    headers = {
        OP_HEADER: delta.op,
        REV_HEADER: str(delta.rev),
        COMMIT_HEADER: str(commit),
        CHAIN_HEADER: chain,
    }
    if complete is not None:
        headers[COMPLETE_HEADER] = str(complete)
    return OutgoingMessage(delta_subject(delta.type), headers, orjson.dumps(body))


def decode_delta(subject: str, body: bytes) -> ObjectProjected:
    """The delta a message carries; `MalformedMessage` if it breaks the rules."""
    try:
        type_ = parse_delta_subject(subject)
        delta = ObjectProjected.model_validate_json(body)
    except (InvalidSubject, ValidationError) as e:
        raise MalformedMessage(f"{subject}: {e}") from e
    if delta.type != type_:
        raise MalformedMessage(f"{subject}: body is a {delta.type!r}, not a {type_!r}")
    return delta
