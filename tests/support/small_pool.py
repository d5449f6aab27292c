"""A small pool built by hand, for unit tests that call the simulator's handlers through
``dispatch.call`` without any server.

A test file subclasses `OneHostLab` (calls go to its one host) or `HostsLab` (calls go to the
first of its hosts) with the refs its tests name, builds the database with the builders below and
whatever is its own, and logs in with `PoolLab.log_in` in its ``lab`` fixture.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Self

import pytest

from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value
from xorca.xapi_sim.rpc import dispatch
from xorca.xapi_sim.state.db import Database, Record
from xorca.xapi_sim.state.pool import SimConfig, SimPool

GIB = 1 << 30
MIB = 1 << 20


# ---- the lab ---------------------------------------------------------------------------------


@dataclass
class PoolLab(ABC):
    """A hand-built pool and the session its calls use."""

    pool: SimPool
    session: str = ""

    @property
    def db(self) -> Database:
        return self.pool.db

    @property
    @abstractmethod
    def via(self) -> str:
        """The host every call goes to."""

    async def log_in(self) -> Self:
        """Open the session the calls use, with the pool's own credentials."""
        login: list[Value] = [self.pool.config.username, self.pool.config.password]
        session = await dispatch.call(self.pool, self.via, "session.login_with_password", login)
        assert isinstance(session, str)
        self.session = session
        return self

    async def call(self, method: str, *params: Value) -> Value:
        return await dispatch.call(self.pool, self.via, method, [self.session, *params])

    async def fails(self, method: str, *params: Value) -> list[str]:
        """The error description of a call that must fail."""
        with pytest.raises(XapiError) as info:
            await self.call(method, *params)
        return info.value.description

    def get(self, cls: str, ref: object) -> Record:
        return self.db.get(cls, str(ref))


@dataclass
class OneHostLab(PoolLab):
    host: str = ""

    @property
    def via(self) -> str:
        return self.host


@dataclass
class HostsLab(PoolLab):
    hosts: list[str] = field(default_factory=list)

    @property
    def via(self) -> str:
        return self.hosts[0]


def lab_pool(db: Database, **config: Any) -> SimPool:
    """The pool "lab" over ``db``: the simulator's settings but ``config`` (timings), and failed
    logins that cost next to nothing."""
    return SimPool("lab", SimConfig(failed_login_delay=0.01, **config), db)


# ---- builders --------------------------------------------------------------------------------


def lone_host(db: Database, **metrics: Value) -> str:
    """``host1``, enabled, live (``metrics`` add to its host_metrics) and master of pool "lab"."""
    host_metrics = db.create("host_metrics", None, live=True, **metrics)
    host = db.create("host", name_label="host1", enabled=True, metrics=host_metrics)
    db.create("pool", name_label="lab", master=host)
    return host


def numbered_host(db: Database, n: int, memory: int, **fields: Value) -> str:
    """``host{n}`` at 127.101.0.{n}: enabled, live, ``memory`` bytes all free, 256 MiB overhead."""
    metrics = db.create("host_metrics", memory_total=memory, memory_free=memory, live=True)
    record: dict[str, Value] = {
        "name_label": f"host{n}",
        "address": f"127.101.0.{n}",
        "enabled": True,
        "metrics": metrics,
        "memory_overhead": 256 * MIB,
    }
    return db.create("host", None, **{**record, **fields})


def control_domain(db: Database, host: str, vcpus: int = 0, **fields: Value) -> str:
    """The host's dom0, running with 2 GiB (``vcpus`` in its metrics); ``fields`` add to its VM
    record."""
    metrics = db.create("VM_metrics", memory_actual=2 * GIB, VCPUs_number=vcpus)
    record: dict[str, Value] = {
        "name_label": f"Control domain on host: {db.field('host', host, 'name_label')}",
        "is_control_domain": True,
        "power_state": "Running",
        "resident_on": host,
        "domid": 0,
        "memory_dynamic_max": 2 * GIB,
        "metrics": metrics,
    }
    return db.create("VM", None, **{**record, **fields})


def management_pif(db: Database, host: str, network: str, mac: str, **fields: Value) -> str:
    """The host's ``eth0``: physical, attached, on ``network`` and its management interface."""
    record: dict[str, Value] = {
        "device": "eth0",
        "host": host,
        "network": network,
        "management": True,
        "physical": True,
        "currently_attached": True,
        "MAC": mac,
    }
    return db.create("PIF", None, **{**record, **fields})


def plugged_sr(db: Database, hosts: list[str], name: str, size: int, **fields: Value) -> str:
    """An SR of ``size`` bytes with an attached PBD on each of ``hosts``."""
    sr = db.create("SR", None, name_label=name, physical_size=size, **fields)
    for host in hosts:
        db.create("PBD", host=host, SR=sr, currently_attached=True)
    return sr
