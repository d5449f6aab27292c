"""The ``Nats-Msg-Id`` of an object change: a hash chain per subject.

JetStream drops a message whose ``Nats-Msg-Id`` it has already stored within the stream's duplicate
window. That is what makes a republish after a crash harmless, provided the republished message
gets the *same* id. An id made from the content alone would do that, but would also drop a
legitimate change back to an earlier state (``A → B → A``: the second ``A`` has the first one's id
and vanishes if it comes within the window). So each id also covers the id before it on the same
subject::

    id = sha256(subject NUL previous_id NUL op NUL body).hexdigest()[:32]

- a republish of the same change (same previous id, same op, same body) gets the same id: a
  duplicate, dropped by JetStream;
- any real change gets a new id, even when its body equals an older one, because the previous id
  differs;
- the subject is hashed in too because JetStream deduplicates across the whole stream, not per
  subject: two objects whose chains happen to start alike must never collide.

The first message of a subject, and the first after its tombstone expired, has ``previous_id = ""``
(`GENESIS`). A publisher that restarts learns the previous id of a subject from the last message
stored on it (the ``Nats-Msg-Id`` header of a direct get), so the chain goes on where it stopped.
A restarted publisher whose change *did* land before the crash finds that very change as the last
message, and would chain a new id after it: so it also compares, and does not publish a change
identical (op and body) to the subject's last message. The collector does both
(``xorca.collector.core.publish``); identical consecutive messages carry nothing for a log of
states, so the comparison loses nothing.
"""

from __future__ import annotations

import hashlib

__all__ = ["GENESIS", "MSG_ID_LENGTH", "next_msg_id"]

GENESIS = ""
MSG_ID_LENGTH = 32


def next_msg_id(subject: str, previous_id: str, op: str, body: bytes) -> str:
    """The id of the message that follows ``previous_id`` on ``subject``."""
    digest = hashlib.sha256()
    for part in (subject.encode(), previous_id.encode(), op.encode()):
        digest.update(part)
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()[:MSG_ID_LENGTH]
