"""Watcher statuses as the contract names them, and when a new status message is due."""

from __future__ import annotations

import pytest

from xorca.collector.core.status import PoolView, message, view_of
from xorca.collector.settings import CollectorSettings, default_collector_id
from xorca.contracts.base import ErrorBody
from xorca.xapi.errors import ApiError, ConnectionFailed
from xorca.xapi.watcher import State, Status

MASTER = "http://192.0.2.10:443"


def status(state: State, **fields: object) -> Status:
    return Status(state, 100.0, MASTER, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("watcher", "published", "code"),
    [
        (status(State.CONNECTING), "connecting", None),
        (status(State.SYNCED, last_event_at=101.0), "synced", None),
        (status(State.RESYNCING, reason="the session was renewed"), "degraded", "XORCA_RESYNCING"),
        (status(State.DEGRADED, last_error=ApiError("INTERNAL_ERROR", ["x"])), "degraded",
         "INTERNAL_ERROR"),
        (status(State.DISCONNECTED, last_error=ConnectionFailed("event.from", "refused")),
         "disconnected", "XORCA_CONNECTION_FAILED"),
        (status(State.STOPPED), "disconnected", "XORCA_COLLECTOR_STOPPED"),
    ],
)  # fmt: skip
def test_watcher_states_become_contract_states(
    watcher: Status, published: str, code: str | None
) -> None:
    view = view_of(watcher, "c1")
    assert view.state == published
    assert (view.error.code if view.error else None) == code
    assert view.master == "192.0.2.10"  # an address, not a URL
    assert view.since == 100.0


def test_a_status_is_due_when_state_master_or_error_code_change() -> None:
    base = PoolView("degraded", 1.0, "10.0.0.1", error=ErrorBody(code="INTERNAL_ERROR"))
    assert base.changed_from(None)
    assert not base.changed_from(base)
    other = ErrorBody(code="INTERNAL_ERROR", params=["other"])
    same_code = PoolView("degraded", 9.0, "10.0.0.1", 8.0, other)
    assert not same_code.changed_from(base)  # a flapping error does not flood the stream
    assert PoolView("degraded", 1.0, "10.0.0.2", error=base.error).changed_from(base)
    assert PoolView("synced", 1.0, "10.0.0.1").changed_from(base)


def test_the_message() -> None:
    view = PoolView("synced", 100.0, "10.0.0.1", last_event_at=101.5)
    built = message(view, registry_id="lab", pool_uuid="p-1", collector="c1", now=102.0)
    assert (built.registry_id, built.pool_uuid, built.state, built.collector) == (
        "lab", "p-1", "synced", "c1")  # fmt: skip
    assert built.since.timestamp() == 100.0
    assert built.last_event_at is not None and built.last_event_at.timestamp() == 101.5
    assert built.subject == "xorca.v1.status.lab"


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XORCA_COLLECTOR_ID", "collector-7")
    monkeypatch.setenv("XORCA_LEASE_PERIOD", "9")
    monkeypatch.setenv("XORCA_MAX_IN_FLIGHT", "64")
    monkeypatch.setenv("XORCA_NATS_URL", "nats://a:4222,nats://b:4222")
    settings = CollectorSettings()
    assert (settings.collector_id, settings.lease_period, settings.max_in_flight) == (
        "collector-7", 9.0, 64)  # fmt: skip
    assert settings.renew_interval == 3.0
    assert settings.servers == ["nats://a:4222", "nats://b:4222"]
    monkeypatch.delenv("XORCA_COLLECTOR_ID")
    assert CollectorSettings().collector_id == default_collector_id()
    assert default_collector_id().endswith(f"-{__import__('os').getpid()}")
    monkeypatch.setenv("XORCA_COLLECTOR_ID", "has space")
    with pytest.raises(ValueError, match="collector_id"):
        CollectorSettings()
