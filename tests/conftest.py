"""Fixtures shared by every level of tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.simthread import FAST, SimThread
from xorca.xapi_sim.simulator import SimOptions

pytest_plugins = [
    "tests.support.nats_fixtures",
    "tests.support.postgres",
    "tests.support.browser",
]


@pytest.fixture(scope="session")
def sim() -> Iterator[SimThread]:
    """Two small pools of three hosts, shared by the tests that only read or add objects."""
    options = SimOptions(pools=2, hosts_per_pool=3, vms_per_pool=12, seed=7, config=FAST)
    with SimThread(options) as running:
        yield running


@pytest.fixture
def fresh_sim() -> Iterator[SimThread]:
    """A pool of its own, for tests that break things (faults, master switches, logouts)."""
    options = SimOptions(pools=1, hosts_per_pool=2, vms_per_pool=6, seed=11, config=FAST)
    with SimThread(options) as running:
        yield running
