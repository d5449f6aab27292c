"""What a pool has already lived through: messages (alarms and notices) and a few finished tasks.

Messages live outside the database in xapi, so they are records handed to ``db.add_message``; the
activity mode makes new ones with the same functions. Alarm bodies have the shape xapi's perfmon
writes and Xen Orchestra parses (``value: <number>\\nconfig:\\n<variable>…``).
"""

from __future__ import annotations

import random

from xorca.xapi.datamodel import datamodel
from xorca.xapi.values import DateTime
from xorca.xapi_sim.content import names
from xorca.xapi_sim.content.rowbatch import Batch, Ids
from xorca.xapi_sim.content.site import Site
from xorca.xapi_sim.state.db import Database, Record

#: message classes by the table their object lives in
CLS_TABLE = {"VM": "VM", "Host": "host", "SR": "SR", "Pool": "pool"}


def alarm_body(source: str, value: float, level: float) -> str:
    return (
        f'value: {value:.6f}\nconfig:\n<variable>\n\n\t<name value="{source}"/>\n\n'
        f'\t<alarm_trigger_level value="{level:g}"/>\n\n\t<alarm_trigger_period value="60"/>\n\n'
        '\t<alarm_auto_inhibit_period value="3600"/>\n\n</variable>\n'
    )


def message_record(
    uuid: str, name: str, priority: int, cls: str, obj_uuid: str, when: float, body: str
) -> Record:
    return (
        datamodel()
        .cls("message")
        .new_record(
            uuid=uuid,
            name=name,
            priority=priority,
            cls=cls,
            obj_uuid=obj_uuid,
            timestamp=DateTime.from_timestamp(when),
            body=body,
        )
    )


def random_message(
    db: Database, ids: Ids, rng: random.Random, when: float, targets: dict[str, list[str]]
) -> tuple[str, Record] | None:
    """An alarm (two in three) or a notice about a random object of ``targets`` (class -> refs);
    None when the object picked no longer exists (the lists may be older than the database).
    """
    if rng.random() < 2 / 3:
        source, cls, level = rng.choice(names.ALARMS)
        obj = _pick(db, rng, cls, targets)
        if obj is None:
            return None
        value = level * rng.uniform(1.01, 1.2) if level < 1 else level * rng.uniform(0.2, 0.9)
        record = message_record(
            ids.uuid(), "ALARM", 3, cls, str(obj["uuid"]), when, alarm_body(source, value, level)
        )
        return ids.ref(), record
    name, priority, cls, template = rng.choice(names.EVENTS)
    obj = _pick(db, rng, cls, targets)
    host = _pick(db, rng, "Host", targets)
    if obj is None or host is None:
        return None
    body = template.format(name=obj.get("name_label", ""), host=host["name_label"])
    return ids.ref(), message_record(ids.uuid(), name, priority, cls, str(obj["uuid"]), when, body)


def _pick(
    db: Database, rng: random.Random, cls: str, targets: dict[str, list[str]]
) -> Record | None:
    refs = targets.get(cls)
    if not refs:
        return None
    ref = rng.choice(refs)
    return db.get(CLS_TABLE[cls], ref) if db.exists(CLS_TABLE[cls], ref) else None


def targets_of(db: Database, pool_ref: str) -> dict[str, list[str]]:
    """What messages may be about: guest VMs, hosts, shared SRs and the pool."""
    vms = [
        ref
        for ref, r in db.records("VM")
        if not (r["is_a_template"] or r["is_control_domain"] or r["is_a_snapshot"])
    ]
    srs = [ref for ref, r in db.records("SR") if r["shared"] and r["content_type"] != "iso"]
    return {"VM": vms, "Host": db.refs("host"), "SR": srs, "Pool": [pool_ref]}


def messages(
    db: Database, ids: Ids, rng: random.Random, pool_ref: str, now: float
) -> list[tuple[str, Record]]:
    """A week of history, oldest first: about two messages per host and one per 25 VMs, up to 60."""
    targets = targets_of(db, pool_ref)
    count = min(60, 6 + 2 * len(targets["Host"]) + len(targets["VM"]) // 25)
    times = sorted(now - rng.uniform(0, 7 * 86400) for _ in range(count))
    out = [random_message(db, ids, rng, when, targets) for when in times]
    return [m for m in out if m is not None]


def add_tasks(batch: Batch, ids: Ids, rng: random.Random, site: Site) -> None:
    """A few tasks other clients left behind, finished, as xapi keeps them until collected."""
    master = site.hosts[0].ref
    for label, status, result, error in (
        ("Async.VM.snapshot", "success", f"<value>{ids.ref()}</value>", []),
        ("Async.VM.start", "success", "<value></value>", []),
        (
            "Async.VM.clean_shutdown",
            "failure",
            "",
            ["VM_BAD_POWER_STATE", ids.ref(), "running", "halted"],
        ),
    ):
        created = site.now - rng.uniform(600, 7200)
        batch.add(
            "task",
            ids.ref(),
            uuid=ids.uuid(),
            name_label=label,
            status=status,
            progress=1.0,
            created=DateTime.from_timestamp(created),
            finished=DateTime.from_timestamp(created + rng.uniform(1, 30)),
            resident_on=master,
            type="<none/>",
            result=result,
            error_info=list(error),
            backtrace="()",
        )
