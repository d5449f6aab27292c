"""Readable calls: ``await xapi.VM.start(ref, False, False)`` is ``xapi.call("VM.start", …)``.

The proxies only build the wire name; every call still goes through `Xapi.call`, so sessions,
redirects and failover behave the same whichever spelling is used. Nothing is checked against
the datamodel here: an unknown class or message is the server's ``MESSAGE_METHOD_UNKNOWN``
(`MethodUnknown`), the same answer a plain ``call`` gets. A message named like a Python keyword
takes a trailing underscore: ``xapi.event.from_(classes, token, timeout)`` calls ``event.from``.
"""

from __future__ import annotations

import keyword
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

from xorca.xapi.values import Value

if TYPE_CHECKING:
    from xorca.xapi.client.tasks import Task

__all__ = ["ApiProxy", "AsyncApiProxy", "AsyncClassProxy", "ClassProxy", "MethodProxy"]


class CallFn(Protocol):
    def __call__(
        self, method: str, *params: Value, timeout: float | None = None
    ) -> Awaitable[Any]: ...


class AsyncCallFn(Protocol):
    def __call__(
        self, method: str, *params: Value, timeout: float | None = None
    ) -> Awaitable[Task]: ...


def _wire(message: str) -> str:
    """``from_`` → ``from``: Python spells keywords with a trailing underscore."""
    if message.endswith("_") and keyword.iskeyword(message[:-1]):
        return message[:-1]
    return message


class MethodProxy:
    """One XAPI message, ready to call."""

    __slots__ = ("_call", "name")

    def __init__(self, name: str, call: CallFn) -> None:
        self.name = name
        self._call = call

    async def __call__(self, *params: Value, timeout: float | None = None) -> Any:
        # a coroutine function, so that asyncio.create_task(xapi.VM.get_all()) works
        return await self._call(self.name, *params, timeout=timeout)

    def __repr__(self) -> str:
        return f"<XAPI method {self.name}>"


class ClassProxy:
    """``xapi.VM``: its attributes are the class's messages."""

    __slots__ = ("_call", "_cls")

    def __init__(self, cls: str, call: CallFn) -> None:
        self._cls = cls
        self._call = call

    def __getattr__(self, message: str) -> MethodProxy:
        if message.startswith("__"):
            raise AttributeError(message)
        return MethodProxy(f"{self._cls}.{_wire(message)}", self._call)

    def __repr__(self) -> str:
        return f"<XAPI class {self._cls}>"


class AsyncMethodProxy:
    """``xapi.Async.VM.clone``: calling it starts a task and returns its `Task`."""

    __slots__ = ("_call", "name")

    def __init__(self, name: str, call: AsyncCallFn) -> None:
        self.name = name
        self._call = call

    async def __call__(self, *params: Value, timeout: float | None = None) -> Task:
        return await self._call(self.name, *params, timeout=timeout)

    def __repr__(self) -> str:
        return f"<XAPI method {self.name}>"


class AsyncClassProxy:
    __slots__ = ("_call", "_cls")

    def __init__(self, cls: str, call: AsyncCallFn) -> None:
        self._cls = cls
        self._call = call

    def __getattr__(self, message: str) -> AsyncMethodProxy:
        if message.startswith("__"):
            raise AttributeError(message)
        return AsyncMethodProxy(f"Async.{self._cls}.{_wire(message)}", self._call)


class AsyncApiProxy:
    """``xapi.Async``: its attributes are XAPI classes whose messages return `Task`\\ s."""

    __slots__ = ("_call",)

    def __init__(self, call: AsyncCallFn) -> None:
        self._call = call

    def __getattr__(self, cls: str) -> AsyncClassProxy:
        if cls.startswith("__"):
            raise AttributeError(cls)
        return AsyncClassProxy(cls, self._call)


class ApiProxy:
    """``xapi.api``: every XAPI class by name, including ones the client's own attributes hide
    (``xapi.api.console.get_record``, since ``xapi.console`` opens a console)."""

    __slots__ = ("_async", "_call")

    def __init__(self, call: CallFn, call_async: AsyncCallFn) -> None:
        self._call = call
        self._async = call_async

    @property
    def Async(self) -> AsyncApiProxy:  # spelled as XAPI spells it
        return AsyncApiProxy(self._async)

    def __getattr__(self, cls: str) -> ClassProxy:
        if cls.startswith("__"):
            raise AttributeError(cls)
        return ClassProxy(cls, self._call)
