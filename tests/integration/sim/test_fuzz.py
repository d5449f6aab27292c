"""Random requests at a live simulator: it answers every one as xapi would and never falls over."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.sdk import raw_proxy
from tests.support.simthread import SimThread
from xorca.xapi import codec
from xorca.xapi.datamodel import datamodel

METHODS = sorted(
    m.wire_name
    for c in datamodel().classes.values()
    for m in c.messages.values()
    # nothing that would take minutes or change the shared pool's topology for other tests
    if not m.wire_name.startswith(("session.logout", "event.", "host.", "pool.", "VM.destroy"))
    and m.implicit
)
scalars = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.just("OpaqueRef:NULL"),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def target(sim: SimThread) -> tuple[str, str]:
    url = str(sim.pool(2).describe()["url"])
    with raw_proxy(url) as raw:
        session = raw.session.login_with_password("root", "xorca")["Value"]
    return url, session


def check_alive(url: str) -> None:
    answer = httpx.post(
        f"{url}/jsonrpc", json={"jsonrpc": "2.0", "method": "system.listMethods", "id": 0}
    )
    assert answer.status_code == 200


@FUZZ
@given(
    method=st.sampled_from(METHODS), params=st.lists(values, max_size=4), with_session=st.booleans()
)
def test_random_json_rpc_calls(
    target: tuple[str, str], method: str, params: list[Any], with_session: bool
) -> None:
    url, session = target
    body = {
        "jsonrpc": "2.0",
        "method": method,
        "params": ([session] if with_session else []) + params,
        "id": 1,
    }
    answer = httpx.post(f"{url}/jsonrpc", content=orjson.dumps(body), timeout=30)
    assert answer.status_code == 200
    decoded = orjson.loads(answer.content)
    assert ("result" in decoded) != ("error" in decoded)
    if "error" in decoded:
        assert decoded["error"]["code"] == 1
        assert decoded["error"]["message"] != "INTERNAL_ERROR", decoded


@FUZZ
@given(method=st.sampled_from(METHODS), params=st.lists(values, max_size=4))
def test_random_xml_rpc_calls(target: tuple[str, str], method: str, params: list[Any]) -> None:
    url, session = target
    body = codec.encode_xmlrpc_request(method, [session, *params])
    answer = httpx.post(url, content=body, timeout=30)
    assert answer.status_code == 200
    envelope = xmlrpc.client.loads(answer.content)[0][0]
    assert envelope["Status"] in ("Success", "Failure")
    if envelope["Status"] == "Failure":
        assert envelope["ErrorDescription"][0] != "INTERNAL_ERROR", envelope


@FUZZ
@given(body=st.binary(max_size=300), path=st.sampled_from(["/", "/jsonrpc", "/RPC2"]))
def test_random_bytes(target: tuple[str, str], body: bytes, path: str) -> None:
    url, _ = target
    answer = httpx.post(url + path, content=body, timeout=30)
    assert answer.status_code in (200, 500)
    check_alive(url)
