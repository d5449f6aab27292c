"""Hidden messages (absent from ``xenapi.json``, served by xapi) whose behaviour is evident from
xapi's source; their parameters are in ``rpc/methods.py`` ``HIDDEN_PARAMS``. The hidden database
setters (``SR.set_virtual_allocation``, ``VDI.set_missing``…) need no code: the generic setter
serves them (``rpc/methods.py`` ``DB_SETTERS``).
"""

from __future__ import annotations

from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.handlers.storage import refresh_vdi
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api


@api("pool.is_slave")
async def is_slave(ctx: CallContext, host: str) -> Value:
    """Whether the host that received the call is a member; ``host`` is ignored
    (xapi_pool.ml ``is_slave ~host:_``)."""
    return not ctx.pool.is_master(ctx.host)


@api("host.is_in_emergency_mode")
async def is_in_emergency_mode(ctx: CallContext) -> Value:
    """``!Xapi_globs.slave_emergency_mode`` (xapi_host.ml): simulated members always reach their
    master."""
    return False


@api("VDI.set_metadata_of_pool")
async def set_metadata_of_pool(ctx: CallContext, self: str, value: str) -> Value:
    """The database setter, refused for CBT metadata VDIs (xapi_vdi.ml ``set_metadata_of_pool``)."""
    if ctx.db.field("VDI", self, "type") == "cbt_metadata":
        raise XapiError("VDI_INCOMPATIBLE_TYPE", [self, "cbt_metadata"])
    ctx.db.update("VDI", self, metadata_of_pool=value)
    return ""


@api("VDI.set_cbt_enabled")
async def set_cbt_enabled(ctx: CallContext, self: str, value: bool) -> Value:
    """The database setter, then the VDI's allowed operations again, only if the value changes
    (xapi_vdi.ml ``set_cbt_enabled``)."""
    if ctx.db.field("VDI", self, "cbt_enabled") != value:
        ctx.db.update("VDI", self, cbt_enabled=value)
        refresh_vdi(ctx.db, self)
    return ""
