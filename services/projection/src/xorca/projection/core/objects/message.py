"""``message`` objects, alarms parsed (translate/message.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from xorca.projection.core.objects.base import Datetime, Object, link

__all__ = ["Message"]


class Message(Object):
    """An XAPI message: an alarm or a notice about an object."""

    type: Literal["message"]
    name: Annotated[str | None, Field(description="ALARM, VM_STARTED…")] = None
    priority: Annotated[int | None, Field(description="1 (most urgent) to 5")] = None
    cls: Annotated[str | None, Field(description="its object's class: VM, Host, SR…")] = None
    object: Annotated[
        str | None, link("$object", "its object's uuid (which may be gone since)")
    ] = None
    timestamp: Datetime | None = None
    body: str | None = None
    alarm: Annotated[bool, Field(description="name is ALARM")]
    alarm_value: Annotated[float | None, Field(description="the measured value")] = None
    alarm_source: Annotated[
        str | None, Field(description="what was measured: cpu_usage, memory_free_kib…")
    ] = None
    alarm_trigger_level: float | None = None
    alarm_trigger_period: Annotated[int | None, Field(description="seconds")] = None
    alarm_auto_inhibit_period: Annotated[int | None, Field(description="seconds")] = None
    alarm_trigger_sense: str | None = None
    alarm_consolidation_fn: str | None = None
