"""One simulated pool: its database, sessions, hosts and their network endpoints, and faults.

This is the state the handlers work on; it does no I/O itself (the HTTP servers in ``http/host.py``
and the control endpoint in ``http/control.py`` drive it).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from xorca.xapi.errors import XapiError
from xorca.xapi.values import DateTime
from xorca.xapi_sim.state.db import Database, Record


@dataclass
class SimConfig:
    username: str = "root"
    password: str = "xorca"  # noqa: S105 - the simulator's published demo credential
    #: xapi sleeps this long before answering a failed login
    failed_login_delay: float = 5.0
    #: sessions idle this long are dropped (xapi: inactive_session_timeout, 24 h)
    session_idle_timeout: float = 24 * 3600.0
    #: simulated duration of a long VM operation (start, shutdown, migrate, copy…), seconds
    operation_seconds: float = 1.0
    #: finished tasks kept before garbage collection (xapi: max_tasks)
    max_tasks: int = 200
    #: largest accepted request body, bytes
    max_body_bytes: int = 64 * 1024 * 1024
    #: ``event.from``'s batching delay (xapi's event_from_delay, 50 ms): waited before the first
    #: poll, and growing towards it between polls (handlers/event.py)
    event_batching_delay: float = 0.05


@dataclass
class Faults:
    """What the control endpoint injects; read by the servers and the dispatcher."""

    latency: float = 0.0
    #: wire name (or ``*``) -> error description to answer instead of running the call
    fail_calls: dict[str, list[str]] = field(default_factory=dict)
    #: when set, every connection is closed without an answer
    stopped: bool = False


@dataclass
class Endpoint:
    host_ref: str
    address: str  # what the host record says and HOST_IS_SLAVE names: an IP
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}:{self.port}"


@dataclass
class SessionState:
    ref: str
    username: str
    originator: str
    is_pool: bool
    last_active: float
    #: legacy event.register subscriptions and the queue position (event.next)
    registered: set[str] = field(default_factory=set)
    next_position: int = 0


class SimPool:
    def __init__(self, name: str, config: SimConfig | None = None, db: Database | None = None):
        self.name = name
        self.config = config or SimConfig()
        self.db = db or Database()
        self.faults = Faults()
        self.endpoints: dict[str, Endpoint] = {}
        self.sessions: dict[str, SessionState] = {}
        #: local sessions (``session.slave_local_login_with_password``): ref -> (host, state).
        #: xapi keeps them in a table of the host that made them, outside the database
        #: (xapi_local_session.ml); ``session_check.ml`` accepts them before any other check
        self.local_sessions: dict[str, tuple[str, SessionState]] = {}
        self.running: dict[str, asyncio.Task[None]] = {}
        #: bumped on every master switch or restart; connections of older epochs are dropped
        self.epoch = 0
        #: the legacy event.next queue: (id, event) pairs, bounded like xapi's ~10 MB queue
        self.legacy_events: list[tuple[int, dict[str, object]]] = []
        self.legacy_next_id = 0
        self.legacy_queue_limit = 10_000
        self.started_at = time.time()
        self.db.listeners.append(self._queue_legacy_event)

    def _queue_legacy_event(self, op: str, cls: str, ref: str, record: Record | None) -> None:
        """Feed every database write into the bounded queue that ``event.next`` reads."""
        self.legacy_next_id += 1
        event: dict[str, object] = {
            "id": str(self.legacy_next_id),
            "timestamp": f"{time.time():.0f}.",
            "class": cls.lower(),
            "operation": op,
            "ref": ref,
            "obj_uuid": str(record.get("uuid", "")) if record else "",
        }
        if record is not None:
            event["snapshot"] = record
        self.legacy_events.append((self.legacy_next_id, event))
        if len(self.legacy_events) > self.legacy_queue_limit:
            del self.legacy_events[: len(self.legacy_events) // 2]

    # ---- topology ----------------------------------------------------------------------------

    @property
    def pool_ref(self) -> str:
        return self.db.refs("pool")[0]

    @property
    def uuid(self) -> str:
        return str(self.db.field("pool", self.pool_ref, "uuid"))

    @property
    def master_ref(self) -> str:
        return str(self.db.field("pool", self.pool_ref, "master"))

    def is_master(self, host_ref: str) -> bool:
        return host_ref == self.master_ref

    def address_of(self, host_ref: str) -> str:
        return str(self.db.field("host", host_ref, "address"))

    def master_url(self) -> str:
        return self.endpoints[self.master_ref].url

    def switch_master(self, host_ref: str) -> None:
        """Make another host the master: the old one then answers HOST_IS_SLAVE."""
        self.db.row("host", host_ref)
        self.db.update("pool", self.pool_ref, master=host_ref)
        self.epoch += 1

    # ---- sessions ----------------------------------------------------------------------------

    def check_session(self, ref: object) -> SessionState:
        state = self.sessions.get(ref) if isinstance(ref, str) else None
        now = time.time()
        if state is not None and now - state.last_active > self.config.session_idle_timeout:
            self.drop_session(state.ref)
            state = None
        if state is None:
            raise XapiError("SESSION_INVALID", [str(ref)])
        state.last_active = now
        return state

    def drop_session(self, ref: str) -> None:
        if self.sessions.pop(ref, None) is not None and self.db.exists("session", ref):
            self.db.destroy("session", ref)

    def expire_all_sessions(self) -> None:
        for ref in list(self.sessions):
            self.drop_session(ref)

    def now(self) -> DateTime:
        return DateTime.from_timestamp(time.time())
