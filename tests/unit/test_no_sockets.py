"""Unit tests cannot reach the network (tests/unit/conftest.py): each way out fails the test with
pytest-socket's error, while an event loop (whose self-pipe is a socket pair) still runs."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
from pytest_socket import SocketBlockedError

BLOCKED = "A test tried to use socket"


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM), id="tcp"),
        pytest.param(lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM), id="udp6"),
        pytest.param(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), id="unix"),
        pytest.param(lambda: socket.create_connection(("127.0.0.1", 9)), id="connect"),
        pytest.param(lambda: socket.getaddrinfo("localhost", 80), id="lookup"),
    ],
)
def test_opening_a_socket_fails_the_test(attempt: Callable[[], object]) -> None:
    # pytest.warns lets pytest-socket's warning through as a warning (warnings are errors here,
    # which would raise it in place of the error), so that the error itself can be asserted
    with pytest.warns(UserWarning, match=BLOCKED), pytest.raises(SocketBlockedError):
        attempt()


def test_warnings_as_errors_fail_it_as_well() -> None:
    """Without pytest.warns, what a test sees is the warning, raised by ``filterwarnings =
    error``: the test fails all the same."""
    with pytest.raises(UserWarning, match=BLOCKED):
        socket.create_connection(("127.0.0.1", 9))


async def test_an_open_connection_from_async_code_fails() -> None:
    with pytest.warns(UserWarning, match=BLOCKED), pytest.raises(SocketBlockedError):
        await asyncio.open_connection("127.0.0.1", 9)


def test_an_event_loop_still_runs() -> None:
    """Its self-pipe is the one socket pair allowed."""
    assert asyncio.run(asyncio.sleep(0, "ran")) == "ran"
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"x")
        assert b.recv(1) == b"x"
