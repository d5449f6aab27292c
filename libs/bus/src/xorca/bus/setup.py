"""Idempotent creation of xorca's streams and buckets: run it at every start, from any service.

`ensure_streams` creates what is missing and updates what differs from the configuration it is
given, and touches nothing else: running it twice changes nothing, and two services running it at
once converge (a create that loses the race becomes an update). Only the settings xorca chooses are
compared; fields the server fills in by itself are left alone.

- ``XORCA_OBJECTS``: subjects ``xorca.v1.obj.>`` and ``xorca.v1.status.>``; file storage; limits
  retention with no age or size limit but ``history`` messages per subject (the newest state of
  every object and pool is always there, so the stream replays from its start); a duplicate
  window for the ``Nats-Msg-Id`` chain; rollup headers and per-message TTL for tombstones; direct
  get, so a publisher learns the last id of a subject in one round trip.
- ``XORCA_AUDIT``: subjects ``xorca.v1.audit.>``; file storage; kept ``audit_max_age``; deletes
  and purges denied.
- KV ``XORCA_POOLS`` (history 5: an entry's previous versions can be read back),
  ``XORCA_LEASES`` and ``XORCA_TOKENS`` (history 1), laid out exactly as nats clients create KV
  buckets, so every client library can bind to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from xorca.contracts.subjects import (
    AUDIT,
    AUDIT_STREAM,
    LEASES_BUCKET,
    OBJ,
    OBJECTS_STREAM,
    POOLS_BUCKET,
    STATUS,
    TOKENS_BUCKET,
)

__all__ = [
    "DEFAULT_AUDIT_MAX_AGE",
    "DEFAULT_DUPLICATE_WINDOW",
    "DEFAULT_HISTORY",
    "DEFAULT_TOMBSTONE_TTL",
    "SetupReport",
    "StreamAction",
    "audit_config",
    "ensure_bucket",
    "ensure_stream",
    "ensure_streams",
    "kv_config",
    "leases_bucket_config",
    "objects_config",
    "pools_bucket_config",
    "tokens_bucket_config",
]

DEFAULT_HISTORY = 3
DEFAULT_DUPLICATE_WINDOW = 120.0
DEFAULT_TOMBSTONE_TTL = 7 * 24 * 3600.0
DEFAULT_AUDIT_MAX_AGE = 400 * 24 * 3600.0
POOLS_HISTORY = 5

StreamAction = Literal["created", "updated", "unchanged"]

#: JetStream's JSStreamNameExistErr: a stream of that name exists with another configuration
_STREAM_NAME_IN_USE = 10058

#: the StreamConfig fields xorca sets, and so compares with what the server has
_COMPARED = (
    "subjects",
    "retention",
    "storage",
    "num_replicas",
    "max_msgs_per_subject",
    "max_age",
    "duplicate_window",
    "discard",
    "allow_rollup_hdrs",
    "allow_msg_ttl",
    "allow_direct",
    "deny_delete",
    "deny_purge",
    "description",
)


@dataclass
class SetupReport:
    """What `ensure_streams` did to each stream (KV buckets as ``KV_<bucket>``)."""

    actions: dict[str, StreamAction] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(action != "unchanged" for action in self.actions.values())


def objects_config(
    *,
    replicas: int = 1,
    history: int = DEFAULT_HISTORY,
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW,
) -> StreamConfig:
    return StreamConfig(
        name=OBJECTS_STREAM,
        description="xorca: every XAPI object's latest records, and every pool's status",
        subjects=[f"{OBJ}.>", f"{STATUS}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_msgs_per_subject=history,
        max_age=0,
        duplicate_window=duplicate_window,
        discard=DiscardPolicy.OLD,
        allow_rollup_hdrs=True,
        allow_msg_ttl=True,
        allow_direct=True,
        deny_delete=False,
        deny_purge=False,
    )


def audit_config(
    *,
    replicas: int = 1,
    max_age: float = DEFAULT_AUDIT_MAX_AGE,
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW,
) -> StreamConfig:
    return StreamConfig(
        name=AUDIT_STREAM,
        description="xorca: every command sent to a pool, with its actor and outcome",
        subjects=[f"{AUDIT}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_msgs_per_subject=-1,
        max_age=max_age,
        duplicate_window=duplicate_window,
        discard=DiscardPolicy.OLD,
        allow_rollup_hdrs=False,
        allow_msg_ttl=False,
        allow_direct=False,
        deny_delete=True,
        deny_purge=True,
    )


def kv_config(bucket: str, *, history: int, replicas: int = 1, description: str) -> StreamConfig:
    """A KV bucket's stream, as ``js.create_key_value`` lays it out (nats-py 2.16)."""
    return StreamConfig(
        name=f"KV_{bucket}",
        description=description,
        subjects=[f"$KV.{bucket}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_msgs_per_subject=history,
        max_age=0,
        duplicate_window=DEFAULT_DUPLICATE_WINDOW,
        discard=DiscardPolicy.NEW,
        allow_rollup_hdrs=True,
        allow_msg_ttl=True,
        allow_direct=True,
        deny_delete=True,
        deny_purge=False,
        max_consumers=-1,
        max_msgs=-1,
        max_bytes=-1,
        max_msg_size=-1,
    )


def pools_bucket_config(replicas: int = 1) -> StreamConfig:
    return kv_config(
        POOLS_BUCKET,
        history=POOLS_HISTORY,
        replicas=replicas,
        description="xorca: the pools to manage (passwords encrypted)",
    )


def leases_bucket_config(replicas: int = 1) -> StreamConfig:
    return kv_config(
        LEASES_BUCKET,
        history=1,
        replicas=replicas,
        description="xorca: which collector replica serves which pool",
    )


def tokens_bucket_config(replicas: int = 1) -> StreamConfig:
    return kv_config(
        TOKENS_BUCKET,
        history=1,
        replicas=replicas,
        description="xorca: api tokens (their SHA-256 only)",
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> StreamAction:
    """Create the stream, or update it where it differs from ``config``."""
    assert config.name is not None
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
        except BadRequestError as e:
            if e.err_code != _STREAM_NAME_IN_USE:
                raise
            # created meanwhile by another service, with other settings: update it below
            info = await js.stream_info(config.name)
        else:
            return "created"
    if not _differs(info.config, config):
        return "unchanged"
    await js.update_stream(config)
    return "updated"


async def ensure_bucket(js: JetStreamContext, config: StreamConfig) -> StreamAction:
    """`ensure_stream` for a KV bucket's stream (kept apart for readability at call sites)."""
    return await ensure_stream(js, config)


async def ensure_streams(
    js: JetStreamContext,
    *,
    replicas: int = 1,
    history: int = DEFAULT_HISTORY,
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW,
    audit_max_age: float = DEFAULT_AUDIT_MAX_AGE,
) -> SetupReport:
    """Create or update XORCA_OBJECTS, XORCA_AUDIT and the POOLS, LEASES and TOKENS buckets."""
    report = SetupReport()
    for config in (
        objects_config(replicas=replicas, history=history, duplicate_window=duplicate_window),
        audit_config(replicas=replicas, max_age=audit_max_age, duplicate_window=duplicate_window),
        pools_bucket_config(replicas),
        leases_bucket_config(replicas),
        tokens_bucket_config(replicas),
    ):
        assert config.name is not None
        report.actions[config.name] = await ensure_stream(js, config)
    return report


def _differs(current: StreamConfig, wanted: StreamConfig) -> list[str]:
    """The names of the compared fields whose values differ."""
    return [
        name
        for name in _COMPARED
        if _normal(getattr(current, name)) != _normal(getattr(wanted, name))
    ]


def _normal(value: object) -> object:
    """One spelling per value: enums by value, lists sorted, unset/zero/false as None (the server
    and nats-py disagree on which of them they send for "not set")."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list):
        return sorted(value)
    return value or None
