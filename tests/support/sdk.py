"""The official ``xenapi`` SDK as tests use it: sessions and proxies that close their sockets."""

from __future__ import annotations

import contextlib
import xmlrpc.client
from collections.abc import Iterator

import XenAPI


@contextlib.contextmanager
def sdk_session(
    url: str, user: str = "root", password: str = "xorca", *, login: bool = True
) -> Iterator[XenAPI.Session]:
    """A logged-in SDK session (or a bare one with ``login=False``), logged out and closed after."""
    session = XenAPI.Session(url)
    try:
        if login:
            session.xenapi.login_with_password(user, password, "2.21", "xorca-tests")
        yield session
    finally:
        if session._session is not None:
            with contextlib.suppress(Exception):
                session.xenapi.session.logout()
        session("close")()


@contextlib.contextmanager
def raw_proxy(url: str) -> Iterator[xmlrpc.client.ServerProxy]:
    """A plain XML-RPC proxy: answers are the raw ``{Status, Value}`` structs."""
    with xmlrpc.client.ServerProxy(url) as proxy:
        yield proxy
