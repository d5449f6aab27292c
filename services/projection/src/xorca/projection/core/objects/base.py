"""What every model shares: the closed strict base, the common fields, links, datetimes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Closed",
    "Datetime",
    "Named",
    "Object",
    "ObjectType",
    "Operated",
    "Operations",
    "Strings",
    "Tagged",
    "VdiType",
    "VmType",
    "XapiObjectType",
    "link",
]


VmType = Literal["vm", "vm-template", "vm-snapshot", "vm-controller"]
VdiType = Literal["vdi", "vdi-snapshot"]
#: the types made from XAPI records (a task's ``result_type`` is one of them)
XapiObjectType = Literal[
    "pool", "host", VmType, "sr", VdiType, "vbd", "vif", "network", "pif", "pbd", "task",
    "message",
]  # fmt: skip
#: every client object type (``xorca.contracts.deltas.OBJECT_TYPES``)
ObjectType = Literal[XapiObjectType, "pool-status"]

#: an ISO 8601 datetime in UTC (``2026-11-26T09:00:00Z``)
Datetime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Strings = list[str]
#: ``{task id: operation}``: a task the pool does not show keeps its ref as the key
Operations = dict[str, str]


def link(name: str, description: str) -> Any:
    """The field of link ``name`` (``$host``): the id of another object of the same pool."""
    return Field(alias=name, description=description)


class Closed(BaseModel):
    """Strict, frozen, and no field beyond those listed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Object(Closed):
    """What every object made from an XAPI record has."""

    id: Annotated[str, Field(description="the XAPI uuid")]
    type: str
    pool: Annotated[str, link("$pool", "the pool the object belongs to")]


class Named(Object):
    name_label: str | None = None
    name_description: str | None = None


class Tagged(Named):
    tags: Annotated[Strings | None, Field(description="sorted, unique")] = None


class Operated(Closed):
    allowed_operations: Annotated[
        Strings | None, Field(description="XAPI's operations possible now, sorted")
    ] = None
    current_operations: Annotated[
        Operations | None, Field(description="the operations running: {task id: operation}")
    ] = None
