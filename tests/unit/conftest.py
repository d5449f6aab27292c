"""Unit tests run without sockets (pytest-socket): creating any socket, TCP, UDP or Unix, fails
the test with pytest-socket's `SocketBlockedError` (or the ``UserWarning`` it warns first, which
warnings-as-errors raises in its place), and so does a name lookup.

The one socket allowed is the connected pair an asyncio event loop makes for its self-pipe (on
Linux, ``socket.socketpair()``: two Unix sockets joined to each other, which reach nothing outside
the process). pytest-socket's ``allow_unix_socket`` would also let a test open or connect any Unix
socket (a database's, Docker's), so instead `socketpair` alone is given the real socket class
back while sockets are disabled. A test that needs the network belongs in tests/integration.
"""

from __future__ import annotations

import _socket
import socket

import pytest
from pytest_socket import disable_socket

_true_socket = socket.socket
_true_socketpair = socket.socketpair


def _socketpair(
    family: int = socket.AF_UNIX, type: int = socket.SOCK_STREAM, proto: int = 0
) -> tuple[socket.socket, socket.socket]:
    """`socket.socketpair`, built on the real socket class (the standard library's looks up
    `socket.socket`, which pytest-socket has replaced by its guard)."""
    a, b = _socket.socketpair(family, type, proto)
    return (_true_socket(family, type, proto, a.detach()),
            _true_socket(family, type, proto, b.detach()))  # fmt: skip


# tryfirst: before the runner sets up the test's fixtures (its event loop included), so that a
# fixture cannot open a socket either; pytest-socket's own hook, which runs after, only ever
# enables sockets for a test marked ``enable_socket`` (none is) and removes every guard at teardown
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    disable_socket(allow_unix_socket=False)
    socket.socketpair = _socketpair


def pytest_runtest_teardown(item: pytest.Item) -> None:
    socket.socketpair = _true_socketpair
