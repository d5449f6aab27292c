"""`eventually` and `eventually_sync` (tests/support/waiting.py): the first truthy value, "not yet"
said by a falsy value or an AssertionError, and a failure that names what was awaited and the
last thing seen."""

from __future__ import annotations

import itertools

import pytest

from tests.support.waiting import eventually, eventually_sync


async def test_the_first_truthy_value_of_a_function_or_a_coroutine_function() -> None:
    counter = itertools.count()
    assert await eventually(lambda: next(counter) >= 3 and "three", what="three", interval=0) == (
        "three"
    )

    async def later() -> int:
        return next(counter)

    assert await eventually(later, what="a number") == 4


async def test_an_assertion_means_not_yet_and_is_what_the_failure_shows() -> None:
    looks = itertools.count(1)

    def probe() -> bool:
        look = next(looks)
        assert look < 0, f"look {look}"  # never holds
        return True

    with pytest.raises(AssertionError, match=r"waited 0.05 s for the moon; last seen: look \d+"):
        await eventually(probe, what="the moon", timeout=0.05, interval=0.01)


async def test_the_last_value_is_shown_and_other_errors_end_the_wait_at_once() -> None:
    with pytest.raises(AssertionError, match=r"for a pair; last seen: \[\]"):
        await eventually(list, what="a pair", timeout=0.03)

    def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await eventually(broken, what="nothing", timeout=60)


def test_the_blocking_twin() -> None:
    counter = itertools.count()
    assert eventually_sync(lambda: next(counter) == 2, what="two", interval=0) is True
    with pytest.raises(AssertionError, match=r"waited 0.03 s for zero; last seen: 0"):
        eventually_sync(lambda: 0, what="zero", timeout=0.03)
