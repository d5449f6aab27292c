"""The client over real HTTPS: the simulator's self-signed pool certificate verified as a CA,
pinned by fingerprint, or explicitly not checked; each refusing what it should, before login."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.simthread import FAST, SimThread
from xorca.xapi.client import RetryPolicy, TlsError, TlsPolicy, Xapi
from xorca.xapi.fingerprints import normalise_fingerprint
from xorca.xapi_sim.simulator import SimOptions

QUICK = RetryPolicy(attempts=1, backoff=0.05, max_backoff=0.1, probe_timeout=2)


@pytest.fixture(scope="module")
def tls_sim() -> Iterator[SimThread]:
    options = SimOptions(pools=1, hosts_per_pool=2, vms_per_pool=4, seed=3, tls=True, config=FAST)
    with SimThread(options) as sim:
        yield sim


def described(sim: SimThread) -> dict[str, Any]:
    return sim.pool(1).describe()


def connect(sim: SimThread, tls: TlsPolicy, **options: Any) -> Xapi:
    d = described(sim)
    return Xapi(d["url"], d["username"], d["password"], tls=tls, retry=QUICK, **options)


def sessions(sim: SimThread) -> int:
    return len(sim.pool(1).pool.sessions)


async def exercise(xapi: Xapi) -> None:
    """A call, a failover-free redirect target, metrics and a console, all over TLS."""
    assert xapi.master_url.startswith("https://")
    assert len(await xapi.host.get_all()) == 2
    host = next(iter(xapi.hosts))
    assert (await xapi.rrd_updates(host, start=-60)).series
    records = await xapi.VM.get_all_records()
    running = next(
        ref
        for ref, r in records.items()
        if r["power_state"] == "Running" and not r["is_control_domain"]
    )
    async with await xapi.console(running) as console:
        assert await asyncio.wait_for(console.reader.readexactly(12), 5) == b"RFB 003.008\n"


async def test_verified_against_the_pool_certificate(tls_sim: SimThread) -> None:
    policy = TlsPolicy.verified(described(tls_sim)["tls_certificate"])
    async with connect(tls_sim, policy) as xapi:
        await exercise(xapi)


async def test_verification_refuses_an_unknown_self_signed_certificate(tls_sim: SimThread) -> None:
    before = sessions(tls_sim)
    with pytest.raises(TlsError) as info:
        async with connect(tls_sim, TlsPolicy.verified()):
            pass
    assert not info.value.sent and "certificate" in str(info.value)
    assert info.value.method == "session.login_with_password"
    assert sessions(tls_sim) == before


async def test_pinning_accepts_exactly_the_pinned_certificate(tls_sim: SimThread) -> None:
    fingerprint = described(tls_sim)["tls_fingerprint"]
    spelled = "SHA256:" + ":".join(
        fingerprint[i : i + 2].upper() for i in range(0, len(fingerprint), 2)
    )
    assert normalise_fingerprint(spelled) == fingerprint
    async with connect(tls_sim, TlsPolicy.pinned(spelled)) as xapi:
        await exercise(xapi)

    before = sessions(tls_sim)
    with pytest.raises(TlsError, match="pinned") as info:
        async with connect(tls_sim, TlsPolicy.pinned("00" * 32)):
            pass
    assert not info.value.sent
    assert sessions(tls_sim) == before  # refused in the handshake: the password never left


async def test_pinning_is_checked_on_the_console_socket_too(tls_sim: SimThread) -> None:
    fingerprint = described(tls_sim)["tls_fingerprint"]
    async with connect(tls_sim, TlsPolicy.pinned(fingerprint)) as xapi:
        records = await xapi.VM.get_all_records()
        running = next(
            ref
            for ref, r in records.items()
            if r["power_state"] == "Running" and not r["is_control_domain"]
        )
        # the same client, with a pin that no longer matches, must refuse the console host
        xapi.transport.ssl_context = TlsPolicy.pinned("11" * 32).context()
        with pytest.raises(TlsError, match="pinned"):
            await xapi.console(running)


async def test_skipping_verification_must_be_asked_for(tls_sim: SimThread) -> None:
    async with connect(tls_sim, TlsPolicy.insecure()) as xapi:
        await exercise(xapi)
    with pytest.raises(TlsError):
        async with connect(tls_sim, TlsPolicy()):  # the default verifies
            pass
