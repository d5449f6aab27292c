"""Commands: ``xorca.v1.cmd.<pool_uuid>`` request/reply, served by whichever replica owns the pool.

Every replica subscribes to ``xorca.v1.cmd.*`` in one queue group, so each command reaches one
replica, whichever pools it holds. That replica checks the command (core/commands.py) and answers
a bad one at once. A good one for a pool it serves runs on its client; for any other pool it is
forwarded, as a request, to ``_XORCA.collector.cmd.<pool_uuid>``, the internal subject that only
the pool's owner subscribes to (in a queue group too, so that the two owners of a handover
moment answer once). If nobody answers there (NATS says "no responders"), the pool is not
managed: ``XORCA_POOL_NOT_MANAGED``. Clients see one subject and one behaviour, however many
replicas there are and wherever their pools are.

The owner audits every command it decoded (``xorca.v1.audit.<pool>``, ``Nats-Msg-Id:
audit.<pool>.<request_id>``), before replying: a client that got its reply finds the audit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from pydantic import JsonValue

from xorca.bus.connection import NATS_ERRORS, NatsBus
from xorca.collector.adapters.log import JetStreamLog
from xorca.collector.adapters.metrics import Metrics
from xorca.collector.adapters.xapi import PoolLink
from xorca.collector.core import commands as plan
from xorca.contracts.audit import encode_audit
from xorca.contracts.base import OutgoingMessage
from xorca.contracts.codes import TIMEOUT
from xorca.contracts.errors import InvalidSubject
from xorca.contracts.subjects import CMD, check_token, parse_command_subject
from xorca.runtime.backoff import Backoff
from xorca.xapi.errors import XapiError

if TYPE_CHECKING:
    from xorca.collector.service.runner import PoolRunner

__all__ = ["QUEUE", "CommandService", "internal_subject"]

log = logging.getLogger(__name__)

#: the queue group of every collector replica
QUEUE = "xorca-collector"
#: commands forwarded to the replica that owns the pool
INTERNAL = "_XORCA.collector.cmd"
#: commands handled at once, per replica (more wait in NATS' buffer)
_CONCURRENCY = 64
#: longest wait for a started task's uuid (the reply waits for it, the task does not)
_TASK_UUID_TIMEOUT = 5.0
#: pauses between attempts to publish an audit record
_AUDIT_RETRY = Backoff(0.05, 1.0)


def internal_subject(pool: str) -> str:
    return f"{INTERNAL}.{check_token(pool, 'pool uuid')}"


class CommandService:
    """Answers commands for every pool, running those of the pools this replica serves."""

    def __init__(
        self,
        bus: NatsBus,
        log_: JetStreamLog,
        *,
        collector: str,
        timeout: float,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.log = log_
        self.collector = collector
        self.timeout = timeout
        self.metrics = metrics
        self.clock = clock
        self._runners: dict[str, PoolRunner] = {}
        self._internal: dict[str, Subscription] = {}
        self._public: Subscription | None = None
        self._slots = asyncio.Semaphore(_CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._public = await self.bus.nc.subscribe(f"{CMD}.*", queue=QUEUE, cb=self._on_public)

    async def stop(self) -> None:
        subscriptions = [self._public, *self._internal.values()]
        self._public = None
        self._internal.clear()
        for sub in subscriptions:
            if sub is not None:
                try:
                    await sub.unsubscribe()
                except NATS_ERRORS:
                    log.debug("unsubscribe failed", exc_info=True)
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------------------------- routing

    async def route(self, pool: str, runner: PoolRunner) -> str | None:
        """Serve ``pool`` with ``runner`` (see `runner.Routes`)."""
        current = self._runners.get(pool)
        if current is not None and current is not runner:
            return current.registry_id
        self._runners[pool] = runner
        if pool not in self._internal:
            self._internal[pool] = await self.bus.nc.subscribe(
                internal_subject(pool), queue=QUEUE, cb=self._on_internal
            )
        return None

    async def unroute(self, pool: str, runner: PoolRunner) -> None:
        if self._runners.get(pool) is not runner:
            return
        del self._runners[pool]
        sub = self._internal.pop(pool, None)
        if sub is not None:
            try:
                await sub.unsubscribe()
            except NATS_ERRORS:
                log.debug("unsubscribe failed", exc_info=True)

    def served(self) -> dict[str, str]:
        """Pool uuid → registry id of the pools this replica serves commands for."""
        return {pool: runner.registry_id for pool, runner in self._runners.items()}

    # ------------------------------------------------------------------------------ handling

    async def _on_public(self, msg: Msg) -> None:
        self._spawn(self._handle(msg, forwarded=False))

    async def _on_internal(self, msg: Msg) -> None:
        self._spawn(self._handle(msg, forwarded=True))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            async with self._slots:
                await work

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: Msg, *, forwarded: bool) -> None:
        try:
            if forwarded:
                pool = check_token(msg.subject.rsplit(".", 1)[-1], "pool uuid")
            else:
                pool = parse_command_subject(msg.subject)
        except InvalidSubject as e:
            await self._reply(msg, plan.malformed(msg.data, str(e)).reply.to_json())
            return
        checked = plan.check(msg.data)
        if isinstance(checked, plan.Outcome):
            await self._conclude(msg, pool, checked)
            return
        runner = self._runners.get(pool)
        if runner is not None:
            await self._conclude(msg, pool, await self._execute(runner, pool, checked))
        elif forwarded:  # it was ours a moment ago: the pool moved or stopped
            await self._conclude(msg, pool, plan.not_managed(checked, pool))
        else:
            await self._forward(msg, pool, checked)

    async def _forward(self, msg: Msg, pool: str, checked: plan.Checked) -> None:
        try:
            answer = await self.bus.nc.request(
                internal_subject(pool), msg.data, timeout=self.timeout, headers=msg.headers
            )
        except NoRespondersError:
            await self._conclude(msg, pool, plan.not_managed(checked, pool))
            return
        except NATS_ERRORS as e:
            # the owner may still run it and audit it: only the wait is reported here
            error = XapiError(TIMEOUT, [checked.command.method, f"no answer: {e!r}"])
            outcome = plan.rejected_by_xapi(checked, error)
            self.metrics.commands.labels("failed").inc()
            await self._reply(msg, outcome.reply.to_json())
            return
        self.metrics.commands.labels("forwarded").inc()
        await self._reply(msg, answer.data)

    async def _execute(self, runner: PoolRunner, pool: str, checked: plan.Checked) -> plan.Outcome:
        link = runner.link
        refusal = plan.unavailable(checked, pool, runner.state if link else "disconnected")
        if refusal is not None or link is None:
            assert refusal is not None
            return refusal
        method = checked.method
        try:
            if method.asynchronous:
                task = await link.start(method.wire, checked.args, self.timeout)
                task_uuid = await self._task_uuid(link, task.ref)
                return plan.accepted(checked, task=task.ref, task_uuid=task_uuid)
            result = await link.call(method.wire, checked.args, self.timeout)
            return plan.accepted(checked, result=cast(JsonValue, result))
        except XapiError as e:
            return plan.rejected_by_xapi(checked, e)

    async def _task_uuid(self, link: PoolLink, ref: str) -> str | None:
        """The uuid of a task just started (clients know objects by uuid), or None: the task
        runs whatever happens here, so a failure to read it must not fail the command."""
        try:
            found = await link.call("task.get_uuid", (ref,), min(self.timeout, _TASK_UUID_TIMEOUT))
        except XapiError as e:
            log.debug("task.get_uuid %s failed: %r", ref, e)
            return None
        return found if isinstance(found, str) and found else None

    async def _conclude(self, msg: Msg, pool: str, outcome: plan.Outcome) -> None:
        """Audit (if the command named its actor), then reply."""
        self.metrics.commands.labels(outcome.outcome).inc()
        record = plan.audit_of(outcome, pool=pool, collector=self.collector, now=self.clock())
        if record is not None:
            await self._audit(encode_audit(record))
        await self._reply(msg, outcome.reply.to_json())

    async def _audit(self, audit: OutgoingMessage) -> None:
        """Publish an audit record, retrying for as long as a command may take."""
        deadline = self.clock() + self.timeout
        for pause in _AUDIT_RETRY.pauses():
            try:
                await self.log.publish(audit)
                return
            except NATS_ERRORS as e:
                if self.clock() + pause > deadline:
                    log.error("audit record %s not published: %r", audit.headers, e)
                    return
                await asyncio.sleep(pause)

    async def _reply(self, msg: Msg, body: bytes) -> None:
        if not msg.reply:
            return  # a publish, not a request: nobody to answer
        try:
            await msg.respond(body)
        except NATS_ERRORS as e:
            log.warning("reply to %s lost: %r", msg.subject, e)
