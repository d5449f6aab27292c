"""HTTPS with a self-signed certificate per pool, as real hosts serve it."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.simthread import FAST, SimThread
from xorca.xapi_sim.simulator import SimOptions


@pytest.fixture(scope="module")
def tls_sim() -> Iterator[SimThread]:
    with SimThread(
        SimOptions(pools=1, hosts_per_pool=2, vms_per_pool=2, tls=True, config=FAST)
    ) as sim:
        yield sim


def test_the_certificate_verifies_for_every_host_address(
    tls_sim: SimThread, tmp_path: Path
) -> None:
    described = tls_sim.pool(1).describe()
    assert described["url"].startswith("https://")
    ca = tmp_path / "pool.pem"
    ca.write_text(described["tls_certificate"])
    context = ssl.create_default_context(cafile=str(ca))
    for url in [described["url"], *described["members"]]:
        answer = httpx.post(
            f"{url}/jsonrpc",
            json={"jsonrpc": "2.0", "method": "system.listMethods", "id": 1},
            verify=context,
        )
        assert answer.status_code == 200


def test_unknown_certificates_are_refused_and_fingerprints_match(tls_sim: SimThread) -> None:
    described = tls_sim.pool(1).describe()
    with pytest.raises(httpx.ConnectError):
        httpx.get(described["url"])
    host, port = described["url"].split("//")[1].rsplit(":", 1)
    pem = ssl.get_server_certificate((host, int(port)))
    der = ssl.PEM_cert_to_DER_cert(pem)
    assert hashlib.sha256(der).hexdigest() == described["tls_fingerprint"]


def test_the_sdk_works_over_https_without_verification(tls_sim: SimThread) -> None:
    import XenAPI

    session = XenAPI.Session(tls_sim.pool(1).describe()["url"], ignore_ssl=True)
    try:
        session.xenapi.login_with_password("root", "xorca")
        assert len(session.xenapi.host.get_all()) == 2
        session.xenapi.session.logout()
    finally:
        session("close")()
