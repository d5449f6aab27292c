"""The pool watcher driven against the simulator: a client that gives up quickly, the watch
options of the tests, a `Consumer` that keeps every batch and status the watcher hands out, and
the pool's side (its records by class, calls made by another client of the pool, a guest VM).

`Consumer.settled` is the check of every scenario: the mirror equals the pool's records of every
watched class, and the batches, replayed in order from nothing, give that same state.
"""

from __future__ import annotations

import asyncio
from functools import partial
from types import TracebackType

from tests.support.control import pool_client
from tests.support.simthread import SimThread, on_sim
from tests.support.waiting import eventually
from xorca.xapi.client import RetryPolicy
from xorca.xapi.values import Value
from xorca.xapi.watcher import (
    Backoff,
    Batch,
    PoolWatcher,
    State,
    Status,
    Tables,
    WatchOptions,
    apply_changes,
)
from xorca.xapi_sim.handlers.session import open_session
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.pool import SimPool

QUICK = RetryPolicy(attempts=2, backoff=0.05, max_backoff=0.1, probe_timeout=1)
connect = partial(pool_client, retry=QUICK)
OPTIONS = WatchOptions(poll=1.0, backoff=Backoff(0.05, 0.3))


async def api(pool: SimPool, method: str, *params: Value) -> Value:
    """A call made by another client of the pool, straight into its dispatcher."""
    session = open_session(pool, pool.master_ref, "root", "test", is_pool=False)
    return await dispatch.call(pool, pool.master_ref, method, [session, *params])


def vm_of(pool: SimPool, power_state: str = "Running") -> str:
    """A guest VM in ``power_state``."""
    for ref, vm in pool.db.records("VM"):
        if vm["power_state"] == power_state and not (
            vm["is_a_template"] or vm["is_control_domain"] or vm["is_a_snapshot"]
        ):
            return ref
    raise AssertionError(f"no {power_state} guest")


async def pool_tables(sim: SimThread, classes: tuple[str, ...]) -> Tables:
    """Every record of ``classes`` in pool 1, as ``X.get_all_records`` would give them."""

    def read(pool: SimPool) -> Tables:
        tables: Tables = {c: dict(pool.db.records(c)) for c in classes if c != "message"}
        if "message" in classes:
            tables["message"] = dict(pool.db.messages)
        return tables

    return await on_sim(sim, read)


def replay(batches: list[Batch], start: Tables | None = None) -> Tables:
    tables: Tables = {cls: dict(table) for cls, table in (start or {}).items()}
    for batch in batches:
        for change in batch.changes:
            tables.setdefault(change.cls, {})
        apply_changes(tables, batch.changes)
    return {cls: table for cls, table in tables.items() if table}


def nonempty(tables: Tables) -> Tables:
    return {cls: table for cls, table in tables.items() if table}


def differences(mirror: Tables, server: Tables) -> str:
    out = []
    for cls in sorted(set(mirror) | set(server)):
        mine, theirs = mirror.get(cls, {}), server.get(cls, {})
        if mine != theirs:
            changed = [r for r in mine.keys() & theirs.keys() if mine[r] != theirs[r]]
            out.append(
                f"{cls}: {len(mine.keys() - theirs.keys())} extra, "
                f"{len(theirs.keys() - mine.keys())} missing, {len(changed)} differ"
            )
    return "; ".join(out)


class Consumer:
    """A watcher consumed in the background, keeping every batch and every status."""

    def __init__(self, watcher: PoolWatcher, sim: SimThread) -> None:
        self.watcher = watcher
        self.sim = sim
        self.batches: list[Batch] = []
        self.statuses: list[Status] = []
        watcher.subscribe(self.statuses.append)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Consumer:
        self._task = asyncio.create_task(self._consume())
        await eventually(lambda: self.batches, what="the first load, handed out", interval=0.01)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.watcher.close()
        assert self._task is not None
        await asyncio.wait_for(self._task, 5)  # ends cleanly: nothing escaped the loop

    async def _consume(self) -> None:
        async for batch in self.watcher:
            self.batches.append(batch)

    async def wait(self, state: State, timeout: float = 10) -> Status:
        return await self.watcher.wait_status(lambda s: s.state is state, timeout)

    async def settled(self, timeout: float = 10) -> Tables:
        """Wait until the mirror equals the pool, then check that the batches replay to it."""

        async def matching() -> Tables:
            server = nonempty(await pool_tables(self.sim, self.watcher.classes))
            mirror = nonempty(self.watcher.snapshot())
            # the mirror takes an answer before the consumer takes its batch: under load the
            # consumer may be one batch behind for a moment, so wait for both
            replayed = replay(self.batches)
            status = self.watcher.status
            assert mirror == server, f"mirror ≠ pool ({status}): {differences(mirror, server)}"
            assert replayed == server, f"replayed ≠ pool: {differences(replayed, server)}"
            assert status.state is State.SYNCED, f"not synced: {status}"
            return server

        server = await eventually(
            matching, what="the mirror and the batches to be the pool", timeout=timeout,
            interval=0.1,
        )  # fmt: skip
        for batch in self.batches:  # each object at most once per batch
            assert len({(c.cls, c.ref) for c in batch.changes}) == len(batch.changes)
        return server

    def resyncs(self) -> list[Batch]:
        return [b for b in self.batches[1:] if b.resync]

    def visited(self, state: State) -> bool:
        return any(s.state is state for s in self.statuses)
