"""The setup step against a real server: idempotent, converging, and updating what changed."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from xorca.bus.setup import ensure_streams

# the real NATS server fixtures (nats_server, nc, js)

STREAMS = ("XORCA_OBJECTS", "XORCA_AUDIT", "KV_XORCA_POOLS", "KV_XORCA_LEASES", "KV_XORCA_TOKENS")


async def configs(js: JetStreamContext) -> dict[str, StreamConfig]:
    return {name: (await js.stream_info(name)).config for name in STREAMS}


async def test_first_run_creates_second_run_changes_nothing(js: JetStreamContext) -> None:
    first = await ensure_streams(js)
    assert first.actions == dict.fromkeys(STREAMS, "created")
    before = await configs(js)
    second = await ensure_streams(js)
    assert second.actions == dict.fromkeys(STREAMS, "unchanged")
    assert not second.changed
    assert await configs(js) == before


async def test_layout_of_the_streams(js: JetStreamContext) -> None:
    await ensure_streams(js, history=4, duplicate_window=90)
    objects = (await js.stream_info("XORCA_OBJECTS")).config
    assert objects.subjects == ["xorca.v1.obj.>", "xorca.v1.status.>"]
    assert objects.max_msgs_per_subject == 4
    assert objects.duplicate_window == 90
    assert objects.storage == StorageType.FILE
    assert objects.allow_rollup_hdrs
    assert objects.allow_msg_ttl
    assert objects.allow_direct
    audit = (await js.stream_info("XORCA_AUDIT")).config
    assert audit.subjects == ["xorca.v1.audit.>"]
    assert audit.deny_delete
    assert audit.deny_purge
    # the buckets are real KV buckets for any client library
    pools = await js.key_value("XORCA_POOLS")
    assert (await pools.status()).history == 5
    leases = await js.key_value("XORCA_LEASES")
    assert (await leases.status()).history == 1
    tokens = await js.key_value("XORCA_TOKENS")
    assert (await tokens.status()).history == 1


async def test_a_changed_setting_updates_only_its_stream(js: JetStreamContext) -> None:
    await ensure_streams(js)
    report = await ensure_streams(js, history=7, audit_max_age=3600)
    assert report.actions == {
        "XORCA_OBJECTS": "updated",
        "XORCA_AUDIT": "updated",
        "KV_XORCA_POOLS": "unchanged",
        "KV_XORCA_LEASES": "unchanged",
        "KV_XORCA_TOKENS": "unchanged",
    }
    assert (await js.stream_info("XORCA_OBJECTS")).config.max_msgs_per_subject == 7
    assert (await js.stream_info("XORCA_AUDIT")).config.max_age == 3600
    assert not (await ensure_streams(js, history=7, audit_max_age=3600)).changed


async def test_a_stream_made_by_hand_is_brought_in_line(js: JetStreamContext) -> None:
    await js.add_stream(name="XORCA_OBJECTS", subjects=["xorca.v1.obj.>"], max_msgs_per_subject=1)
    report = await ensure_streams(js)
    assert report.actions["XORCA_OBJECTS"] == "updated"
    config = (await js.stream_info("XORCA_OBJECTS")).config
    assert config.subjects == ["xorca.v1.obj.>", "xorca.v1.status.>"]
    assert config.max_msgs_per_subject == 3


async def test_services_starting_together_converge(js: JetStreamContext) -> None:
    reports = await asyncio.gather(*(ensure_streams(js) for _ in range(4)))
    for name in STREAMS:
        assert sum(r.actions[name] == "created" for r in reports) >= 1
    assert not (await ensure_streams(js)).changed
