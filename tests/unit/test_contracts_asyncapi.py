"""The AsyncAPI document: committed as generated, internally consistent, examples that decode."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from xorca.contracts.asyncapi import EXAMPLES, document, render
from xorca.contracts.audit import CommandAudited
from xorca.contracts.commands import ALLOWED_METHODS, parse_command, parse_reply, validate
from xorca.contracts.deltas import DeltaHeaders, decode_delta
from xorca.contracts.objects import ObjectChanged, ObjectHeaders, decode_object
from xorca.contracts.status import PoolStatusChanged

ROOT = Path(__file__).resolve().parents[2]


def test_committed_document_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "asyncapi.json").read_text()
    assert committed == render(), (
        "docs/asyncapi.json is stale: python -m xorca.contracts.asyncapi > docs/asyncapi.json"
    )


def test_generation_is_deterministic() -> None:
    assert render() == render()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_every_ref_resolves() -> None:
    doc = document()
    refs = _refs(doc)
    assert len(refs) > 20
    for ref in refs:
        _resolve(doc, ref)


def test_channels_operations_and_messages_fit_together() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    for name, channel in doc["channels"].items():
        address = channel["address"]
        placeholders = set(re.findall(r"{(\w+)}", address or ""))
        assert placeholders == set(channel.get("parameters", {})), name
        assert channel["messages"], name
    for name, operation in doc["operations"].items():
        assert operation["action"] in ("send", "receive")
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), name
        if "reply" in operation:
            reply_ref = operation["reply"]["channel"]["$ref"]
            for message in operation["reply"]["messages"]:
                assert message["$ref"].startswith(reply_ref + "/messages/"), name
    for message in doc["components"]["messages"].values():
        assert message["contentType"] == "application/json"
        assert message["examples"]


def test_only_commands_are_closed_to_new_fields() -> None:
    schemas = document()["components"]["schemas"]
    assert schemas["Command"]["additionalProperties"] is False
    for name in ("PoolStatusChanged", "CommandAudited", "StoredPoolEntry", "CommandAccepted"):
        assert schemas[name].get("additionalProperties", True) is not False, name
    assert "VM.start" in schemas["Command"]["properties"]["method"]["enum"]


def test_examples_are_valid_messages() -> None:
    objects = EXAMPLES["ObjectChanged"]
    ObjectHeaders.model_validate(objects["headers"])
    change = decode_object(
        "xorca.v1.obj.{}.vm.{}".format(
            objects["headers"]["Xorca-Pool"], objects["payload"]["uuid"]
        ),
        objects["headers"],
        orjson.dumps(objects["payload"]),
    )
    assert isinstance(change, ObjectChanged)
    PoolStatusChanged.model_validate(EXAMPLES["PoolStatusChanged"]["payload"])
    command = parse_command(orjson.dumps(EXAMPLES["Command"]["payload"]))
    assert validate(command)
    for reply in ("CommandAccepted", "CommandFailed"):
        parse_reply(orjson.dumps(EXAMPLES[reply]["payload"]))
    CommandAudited.model_validate(EXAMPLES["CommandAudited"]["payload"])
    delta = EXAMPLES["ObjectProjected"]
    DeltaHeaders.model_validate(delta["headers"])
    decoded = decode_delta("xorca.v1.delta.vm", orjson.dumps(delta["payload"]))
    assert decoded.rev == int(delta["headers"]["Xorca-Rev"])


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_is_used(name: str) -> None:
    assert name in document()["components"]["messages"]


def test_the_guide_lists_every_allowed_method() -> None:
    guide = (ROOT / "docs" / "nats.md").read_text()
    missing = [m for m in ALLOWED_METHODS if f"`{m}`" not in guide]
    assert not missing, f"docs/nats.md does not list {missing}"
