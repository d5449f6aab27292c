"""The AsyncAPI 3.0 document of the contract, built from the message models' JSON schemas.

``python -m xorca.contracts.asyncapi > docs/asyncapi.json`` writes it; a test checks that the
committed file is what this module generates, so the document can never drift from the code.
Operations are described from xorca's side: xorca *sends* object changes, statuses and audit
records, and *receives* commands (answering on the requester's inbox) and registry entries.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel

from xorca.contracts.audit import CommandAudited
from xorca.contracts.base import ErrorBody
from xorca.contracts.commands import (
    ALLOWED_METHODS,
    Command,
    CommandAccepted,
    CommandFailed,
    allowed_methods,
)
from xorca.contracts.deltas import DELTA, DeltaHeaders, ObjectProjected
from xorca.contracts.examples import EXAMPLES
from xorca.contracts.objects import ObjectHeaders
from xorca.contracts.registry import StoredPoolEntry
from xorca.contracts.status import PoolStatusChanged
from xorca.contracts.subjects import (
    AUDIT,
    AUDIT_STREAM,
    CMD,
    DEADLETTER,
    OBJ,
    OBJECTS_STREAM,
    POOLS_BUCKET,
    STATUS,
)

__all__ = ["EXAMPLES", "document", "render"]

REF = "#/components/schemas/{model}"


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    """Put ``model``'s JSON schema (and the ones it uses) in ``schemas``; return a $ref to it."""
    schema = model.model_json_schema(ref_template=REF, by_alias=True)
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _param(description: str) -> dict[str, str]:
    return {"description": description}


def _message(
    name: str, title: str, summary: str, payload: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    example = EXAMPLES[name]
    return {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "payload": payload,
        **extra,
        "examples": [{"name": "example", **example}],
    }


def _ref(path: str) -> dict[str, str]:
    return {"$ref": path}


def document() -> dict[str, Any]:
    """The whole AsyncAPI document, as a JSON-ready dict (deterministic: same code, same bytes)."""
    schemas: dict[str, Any] = {}
    headers_ref = _schema(ObjectHeaders, schemas)
    status_ref = _schema(PoolStatusChanged, schemas)
    command_ref = _schema(Command, schemas)
    accepted_ref = _schema(CommandAccepted, schemas)
    failed_ref = _schema(CommandFailed, schemas)
    audited_ref = _schema(CommandAudited, schemas)
    entry_ref = _schema(StoredPoolEntry, schemas)
    delta_ref = _schema(ObjectProjected, schemas)
    delta_headers_ref = _schema(DeltaHeaders, schemas)
    _schema(ErrorBody, schemas)
    schemas["Command"]["properties"]["method"]["enum"] = list(ALLOWED_METHODS)
    schemas["DeadLetterHeaders"] = {
        "type": "object",
        "title": "DeadLetterHeaders",
        "properties": {
            "Xorca-Stream-Seq": {"type": "string", "description": "sequence in XORCA_OBJECTS"},
            "Xorca-Subject": {"type": "string", "description": "the message's subject"},
            "Xorca-Reason": {"type": "string", "enum": ["malformed", "untranslatable", "unknown"]},
            "Xorca-Error": {"type": "string", "description": "why, at most 1,000 characters"},
        },
        "required": ["Xorca-Stream-Seq", "Xorca-Subject", "Xorca-Reason", "Xorca-Error"],
    }
    # a header is absent or a string, never null
    for prop in schemas["ObjectHeaders"]["properties"].values():
        if "anyOf" in prop:
            prop.update(prop.pop("anyOf")[0])
            prop.pop("default", None)
    schemas["XapiRecord"] = {
        "type": "object",
        "title": "XapiRecord",
        "description": "An XAPI record exactly as XAPI's get_record/event.from gives it: every "
        "field of the class (see XAPI's datamodel). For del: the last known record, or {}.",
        "additionalProperties": True,
    }
    signatures = {name: m.signature() for name, m in sorted(allowed_methods().items())}

    messages = {
        "ObjectChanged": _message(
            "ObjectChanged",
            "Object changed",
            "One XAPI object after a change (add, mod) or its removal (del).",
            _ref(REF.format(model="XapiRecord")),
            headers=headers_ref,
        ),
        "PoolStatusChanged": _message(
            "PoolStatusChanged",
            "Pool status changed",
            "How current the objects of one managed pool are.",
            status_ref,
        ),
        "Command": _message(
            "Command",
            "Command",
            "Run one allowed XAPI call on the pool of the subject.",
            command_ref,
            **{"x-xorca-signatures": signatures},
        ),
        "CommandAccepted": _message(
            "CommandAccepted", "Command accepted", "XAPI took the call.", accepted_ref
        ),
        "CommandFailed": _message(
            "CommandFailed",
            "Command failed",
            "Refused by xorca (XORCA_* and XAPI's validation codes) or by XAPI.",
            failed_ref,
        ),
        "CommandAudited": _message(
            "CommandAudited", "Command audited", "A command and its outcome.", audited_ref
        ),
        "ObjectProjected": _message(
            "ObjectProjected",
            "Object projected",
            "A client object the projection committed to the state store: put (whole), patch "
            "(RFC 7386 merge patch against the previous version) or del. See docs/objects.md.",
            delta_ref,
            headers=delta_headers_ref,
        ),
        "DeadLetter": _message(
            "DeadLetter",
            "Dead letter",
            "A log message the projection could not use and skipped; the body is the message's.",
            {"description": "the skipped message's body, as it was"},
            headers=_ref(REF.format(model="DeadLetterHeaders")),
        ),
        "PoolRegistryEntry": _message(
            "PoolRegistryEntry",
            "Pool registry entry",
            "A pool to manage; the password is encrypted with XORCA_SECRET_KEY.",
            entry_ref,
        ),
    }
    channels = {
        "objects": {
            "address": f"{OBJ}.{{pool_uuid}}.{{xapi_class}}.{{object_uuid}}",
            "title": f"Object changes (stream {OBJECTS_STREAM})",
            "description": "One subject per XAPI object. Bounded history per subject; a del rolls "
            "the subject up and expires after the tombstone horizon. Nats-Msg-Id chains the "
            "messages of a subject so that republishes are dropped as duplicates.",
            "parameters": {
                "pool_uuid": _param("uuid of the XAPI pool"),
                "xapi_class": _param("XAPI class, lowercase as in event.from (vm, vm_metrics…)"),
                "object_uuid": _param("uuid of the object"),
            },
            "messages": {"objectChanged": _ref("#/components/messages/ObjectChanged")},
        },
        "poolStatus": {
            "address": f"{STATUS}.{{registry_id}}",
            "title": f"Pool statuses (stream {OBJECTS_STREAM}, in order with the objects)",
            "parameters": {"registry_id": _param("id of the pool's registry entry")},
            "messages": {"poolStatusChanged": _ref("#/components/messages/PoolStatusChanged")},
        },
        "commands": {
            "address": f"{CMD}.{{pool_uuid}}",
            "title": "Commands (core NATS request/reply)",
            "parameters": {"pool_uuid": _param("uuid of the XAPI pool")},
            "messages": {"command": _ref("#/components/messages/Command")},
        },
        "commandReplies": {
            "address": None,
            "title": "Command replies, on the requester's inbox",
            "messages": {
                "commandAccepted": _ref("#/components/messages/CommandAccepted"),
                "commandFailed": _ref("#/components/messages/CommandFailed"),
            },
        },
        "audit": {
            "address": f"{AUDIT}.{{pool_uuid}}",
            "title": f"Audit of commands (stream {AUDIT_STREAM})",
            "parameters": {"pool_uuid": _param("uuid of the XAPI pool")},
            "messages": {"commandAudited": _ref("#/components/messages/CommandAudited")},
        },
        "deltas": {
            "address": f"{DELTA}.{{type}}",
            "title": "Object deltas (core NATS, not stored: the state store is the record)",
            "description": "Every object change the projection committed, after the commit. "
            "Xorca-Chain tells a subscriber when it missed some (then read the store).",
            "parameters": {"type": _param("client object type: vm, host, pool-status…")},
            "messages": {"objectProjected": _ref("#/components/messages/ObjectProjected")},
        },
        "deadLetters": {
            "address": f"{DEADLETTER}.{{service}}",
            "title": "Dead letters (core NATS): messages a service skipped",
            "parameters": {"service": _param("the service that skipped it: projection")},
            "messages": {"deadLetter": _ref("#/components/messages/DeadLetter")},
        },
        "poolRegistry": {
            "address": f"$KV.{POOLS_BUCKET}.{{registry_id}}",
            "title": f"Pool registry (KV bucket {POOLS_BUCKET}, key = registry id)",
            "parameters": {"registry_id": _param("id of the registry entry")},
            "messages": {"poolRegistryEntry": _ref("#/components/messages/PoolRegistryEntry")},
        },
    }
    operations = {
        "publishObjectChanged": {
            "action": "send",
            "channel": _ref("#/channels/objects"),
            "summary": "A collector publishes every change of every object of its pools.",
            "messages": [_ref("#/channels/objects/messages/objectChanged")],
        },
        "publishPoolStatus": {
            "action": "send",
            "channel": _ref("#/channels/poolStatus"),
            "summary": "A collector publishes each change of state of a pool it serves.",
            "messages": [_ref("#/channels/poolStatus/messages/poolStatusChanged")],
        },
        "serveCommand": {
            "action": "receive",
            "channel": _ref("#/channels/commands"),
            "summary": "The collector that holds the pool's lease runs the command.",
            "messages": [_ref("#/channels/commands/messages/command")],
            "reply": {
                "channel": _ref("#/channels/commandReplies"),
                "messages": [
                    _ref("#/channels/commandReplies/messages/commandAccepted"),
                    _ref("#/channels/commandReplies/messages/commandFailed"),
                ],
            },
        },
        "publishAudit": {
            "action": "send",
            "channel": _ref("#/channels/audit"),
            "summary": "Every command a collector decoded, with its actor and outcome.",
            "messages": [_ref("#/channels/audit/messages/commandAudited")],
        },
        "publishDelta": {
            "action": "send",
            "channel": _ref("#/channels/deltas"),
            "summary": "The projection publishes every object change it committed.",
            "messages": [_ref("#/channels/deltas/messages/objectProjected")],
        },
        "publishDeadLetter": {
            "action": "send",
            "channel": _ref("#/channels/deadLetters"),
            "summary": "The projection reports each log message it could not use.",
            "messages": [_ref("#/channels/deadLetters/messages/deadLetter")],
        },
        "watchRegistry": {
            "action": "receive",
            "channel": _ref("#/channels/poolRegistry"),
            "summary": "Collectors watch the registry and serve the enabled pools.",
            "messages": [_ref("#/channels/poolRegistry/messages/poolRegistryEntry")],
        },
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "xorca NATS contract",
            "version": "1.0.0",
            "description": "Subjects, headers and bodies that xorca's services exchange over "
            "NATS JetStream, and that other services may use. Guide: docs/nats.md. Subjects are "
            "versioned (xorca.v1.*): within v1 fields are only added, never removed or changed.",
            "license": {"name": "AGPL-3.0-or-later"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "The demo's server; set XORCA_NATS_URL elsewhere.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": messages,
        },
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
