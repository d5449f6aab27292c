"""``session.*``: login with the failed-login delay, logout, HOST_IS_SLAVE on members, caps, and
the emergency login of a member (a local session, valid on that host only)."""

from __future__ import annotations

import asyncio
import time
import uuid

from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.rpc.context import CallContext
from xorca.xapi_sim.rpc.registry import api
from xorca.xapi_sim.state.pool import SessionState, SimPool

#: xapi drops the oldest sessions beyond these (db_gc_util.ml)
MAX_PER_ORIGINATOR = 500
MAX_PER_USER = 500


@api("session.login_with_password")
async def login_with_password(
    ctx: CallContext, uname: str, pwd: str, version: str = "1.1", originator: str = ""
) -> Value:
    pool = ctx.pool
    if not pool.is_master(ctx.host):
        raise XapiError("HOST_IS_SLAVE", [pool.address_of(pool.master_ref)])
    if uname != pool.config.username or pwd != pool.config.password:
        await asyncio.sleep(pool.config.failed_login_delay)
        raise XapiError(
            "SESSION_AUTHENTICATION_FAILED",
            [uname, "Authentication failure"],
        )
    return open_session(pool, ctx.host, uname, originator, is_pool=False)


def open_session(
    pool: SimPool, host_ref: str, uname: str, originator: str, *, is_pool: bool
) -> str:
    """Create a session row with a secret ref, dropping the oldest beyond xapi's caps."""
    _enforce_caps(pool, uname, originator)
    ref = f"OpaqueRef:{uuid.uuid4()}"
    pool.db.create(
        "session",
        ref,
        this_host=host_ref,
        last_active=pool.now(),
        pool=is_pool,
        is_local_superuser=True,
        auth_user_name=uname,
        originator=originator,
        validation_time=pool.now(),
    )
    pool.sessions[ref] = SessionState(ref, uname, originator, is_pool, time.time())
    return ref


def _enforce_caps(pool: SimPool, uname: str, originator: str) -> None:
    by_origin = [s for s in pool.sessions.values() if originator and s.originator == originator]
    by_user = [s for s in pool.sessions.values() if s.username == uname]
    for group, cap in ((by_origin, MAX_PER_ORIGINATOR), (by_user, MAX_PER_USER)):
        if len(group) >= cap:
            for state in sorted(group, key=lambda s: s.last_active)[: len(group) - cap + 1]:
                pool.drop_session(state.ref)


@api("session.logout")
async def logout(ctx: CallContext) -> Value:
    assert ctx.session is not None
    ctx.pool.drop_session(ctx.session.ref)
    return ""


@api("session.slave_local_login_with_password")
async def slave_local_login_with_password(ctx: CallContext, uname: str, pwd: str) -> Value:
    """A session kept by the host that made it, outside the database, that this host accepts
    whatever its role and no other host knows (xapi_session.ml, xapi_local_session.ml). Only
    the local superuser's password is checked, and a failure answers at once."""
    pool = ctx.pool
    if uname != pool.config.username or pwd != pool.config.password:
        raise XapiError("SESSION_AUTHENTICATION_FAILED", [uname, "Authentication failure"])
    ref = f"OpaqueRef:{uuid.uuid4()}"
    state = SessionState(ref, uname, "", False, time.time())
    pool.local_sessions[ref] = (ctx.host, state)
    return ref


@api("session.local_logout")
async def local_logout(ctx: CallContext) -> Value:
    """Forgets a local session; any other session stays valid (xapi_session.ml local_logout)."""
    assert ctx.session is not None
    ctx.pool.local_sessions.pop(ctx.session.ref, None)
    return ""
