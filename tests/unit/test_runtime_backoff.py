"""The services' one backoff (`xorca.runtime.backoff`): the pauses it gives, and `retry`."""

from __future__ import annotations

import pytest

from xorca.runtime.backoff import Backoff, retry


def test_pauses_double_from_the_first_up_to_the_longest() -> None:
    backoff = Backoff(0.05, 2.0, jitter=0)
    pauses = backoff.pauses()
    assert [next(pauses) for _ in range(8)] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert backoff.delay(10_000) == 2.0  # no overflow, however long it fails


def test_jitter_only_shortens_a_pause_by_up_to_its_fraction() -> None:
    backoff = Backoff(1.0, 30.0)
    for failures in (1, 3, 10):
        nominal = backoff.nominal(failures)
        delays = [backoff.delay(failures) for _ in range(500)]
        assert all(0.8 * nominal <= d <= nominal for d in delays)
        assert len(set(delays)) > 1  # not in step


@pytest.mark.parametrize(
    ("first", "longest", "jitter"), [(0, 1, 0.2), (2, 1, 0.2), (1, 2, 1.0), (1, 2, -0.1)]
)
def test_nonsense_is_refused(first: float, longest: float, jitter: float) -> None:
    with pytest.raises(ValueError, match=r"first <= longest|jitter"):
        Backoff(first, longest, jitter)


async def test_retry_tries_again_until_it_works() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise OSError("not yet")
        return "done"

    assert await retry(flaky, Backoff(0.001, 0.002), on=(OSError,), failing="flaky") == "done"
    assert len(calls) == 4


async def test_retry_gives_up_after_its_attempts_and_lets_other_errors_through() -> None:
    calls: list[int] = []

    async def broken() -> None:
        calls.append(1)
        raise OSError(len(calls))

    with pytest.raises(OSError, match="3"):
        await retry(broken, Backoff(0.001, 0.002), on=(OSError,), failing="broken", attempts=3)

    async def wrong() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        await retry(wrong, Backoff(0.001, 0.002), on=(OSError,), failing="wrong")
