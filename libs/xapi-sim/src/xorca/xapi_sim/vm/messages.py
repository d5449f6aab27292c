"""The message xapi raises after a VM lifecycle operation succeeds (``message_forwarding.ml``
``create_vm_message``; names and priorities from ``api_messages.ml``).

The message is on the VM (cls ``VM``, obj_uuid the VM's uuid) and posted once the operation is
over and the VM unmarked, exactly where xapi posts it: an operation that fails or is cancelled
never gets there and posts nothing, and neither does one whose VM is gone by then (xapi ignores a
failing ``Message.create``). Its body names the VM, and the host, snapshot or new name the
operation involved, as they are at that moment.

Operations that raise no message in xapi: clone, copy, provision, destroy, power_state_reset and
the settings. ``VM_CLONED`` is xapi's for ``VM.csvm`` only, ``VM_MIGRATED`` also for a live
``migrate_send`` inside the pool; the simulator implements neither call, the table has them so the
list is xapi's whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from xorca.xapi_sim.handlers.message import post_message
from xorca.xapi_sim.state.pool import SimPool
from xorca.xapi_sim.state.rows import text

#: ``api_messages.ml``: every VM lifecycle message is priority 5 (informational)
PRIORITY = {
    "VM_STARTED": 5,
    "VM_SHUTDOWN": 5,
    "VM_REBOOTED": 5,
    "VM_MIGRATED": 5,
    "VM_SNAPSHOTTED": 5,
    "VM_SNAPSHOT_REVERTED": 5,
    "VM_CHECKPOINTED": 5,
    "VM_SUSPENDED": 5,
    "VM_RESUMED": 5,
    "VM_PAUSED": 5,
    "VM_UNPAUSED": 5,
    "VM_CLONED": 5,
}


@dataclass(frozen=True)
class Announcement:
    name: str
    #: what follows ``VM '<name label>' (uuid: <uuid>) `` in the body, with the ``{fields}`` the
    #: operation fills in (`body`)
    tail: str


_ON_HOST = "on host: {host} (uuid: {host_uuid})"
_MIGRATED = (
    "migrated from host '{source}' (uuid: {source_uuid}) to host '{host}' (uuid: {host_uuid})"
)

#: operation -> its message, as message_forwarding.ml writes it
ANNOUNCEMENTS = {
    "start": Announcement("VM_STARTED", "started " + _ON_HOST),
    "start_on": Announcement("VM_STARTED", "started " + _ON_HOST),
    "resume": Announcement("VM_RESUMED", "resumed " + _ON_HOST),
    "resume_on": Announcement("VM_RESUMED", "resumed " + _ON_HOST),
    "clean_shutdown": Announcement("VM_SHUTDOWN", "shutdown"),
    "shutdown": Announcement("VM_SHUTDOWN", "shutdown"),
    "hard_shutdown": Announcement("VM_SHUTDOWN", "shutdown forcibly"),
    "clean_reboot": Announcement("VM_REBOOTED", "rebooted cleanly"),
    "hard_reboot": Announcement("VM_REBOOTED", "rebooted forcibly"),
    "suspend": Announcement("VM_SUSPENDED", "suspended"),
    "pause": Announcement("VM_PAUSED", "paused"),
    "unpause": Announcement("VM_UNPAUSED", "unpaused"),
    "pool_migrate": Announcement("VM_MIGRATED", _MIGRATED),
    "migrate_send": Announcement("VM_MIGRATED", _MIGRATED),
    "snapshot": Announcement("VM_SNAPSHOTTED", "snapshotted, snapshot name: {snapshot_name}"),
    "checkpoint": Announcement("VM_CHECKPOINTED", "checkpointed, snapshot name: {snapshot_name}"),
    "revert": Announcement(
        "VM_SNAPSHOT_REVERTED", "reverted to snapshot: {snapshot} (uuid {snapshot_uuid})"
    ),
    "csvm": Announcement("VM_CLONED", "cloned (new uuid: {clone_uuid})"),
}


def body(op: str, vm_name: str, vm_uuid: str, **fields: str) -> str:
    """The body text of ``op``'s message (KeyError for an operation without one)."""
    return f"VM '{vm_name}' (uuid: {vm_uuid}) " + ANNOUNCEMENTS[op].tail.format(**fields)


def announce(
    pool: SimPool,
    op: str,
    vm: str,
    *,
    host: str | None = None,
    source: str | None = None,
    snapshot: str | None = None,
    snapshot_name: str | None = None,
) -> str | None:
    """Post ``op``'s message on ``vm``; the message ref, or None when there is nothing to post
    (no such message, or the VM, host or snapshot named is gone)."""
    db = pool.db
    kind = ANNOUNCEMENTS.get(op)
    if kind is None or not db.exists("VM", vm):
        return None
    fields: dict[str, str] = {}
    for key, cls, ref in (("host", "host", host), ("source", "host", source)):
        if ref is not None:
            if not db.exists(cls, ref):
                return None
            fields[key], fields[f"{key}_uuid"] = _name_and_uuid(pool, cls, ref)
    if snapshot is not None:
        if not db.exists("VM", snapshot):
            return None
        fields["snapshot"], fields["snapshot_uuid"] = _name_and_uuid(pool, "VM", snapshot)
    if snapshot_name is not None:
        fields["snapshot_name"] = snapshot_name
    name, uuid = _name_and_uuid(pool, "VM", vm)
    return post_message(
        pool, kind.name, PRIORITY[kind.name], "VM", uuid, body(op, name, uuid, **fields)
    )


def _name_and_uuid(pool: SimPool, cls: str, ref: str) -> tuple[str, str]:
    rec = pool.db.get(cls, ref)
    return text(rec, "name_label"), text(rec, "uuid")
