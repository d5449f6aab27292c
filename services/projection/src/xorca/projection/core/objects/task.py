"""``task`` objects (translate/task.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from xorca.projection.core.objects.base import (
    Datetime,
    Named,
    Operated,
    Strings,
    XapiObjectType,
    link,
)

__all__ = ["Task"]


class Task(Operated, Named):
    """An XAPI task: the object it acts on names it in its `current_operations`."""

    type: Literal["task"]
    status: Annotated[
        str | None,
        Field(description="XAPI's: pending, success, failure, cancelling or cancelled"),
    ] = None
    progress: Annotated[float | None, Field(ge=0, le=1)] = None
    created: Datetime | None = None
    finished: Annotated[Datetime | None, Field(description="absent while it runs")] = None
    error_info: Annotated[
        Strings | None, Field(description="for a failure: XAPI's code, then its parameters")
    ] = None
    resident_on: Annotated[str | None, link("$resident_on", "the host running it")] = None
    subtask_of: Annotated[str | None, link("$subtask_of", "the parent task")] = None
    result: Annotated[
        str | None, Field(description="for a success: the return value, as XAPI writes it")
    ] = None
    result_object: Annotated[
        str | None, link("$result", "the object the result names, when it names one")
    ] = None
    result_type: Annotated[
        XapiObjectType | None, Field(description="the type of the $result object")
    ] = None
