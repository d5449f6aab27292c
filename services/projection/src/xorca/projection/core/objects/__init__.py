"""The client objects as typed models: the shape `translate` gives each type (docs/objects.md).

The translation builds plain dicts (fast, tolerant); these models only describe them, for the JSON
Schema clients get (`xorca.projection.schema`, committed as docs/objects.schema.json, from which
the web UI's TypeScript types are generated) and for the tests that check every translated
object against it. A model never sits on the projection's path.

How a model reads:

- **Optional is absent, never null.** A field typed ``X | None = None`` is a key the object may
  lack; its schema is plain ``X``, not in ``required`` (the schema's generator drops every null,
  since client objects hold none). A field without a default is on every object of its type.
- **Closed.** Every model, nested ones included, forbids fields it does not list
  (``additionalProperties: false``): this is everything this version of xorca sends, and a field
  the translation starts emitting without a model to say so fails the tests. Maps whose keys are
  data (``current_operations``, ``blocked_operations``, ``device_config``) are open maps of
  strings. Clients should still ignore fields they do not know: within v1 objects grow by
  optional fields, and an older client meets a newer server.
- **Strict.** No coercion: ints are ints, floats may be ints (JSON does not tell them apart), bools
  are bools.
- **Enums only where the translation guarantees them** (the types, a host's power state, a pool
  status's state, a task's ``result_type``). A string XAPI gives (a VM's power state, a task's
  status) is passed on as XAPI wrote it, so its known values are in the description, not an enum:
  a newer XAPI may add one.
- Links (``$host``) are fields aliased from a Python name (``host``), as ``$`` cannot start one.
- Docstrings of models and field descriptions are the schema's descriptions, which the
  TypeScript types show: Markdown (single backticks), written for a client's programmer.
"""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import Field

from xorca.projection.core.objects.base import Closed, ObjectType, VdiType, VmType, XapiObjectType
from xorca.projection.core.objects.host import Host, HostCpus, HostMemory, Pool, PoolCpus
from xorca.projection.core.objects.message import Message
from xorca.projection.core.objects.network import Network, Pif, Vif
from xorca.projection.core.objects.status import PoolStatus, PoolStatusError
from xorca.projection.core.objects.storage import Pbd, Sr, Vbd, Vdi
from xorca.projection.core.objects.task import Task
from xorca.projection.core.objects.vm import (
    Vm,
    VmAddress,
    VmConsole,
    VmCpus,
    VmDisk,
    VmMemory,
    VmNic,
    VmOs,
)

__all__ = [
    "OBJECT_MODELS",
    "ClientObject",
    "Closed",
    "Host",
    "HostCpus",
    "HostMemory",
    "Message",
    "Network",
    "ObjectType",
    "Pbd",
    "Pif",
    "Pool",
    "PoolCpus",
    "PoolStatus",
    "PoolStatusError",
    "Sr",
    "Task",
    "Vbd",
    "Vdi",
    "Vif",
    "Vm",
    "VmAddress",
    "VmConsole",
    "VmCpus",
    "VmDisk",
    "VmMemory",
    "VmNic",
    "VmOs",
    "XapiObjectType",
]

#: the model of each type
OBJECT_MODELS: dict[str, type[Closed]] = {
    **dict.fromkeys(get_args(VmType), Vm),
    **dict.fromkeys(get_args(VdiType), Vdi),
    "pool": Pool,
    "pool-status": PoolStatus,
    "host": Host,
    "sr": Sr,
    "vbd": Vbd,
    "vif": Vif,
    "network": Network,
    "pif": Pif,
    "pbd": Pbd,
    "task": Task,
    "message": Message,
}

ClientObject = Annotated[
    Pool | PoolStatus | Host | Vm | Sr | Vdi | Vbd | Vif | Network | Pif | Pbd | Task | Message,
    Field(discriminator="type"),
]
