"""`Task`: the handle an ``Async.*`` call returns (XAPI.md §3).

Waiting follows the task with ``event.from(["task/<ref>"], token, poll)``: the server holds the
call until the task changes (with no batching delay for task-only subscriptions), so a wait
costs one request per progress change instead of a poll every few hundred milliseconds, and
it ends as soon as the task does.

A finished task's ``result`` is the XML-RPC text of the return value even over JSON-RPC
(``<value>OpaqueRef:…</value>``), so it is decoded with the XML-RPC codec; a failed task's
``error_info`` becomes the same exception a synchronous call would have raised.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from xorca.xapi import codec
from xorca.xapi.errors import CallTimeout, HandleInvalid, ProtocolError, TaskCancelled, XapiError
from xorca.xapi.values import Value

if TYPE_CHECKING:
    from xorca.xapi.client.client import Xapi

__all__ = ["FINISHED", "Task"]

FINISHED = frozenset({"success", "failure", "cancelled"})
#: the longest one event.from waits before the client asks again
DEFAULT_POLL = 30.0


class Task:
    """A server-side task: ``ref`` is its ``OpaqueRef``, ``method`` the call that started it."""

    def __init__(self, xapi: Xapi, ref: str, method: str = "task") -> None:
        self.xapi = xapi
        self.ref = ref
        self.method = method

    def __repr__(self) -> str:
        return f"<Task {self.method} {self.ref}>"

    async def record(self) -> dict[str, Value]:
        """The task's current record (``HandleInvalid`` once it has been destroyed)."""
        return _record(await self.xapi.call("task.get_record", self.ref), "task.get_record")

    async def status(self) -> str:
        """``pending``, ``success``, ``failure``, ``cancelling`` or ``cancelled``."""
        return _text(await self.xapi.call("task.get_status", self.ref), "task.get_status")

    async def progress(self) -> float:
        """From 0.0 to 1.0."""
        value = await self.xapi.call("task.get_progress", self.ref)
        return _number(value, "task.get_progress")

    async def cancel(self) -> None:
        """Ask the server to cancel: the task then ends ``cancelled`` (`result` raises
        `TaskCancelled`), or `OperationNotAllowed` if it cannot be cancelled."""
        await self.xapi.call("task.cancel", self.ref)

    async def destroy(self) -> None:
        """Remove the task record (a running task goes once it finishes)."""
        await self.xapi.call("task.destroy", self.ref)

    async def wait(
        self, timeout: float | None = None, *, poll: float = DEFAULT_POLL
    ) -> dict[str, Value]:
        """The task's record once it has finished; `CallTimeout` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        token = ""
        first = True
        while True:
            remaining = poll if deadline is None else min(poll, deadline - time.monotonic())
            if remaining <= 0:
                raise CallTimeout(self.method, f"task {self.ref} still running after {timeout}s")
            # the first call (token "") answers at once with the task as it is, if it exists
            wait = 0.0 if first else remaining
            batch = await self.xapi.call("event.from", [f"task/{self.ref}"], token, wait)
            events, token = _batch(batch)
            snapshot = self._snapshot(events)
            if snapshot is None and first:
                snapshot = await self.record()  # no such task: get_record says so
            first = False
            if snapshot is not None and snapshot.get("status") in FINISHED:
                return snapshot

    async def result(self, timeout: float | None = None, *, poll: float = DEFAULT_POLL) -> Value:
        """The decoded return value; raises the task's error as its `ApiError` subclass, and
        `TaskCancelled` if it was cancelled."""
        record = await self.wait(timeout, poll=poll)
        status = record.get("status")
        if status == "success":
            return self._decode(record.get("result", ""))
        info = record.get("error_info")
        description = info if isinstance(info, list) else []
        if status == "cancelled" and not description:
            raise TaskCancelled("TASK_CANCELLED", [self.ref], method=self.method)
        raise XapiError.from_description(description, method=self.method)

    def _snapshot(self, events: list[dict[str, Any]]) -> dict[str, Value] | None:
        latest: dict[str, Value] | None = None
        for event in events:
            if event.get("ref") != self.ref:
                continue
            if event.get("operation") == "del":
                raise HandleInvalid("HANDLE_INVALID", ["task", self.ref], method=self.method)
            latest = _record(event.get("snapshot"), "event.from")
        return latest

    def _decode(self, text: Value) -> Value:
        if not isinstance(text, str):
            raise ProtocolError(self.method, f"task result is {type(text).__name__}, not text")
        if not text.strip():
            return ""
        try:
            return codec.decode_xmlrpc_value(text)
        except codec.CodecError as e:
            raise ProtocolError(self.method, f"task result is not an XML-RPC value: {e}") from e


def _batch(value: object) -> tuple[list[dict[str, Any]], str]:
    if not isinstance(value, dict):
        raise ProtocolError("event.from", f"expected a struct, got {type(value).__name__}")
    events, token = value.get("events"), value.get("token")
    if not isinstance(events, list) or not isinstance(token, str):
        raise ProtocolError("event.from", "answer lacks an 'events' list or a 'token' string")
    if not all(isinstance(e, dict) for e in events):
        raise ProtocolError("event.from", "an event is not a struct")
    return events, token


def _record(value: object, method: str) -> dict[str, Value]:
    if not isinstance(value, dict):
        raise ProtocolError(method, f"expected a task record, got {type(value).__name__}")
    if not isinstance(value.get("status"), str):
        raise ProtocolError(method, "task record has no 'status' string")
    return value


def _text(value: object, method: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(method, f"expected a string, got {type(value).__name__}")
    return value


def _number(value: object, method: str) -> float:
    # a double over both protocols; accept the text form an XML-RPC int would have
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ProtocolError(method, f"expected a number, got {value!r:.80}")
