"""Properties of the codec over arbitrary values and arbitrary input.

Round trips are exact for JSON-RPC. For XML-RPC they are exact up to what the wire itself changes,
spelled out in `as_xmlrpc_reads_it`: 64-bit ints come back as untyped text, floats keep the 16
significant digits of ``%.16g``, and characters XML cannot carry are dropped.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import xmlrpc.client
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xorca.xapi.codec import (
    CodecError,
    JsonRpcVersion,
    XmlRpcFault,
    decode_jsonrpc_request,
    decode_jsonrpc_response,
    decode_xmlrpc_request,
    decode_xmlrpc_response,
    decode_xmlrpc_value,
    encode_jsonrpc_error,
    encode_jsonrpc_request,
    encode_jsonrpc_result,
    encode_xmlrpc_request,
    encode_xmlrpc_response,
    encode_xmlrpc_value,
    failure,
    success,
    unwrap,
)
from xorca.xapi.errors import XapiError
from xorca.xapi.values import DateTime, Int32, Value

# NaN is left out of the nested values only because NaN != NaN; it has its own tests.
# Besides arbitrary text, text dense in what escaping has to get right.
texts = st.one_of(st.text(), st.text(alphabet="&#13;x<>\r\n\t\x00 ]]>"))
scalars: st.SearchStrategy[Value] = st.one_of(
    texts,
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(min_value=-(2**31), max_value=2**31 - 1).map(Int32),
    st.floats(allow_nan=False),
    st.booleans(),
    st.datetimes(min_value=datetime(1970, 1, 1)).map(
        lambda d: DateTime.from_datetime(d.replace(tzinfo=UTC))
    ),
)
values: st.SearchStrategy[Value] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(texts, children, max_size=5)
    ),
    max_leaves=30,
)
method_names = st.from_regex(r"(Async\.)?[A-Za-z_]{1,12}\.[a-z_]{1,20}", fullmatch=True)
ids = st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text())
versions: st.SearchStrategy[JsonRpcVersion] = st.sampled_from(("1.0", "2.0"))

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def as_xmlrpc_reads_it(value: Value) -> Value:
    """What an XML-RPC round trip of ``value`` yields."""
    if isinstance(value, DateTime):
        return value
    if isinstance(value, str):
        return _NOT_XML.sub("", value)
    if isinstance(value, bool):
        return value
    if isinstance(value, Int32):
        return int(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float(f"{value:.16g}")
    if isinstance(value, list):
        return [as_xmlrpc_reads_it(v) for v in value]
    return {_NOT_XML.sub("", k): as_xmlrpc_reads_it(v) for k, v in value.items()}


def same(a: object, b: object) -> bool:
    """Equality that also checks the exact types (True == 1 and DateTime == str otherwise)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if type(a) in (int, Int32) and type(b) in (int, Int32):
        return a == b  # Int32 is a wire hint, not a distinct value once decoded
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------------------- round trips


@given(values)
def test_xmlrpc_response_round_trip(value: Value) -> None:
    assert same(decode_xmlrpc_response(encode_xmlrpc_response(value)), as_xmlrpc_reads_it(value))


@given(method_names, st.lists(values, max_size=4))
def test_xmlrpc_request_round_trip(method: str, params: list[Value]) -> None:
    decoded_method, decoded = decode_xmlrpc_request(encode_xmlrpc_request(method, params))
    assert decoded_method == method
    assert same(decoded, [as_xmlrpc_reads_it(p) for p in params])


@given(values)
def test_xmlrpc_value_round_trip(value: Value) -> None:
    assert same(decode_xmlrpc_value(encode_xmlrpc_value(value)), as_xmlrpc_reads_it(value))


def _from_stdlib(value: object) -> object:
    if isinstance(value, xmlrpc.client.DateTime):
        return DateTime(value.value)
    if isinstance(value, list):
        return [_from_stdlib(v) for v in value]
    if isinstance(value, dict):
        return {k: _from_stdlib(v) for k, v in value.items()}
    return value


@given(values)
def test_python_xmlrpc_client_reads_what_we_write(value: Value) -> None:
    (decoded,), _ = xmlrpc.client.loads(encode_xmlrpc_response(success(value)))
    assert same(_from_stdlib(decoded), success(as_xmlrpc_reads_it(value)))


@given(values)
def test_we_read_what_python_xmlrpc_client_writes(value: Value) -> None:
    def to_stdlib(v: Value) -> object:
        if isinstance(v, DateTime):
            return xmlrpc.client.DateTime(v)
        if isinstance(v, str):
            return _NOT_XML.sub("", v).replace("\r", "\n")  # it writes raw CRs, XML reads LFs
        if isinstance(v, list):
            return [to_stdlib(x) for x in v]
        if isinstance(v, dict):
            return {_NOT_XML.sub("", k).replace("\r", "\n"): to_stdlib(x) for k, x in v.items()}
        if isinstance(v, int) and not isinstance(v, bool):
            # the stdlib refuses ints beyond 32 bits, and knows nothing of Int32
            return int(v) if -(2**31) <= v < 2**31 else str(v)
        return v

    def expected(v: object) -> object:
        if isinstance(v, list):
            return [expected(x) for x in v]
        if isinstance(v, dict):
            return {k: expected(x) for k, x in v.items()}
        return _from_stdlib(v)

    sent = to_stdlib(value)
    body = xmlrpc.client.dumps((cast(Any, sent),), methodresponse=True)
    assert same(decode_xmlrpc_response(body.encode()), expected(sent))


@given(versions, ids, values)
def test_jsonrpc_result_round_trip(version: JsonRpcVersion, ident: str | int, value: Value) -> None:
    decoded = decode_jsonrpc_response(encode_jsonrpc_result(ident, version, value))
    assert (decoded.id, decoded.version, decoded.error_code) == (ident, version, None)
    # DateTime travels as a plain string over JSON: compare the text
    assert decoded.result == value


@given(versions, ids, st.text(), st.lists(st.text(), max_size=4))
def test_jsonrpc_error_round_trip(
    version: JsonRpcVersion, ident: str | int, code: str, params: list[str]
) -> None:
    decoded = decode_jsonrpc_response(encode_jsonrpc_error(ident, version, code, params))
    assert (decoded.error_code, decoded.error_params) == (code, tuple(params))


@given(versions, ids, method_names, st.lists(values, max_size=4))
def test_jsonrpc_request_round_trip(
    version: JsonRpcVersion, ident: str | int, method: str, params: list[Value]
) -> None:
    decoded = decode_jsonrpc_request(encode_jsonrpc_request(method, params, ident, version))
    assert (decoded.method, decoded.params, decoded.id, decoded.version) == (
        method,
        params,
        ident,
        version,
    )


@given(st.lists(st.floats(), min_size=1, max_size=5))
def test_non_finite_floats_round_trip_in_both_protocols(floats: list[float]) -> None:
    by_json = decode_jsonrpc_response(encode_jsonrpc_result(1, "2.0", list(floats))).unwrap()
    by_xml = decode_xmlrpc_value(encode_xmlrpc_value(list(floats)))
    assert isinstance(by_json, list)
    assert isinstance(by_xml, list)
    for original, j, x in zip(floats, by_json, by_xml, strict=True):
        assert isinstance(j, float)
        assert isinstance(x, float)
        if math.isnan(original):
            assert math.isnan(j)
            assert math.isnan(x)
        else:
            assert j == original
            assert x == float(f"{original:.16g}")


@given(values)
def test_envelope_success_unwraps(value: Value) -> None:
    assert unwrap(decode_xmlrpc_response(encode_xmlrpc_response(success(value)))) == (
        as_xmlrpc_reads_it(value)
    )


@given(st.text(min_size=1), st.lists(st.text()))
def test_envelope_failure_raises(code: str, params: list[str]) -> None:
    envelope = decode_xmlrpc_response(encode_xmlrpc_response(failure(code, params)))
    with pytest.raises(XapiError) as caught:
        unwrap(envelope)
    assert caught.value.description == as_xmlrpc_reads_it([code, *params])


# ------------------------------------------------------------------ hostile input: CodecError


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes_only_ever_raise_codec_error(body: bytes) -> None:
    for decode in (
        decode_xmlrpc_request,
        decode_xmlrpc_value,
        decode_jsonrpc_request,
        decode_jsonrpc_response,
    ):
        with contextlib.suppress(CodecError):
            decode(body)
    with contextlib.suppress(CodecError, XmlRpcFault):
        decode_xmlrpc_response(body)


_TAGS = [
    "methodCall", "methodResponse", "methodName", "params", "param", "fault", "value", "struct",
    "member", "name", "array", "data", "string", "i4", "int", "i8", "double", "boolean",
    "dateTime.iso8601", "base64", "nil", "other",
]  # fmt: skip
_TEXTS = ["", "1", "x", " ", "faultCode", "faultString", "2025-03-19T04:16:24Z", "aGk=", "&amp;"]


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tag, inner: f"<{tag}>{''.join(inner)}</{tag}>",
        st.sampled_from(_TAGS),
        st.lists(children, max_size=4),
    )


xml_soup = st.recursive(st.sampled_from(_TEXTS), _element, max_leaves=25).map(
    lambda inner: "<methodResponse>" + inner + "</methodResponse>"
)


@settings(max_examples=500)
@given(st.one_of(xml_soup, xml_soup.map(lambda s: s.replace("Response>", "Call>"))))
def test_wellformed_nonsense_only_ever_raises_codec_error(body: str) -> None:
    """Well-formed XML in the XML-RPC vocabulary but arbitrarily nested: the structure checks."""
    with contextlib.suppress(CodecError):
        decode_xmlrpc_request(body.encode())
    with contextlib.suppress(CodecError, XmlRpcFault):
        decode_xmlrpc_response(body.encode())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
json_envelopes = st.dictionaries(
    st.sampled_from(["jsonrpc", "method", "params", "id", "result", "error", "x"]), json_values
)


@settings(max_examples=300)
@given(st.one_of(json_values, json_envelopes))
def test_arbitrary_json_only_ever_raises_codec_error(document: object) -> None:
    body = json.dumps(document).encode()
    for decode in (decode_jsonrpc_request, decode_jsonrpc_response):
        with contextlib.suppress(CodecError):
            decode(body)
