"""Publish planning: which messages a batch of changes becomes, given what the log already holds.

The collector's job, per pool, is to make the newest message of every subject in XORCA_OBJECTS
say what the pool holds now. `LogIndex` is its knowledge of the log: for each subject of the pool,
the ``Nats-Msg-Id``, a digest of the operation and body, the ref and sequence of the newest stored
message. It is filled from the stream when a collector starts serving a pool (the last message per
subject) and kept up to date from the acknowledgements of what it publishes.

Planning a change (`LogIndex.plan`) is then pure:

- a change identical (op and body) to the subject's newest message is not published at all: after
  a restart the first load restates every object, and only what differs from the log goes out;
- any other change is chained after the subject's newest id (docs/nats.md, "De-duplication"), so
  that a republish of the same change after a lost acknowledgement, or by a replica that took the
  pool over, is dropped by JetStream as a duplicate;
- the first batch after a start also tombstones (``del``, body ``{}``) every subject whose newest
  message is not a ``del`` but whose object the pool no longer has: it vanished while nobody
  watched.

`LogIndex.replan` decides what to do with a message whose fate is unknown (its acknowledgement
timed out, NATS went away), given the subject's newest message as read back from the stream: it
landed (nothing to do), it did not (send it again, same id), or someone else wrote meanwhile
(chain it after that).

Only one message per subject is in flight at a time (a batch holds each object at most once, and
a batch is acknowledged before the next is planned), which is what makes planning against the
acknowledged state enough.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

import orjson

from xorca.contracts.errors import InvalidSubject
from xorca.contracts.msgid import GENESIS, next_msg_id
from xorca.contracts.objects import (
    CLASS_HEADER,
    MSG_ID_HEADER,
    OP_HEADER,
    POOL_HEADER,
    REF_HEADER,
    ROLLUP_HEADER,
    TTL_HEADER,
)
from xorca.contracts.subjects import check_class, check_token, objects_filter
from xorca.xapi.watcher import Change

__all__ = ["LogIndex", "Planned", "Stored", "Unpublishable", "class_token", "digest_of"]

_CLASS_TOKENS: dict[str, str] = {}


def class_token(cls: str) -> str:
    """A datamodel class as its subject token (``VM_metrics`` → ``vm_metrics``), checked once."""
    token = _CLASS_TOKENS.get(cls)
    if token is None:
        token = _CLASS_TOKENS[cls] = check_class(cls.lower())
    return token


def digest_of(op: str, body: bytes) -> bytes:
    """What "identical" compares: the operation and the exact body bytes."""
    return hashlib.sha256(op.encode() + b"\0" + body).digest()


@dataclass(frozen=True, slots=True)
class Stored:
    """The newest message of one subject, as the log holds it."""

    msg_id: str
    digest: bytes
    op: str
    ref: str
    seq: int = 0

    @classmethod
    def of_message(
        cls, headers: Mapping[str, str] | None, body: bytes | None, seq: int = 0
    ) -> Stored:
        """What a stored message of XORCA_OBJECTS says (read back from the stream)."""
        headers = headers or {}
        op = headers.get(OP_HEADER, "")
        return cls(
            headers.get(MSG_ID_HEADER, GENESIS),
            digest_of(op, body or b""),
            op,
            headers.get(REF_HEADER, ""),
            seq,
        )


@dataclass(frozen=True, slots=True)
class Planned:
    """One message to publish: ``headers`` carry its ``Nats-Msg-Id``, chained after
    ``previous_id``."""

    subject: str
    headers: dict[str, str]
    body: bytes
    op: str
    ref: str
    previous_id: str
    digest: bytes

    @property
    def msg_id(self) -> str:
        return self.headers[MSG_ID_HEADER]

    def stored(self, seq: int) -> Stored:
        return Stored(self.msg_id, self.digest, self.op, self.ref, seq)


class Unpublishable(ValueError):
    """A change that cannot have a subject (no uuid, or one that breaks the subject rules): it is
    counted and logged, never published (docs/nats.md: refuse rather than escape)."""

    def __init__(self, change: Change, reason: str) -> None:
        super().__init__(f"{change.cls} {change.ref}: {reason}")
        self.change = change
        self.reason = reason


class LogIndex:
    """What XORCA_OBJECTS holds last for each subject of one pool, and the planning against it.

    ``forget_tombstones_after``: a subject whose newest message is a ``del`` is forgotten that many
    seconds after the tombstone was recorded (use the stream's duplicate window), so that the
    index of a pool where tasks and messages come and go does not grow for ever. Once forgotten, a
    subject chains from `GENESIS` again, which JetStream cannot mistake for a duplicate any more.
    """

    def __init__(
        self,
        pool: str,
        stored: Mapping[str, Stored] | None = None,
        *,
        tombstone_ttl: float | None = None,
        forget_tombstones_after: float = 120.0,
    ) -> None:
        self.pool = pool
        self.prefix = objects_filter(pool)[:-1]  # "xorca.v1.obj.<pool>."
        self.tombstone_ttl = tombstone_ttl
        self.forget_after = forget_tombstones_after
        self._stored: dict[str, Stored] = dict(stored or {})
        self._tombstones: deque[tuple[float, str]] = deque()

    def __len__(self) -> int:
        return len(self._stored)

    def get(self, subject: str) -> Stored | None:
        return self._stored.get(subject)

    def subjects(self) -> Iterator[str]:
        return iter(self._stored)

    # -------------------------------------------------------------------------------- planning

    def subject_of(self, change: Change) -> str:
        """The subject of ``change``'s object; `Unpublishable` if it cannot have one."""
        uuid = change.record.get("uuid")
        if not isinstance(uuid, str):
            raise Unpublishable(change, "the record has no uuid")
        try:
            return f"{self.prefix}{class_token(change.cls)}.{check_token(uuid, 'object uuid')}"
        except InvalidSubject as e:
            raise Unpublishable(change, str(e)) from e

    def plan(self, change: Change, subject: str | None = None) -> Planned | None:
        """The message for ``change``, or None when the log already says exactly that."""
        subject = subject or self.subject_of(change)
        record = change.record if type(change.record) is dict else dict(change.record)
        body = orjson.dumps(record)
        return self._plan(subject, change.op, change.ref, class_token(change.cls), body)

    def plan_batch(
        self,
        changes: Iterable[Change],
        *,
        first: bool = False,
        refused: Callable[[Unpublishable], None] | None = None,
        unchanged: Callable[[], None] | None = None,
    ) -> Iterator[Planned]:
        """Every message of a batch, lazily (a pool's first load is large: only what is in flight
        is ever encoded). With ``first``, the batch is a full load of the pool (every live object
        as an ``add``): tombstones for the subjects it no longer has come first. Changes that
        cannot be published are skipped and handed to ``refused``; ``unchanged`` is called for
        each change the log already holds."""
        addressed: Iterable[tuple[Change, str | None]] = self._addressed(changes, refused)
        if first:
            addressed = tuple(addressed)
            yield from self.vanished({subject for _, subject in addressed if subject})
        for change, subject in addressed:
            if subject is None:
                continue
            planned = self.plan(change, subject)
            if planned is not None:
                yield planned
            elif unchanged is not None:
                unchanged()

    def _addressed(
        self, changes: Iterable[Change], refused: Callable[[Unpublishable], None] | None
    ) -> Iterator[tuple[Change, str | None]]:
        for change in changes:
            try:
                yield change, self.subject_of(change)
            except Unpublishable as e:
                if refused is not None:
                    refused(e)
                yield change, None

    def vanished(self, live: set[str]) -> Iterator[Planned]:
        """Tombstones for the subjects whose object is not among ``live`` and whose newest
        message is not already a ``del`` (body ``{}``: the record is not known any more)."""
        for subject, stored in list(self._stored.items()):
            if stored.op == "del" or subject in live:
                continue
            xapi_class = subject[len(self.prefix) :].split(".", 1)[0]
            planned = self._plan(subject, "del", stored.ref, xapi_class, b"{}")
            if planned is not None:
                yield planned

    def _plan(
        self, subject: str, op: str, ref: str, xapi_class: str, body: bytes
    ) -> Planned | None:
        """The message, as `xorca.contracts.objects.encode_object` writes it (a unit test holds
        them equal); built here directly because a pool's first load is 100,000 of them."""
        digest = digest_of(op, body)
        last = self._stored.get(subject)
        if last is not None and last.digest == digest:
            return None
        previous = last.msg_id if last is not None else GENESIS
        headers = {
            OP_HEADER: op,
            REF_HEADER: ref or "?",
            POOL_HEADER: self.pool,
            CLASS_HEADER: xapi_class,
            MSG_ID_HEADER: next_msg_id(subject, previous, op, body),
        }
        if op == "del":
            headers[ROLLUP_HEADER] = "sub"
            if self.tombstone_ttl:
                headers[TTL_HEADER] = str(max(1, int(self.tombstone_ttl)))
        return Planned(subject, headers, body, op, ref, previous, digest)

    def replan(self, planned: Planned, newest: Stored | None) -> Planned | None:
        """What to send for ``planned``, whose fate is unknown, now that the subject's newest
        message is known to be ``newest``: nothing (it landed, or the log says the same), the same
        message (it did not land: same id, so a late arrival would be a duplicate), or the same
        change chained after whatever someone else wrote."""
        if newest is not None and newest.digest == planned.digest:
            self._stored[planned.subject] = newest
            return None
        previous = newest.msg_id if newest is not None else GENESIS
        if newest is None:
            self._stored.pop(planned.subject, None)
        else:
            self._stored[planned.subject] = newest
        if previous == planned.previous_id:
            return planned
        msg_id = next_msg_id(planned.subject, previous, planned.op, planned.body)
        return replace(
            planned, headers={**planned.headers, MSG_ID_HEADER: msg_id}, previous_id=previous
        )

    # ------------------------------------------------------------------------------ recording

    def record(self, planned: Planned, seq: int, now: float) -> None:
        """``planned`` is stored (acknowledged, or found a duplicate of what is)."""
        self._stored[planned.subject] = planned.stored(seq)
        if planned.op == "del":
            self._tombstones.append((now, planned.subject))
        self.forget_old_tombstones(now)

    def forget_old_tombstones(self, now: float) -> None:
        while self._tombstones and now - self._tombstones[0][0] >= self.forget_after:
            _, subject = self._tombstones.popleft()
            stored = self._stored.get(subject)
            if stored is not None and stored.op == "del":
                del self._stored[subject]
