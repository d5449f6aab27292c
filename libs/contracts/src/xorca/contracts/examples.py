"""Example messages, one per kind: shown in the AsyncAPI document and checked by its tests.

Each is what a real message of its kind looks like on the wire (``headers`` and ``payload``), with
documentation addresses (192.0.2.0/24) and made-up uuids and refs.
"""

from __future__ import annotations

from typing import Any

from xorca.contracts.codes import CONNECTION_FAILED

__all__ = ["EXAMPLES"]

_POOL = "3a1c5e0e-9c8f-4f8e-b1a4-2b7d6f0c9e11"
_VM = "0f3b8d2a-6c1e-4e57-9d0a-5b2c7e8f1a34"
_ENTRY = "8d6f5b9e-2a41-4c3d-9e7f-1b0a2c3d4e5f"
_AT = "2026-11-26T09:30:00Z"

EXAMPLES: dict[str, dict[str, Any]] = {
    "ObjectProjected": {
        "headers": {
            "Xorca-Op": "patch",
            "Xorca-Rev": "48213",
            "Xorca-Commit": "48220",
            "Xorca-Chain": "9c1e4a7b:5127",
            "Xorca-Complete": "48213",
        },
        "payload": {
            "op": "patch",
            "type": "vm",
            "id": _VM,
            "pool": _POOL,
            "rev": 48213,
            "patch": {"memory": {"actual": 2147483648}, "cpus": {"usage": 0.31}},
        },
    },
    "DeadLetter": {
        "headers": {
            "Xorca-Stream-Seq": "48190",
            "Xorca-Subject": f"xorca.v1.obj.{_POOL}.vm.{_VM}",
            "Xorca-Reason": "malformed",
            "Xorca-Error": "body is not JSON (unexpected character: line 1 column 2 (char 1))",
        },
        "payload": "{not json",
    },
    "ObjectChanged": {
        "headers": {
            "Xorca-Op": "mod",
            "Xorca-Ref": "OpaqueRef:5e2a7c1d-0b9f-4d3e-8a6c-7f1e2d3c4b5a",
            "Xorca-Pool": _POOL,
            "Xorca-Class": "vm",
            "Nats-Msg-Id": "4f0c2b9e8d7a6c5b4a3f2e1d0c9b8a7f",
        },
        "payload": {
            "uuid": _VM,
            "name_label": "web-01",
            "power_state": "Running",
            "resident_on": "OpaqueRef:9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
            "tags": ["prod"],
            "memory_static_max": "4294967296",
        },
    },
    "PoolStatusChanged": {
        "payload": {
            "registry_id": _ENTRY,
            "pool_uuid": _POOL,
            "state": "disconnected",
            "since": _AT,
            "master": "192.0.2.10",
            "last_event_at": "2026-11-26T09:29:58Z",
            "error": {"code": CONNECTION_FAILED, "params": ["event.from", "refused"]},
            "collector": "collector-0",
            "at": _AT,
        }
    },
    "Command": {
        "payload": {
            "method": "VM.start",
            "args": ["OpaqueRef:5e2a7c1d-0b9f-4d3e-8a6c-7f1e2d3c4b5a", False, False],
            "actor": "user:alice",
            "request_id": "req-7f3a",
        }
    },
    "CommandAccepted": {
        "payload": {
            "request_id": "req-7f3a",
            "task": "OpaqueRef:1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
            "task_uuid": "5b8e2c1a-7d4f-4e3a-9c6b-2f1e0d9c8b7a",
        }
    },
    "CommandFailed": {
        "payload": {
            "request_id": "req-7f3a",
            "error": {
                "code": "VM_BAD_POWER_STATE",
                "params": [
                    "OpaqueRef:5e2a7c1d-0b9f-4d3e-8a6c-7f1e2d3c4b5a",
                    "halted",
                    "running",
                ],
            },
        }
    },
    "CommandAudited": {
        "payload": {
            "request_id": "req-7f3a",
            "actor": "user:alice",
            "method": "VM.start",
            "args": ["OpaqueRef:5e2a7c1d-0b9f-4d3e-8a6c-7f1e2d3c4b5a", False, False],
            "pool": _POOL,
            "outcome": "accepted",
            "task": "OpaqueRef:1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
            "collector": "collector-0",
            "at": _AT,
        }
    },
    "PoolRegistryEntry": {
        "payload": {
            "id": _ENTRY,
            "name": "lab",
            "url": "https://192.0.2.10",
            "username": "root",
            "tls": {"mode": "pin", "ca_pem": "", "fingerprints": ["ab" * 32]},
            "enabled": True,
            "password_encrypted": "gAAAAABn…",
        }
    },
}
