"""JSON-RPC codec: both versions, xapi's exact reply shapes, and every way a body can be wrong."""

from __future__ import annotations

import json
import math

import pytest

from xorca.xapi.codec import (
    CodecError,
    JsonRpcRequest,
    JsonRpcResponse,
    JsonRpcVersion,
    decode_jsonrpc_request,
    decode_jsonrpc_response,
    encode_jsonrpc_error,
    encode_jsonrpc_request,
    encode_jsonrpc_result,
)
from xorca.xapi.errors import XapiError
from xorca.xapi.values import DateTime, Int32, Value

# ----------------------------------------------------------------------------------- requests


def test_version_2_request() -> None:
    body = (
        b'{"jsonrpc":"2.0","method":"VM.start",'
        b'"params":["OpaqueRef:s","OpaqueRef:v",false,true],"id":7}'
    )
    assert decode_jsonrpc_request(body) == JsonRpcRequest(
        "VM.start", ["OpaqueRef:s", "OpaqueRef:v", False, True], 7, "2.0"
    )


def test_version_1_request() -> None:
    body = b'{"method":"session.login_with_password","params":["root","pw"],"id":"a"}'
    assert decode_jsonrpc_request(body) == JsonRpcRequest(
        "session.login_with_password", ["root", "pw"], "a", "1.0"
    )


@pytest.mark.parametrize("params", ["", ',"params":null'])
def test_version_2_params_default_to_empty(params: str) -> None:
    body = f'{{"jsonrpc":"2.0","method":"pool.get_all"{params},"id":1}}'.encode()
    assert decode_jsonrpc_request(body).params == []


def test_version_2_object_params_are_the_single_argument() -> None:
    # As ocaml-rpc does, so that constructors can be called with a by-name record.
    body = b'{"jsonrpc":"2.0","method":"VM.create","params":{"name_label":"x"},"id":1}'
    assert decode_jsonrpc_request(body).params == [{"name_label": "x"}]


def test_request_values_keep_json_types() -> None:
    body = b'{"method":"m","params":[1,-2.5,"3",[{"a":null}],null,NaN,-Infinity,1e999],"id":0}'
    params = decode_jsonrpc_request(body).params
    assert params[:5] == [1, -2.5, "3", [{"a": ""}], ""]  # null is read as XAPI's void
    assert type(params[0]) is int
    assert isinstance(params[5], float)
    assert math.isnan(params[5])
    assert params[6:] == [-math.inf, math.inf]


def test_request_unicode_escapes_and_literals() -> None:
    body = '{"method":"m","params":["h\\u00e9 ☃"],"id":1}'
    assert decode_jsonrpc_request(body.encode()).params == ["hé ☃"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "malformed JSON"),
        (b"<methodCall/>", "malformed JSON"),
        (b'{"method":"m","params":[],"id":1', "malformed JSON"),
        (b'{"method":"m","params":["\xff"],"id":1}', "not UTF-8"),
        (b"[1,2]", "a JSON-RPC request must be an object, got list"),
        (b'"m"', "must be an object, got str"),
        (b'{"method":"m","params":[]}', "missing or null 'id': notifications"),
        (b'{"method":"m","params":[],"id":null}', "missing or null 'id'"),
        (b'{"method":"m","params":[],"id":true}', "'id' must be a string or an integer"),
        (b'{"method":"m","params":[],"id":1.5}', "'id' must be a string or an integer"),
        (b'{"method":"m","params":[],"id":[1]}', "'id' must be a string or an integer"),
        (b'{"params":[],"id":1}', "'method' must be a string, got None"),
        (b'{"method":3,"params":[],"id":1}', "'method' must be a string, got 3"),
        (b'{"method":"m","id":1}', "'params' must be an array, got NoneType"),
        (b'{"method":"m","params":{"a":1},"id":1}', "'params' must be an array, got dict"),
        (b'{"jsonrpc":"2.0","method":"m","params":"x","id":1}', "must be an array, got str"),
        (b'{"jsonrpc":"1.0","method":"m","params":[],"id":1}', "unsupported 'jsonrpc'"),
        (b'{"jsonrpc":2.0,"method":"m","params":[],"id":1}', "unsupported 'jsonrpc'"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_bad_requests(body: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_jsonrpc_request(body)


def test_encode_requests() -> None:
    assert encode_jsonrpc_request("VM.start", ["s", "v", False, True], 3) == (
        b'{"jsonrpc":"2.0","method":"VM.start","params":["s","v",false,true],"id":3}'
    )
    assert encode_jsonrpc_request("pool.get_all", [], "x", "1.0") == (
        b'{"method":"pool.get_all","params":[],"id":"x"}'
    )


def test_request_round_trip() -> None:
    params: list[Value] = [
        "s",
        2**63 - 1,
        Int32(-1),
        0.5,
        [True, {"k": DateTime("20250319T04:16:24Z")}],
    ]
    decoded = decode_jsonrpc_request(encode_jsonrpc_request("X.y", params, 9, "1.0"))
    assert decoded == JsonRpcRequest("X.y", params, 9, "1.0")


# ---------------------------------------------------------------------------------- responses


def test_result_shapes() -> None:
    assert encode_jsonrpc_result(1, "2.0", "OpaqueRef:x") == (
        b'{"jsonrpc":"2.0","result":"OpaqueRef:x","id":1}'
    )
    assert encode_jsonrpc_result("a", "1.0", "") == b'{"result":"","error":null,"id":"a"}'


def test_error_shapes() -> None:
    assert encode_jsonrpc_error(1, "2.0", "HANDLE_INVALID", ["VM", "OpaqueRef:x"]) == (
        b'{"jsonrpc":"2.0","error":{"code":1,"message":"HANDLE_INVALID",'
        b'"data":["VM","OpaqueRef:x"]},"id":1}'
    )
    assert encode_jsonrpc_error("a", "1.0", "SESSION_INVALID", ["OpaqueRef:s"]) == (
        b'{"result":null,"error":["SESSION_INVALID","OpaqueRef:s"],"id":"a"}'
    )
    assert encode_jsonrpc_error(2, "2.0", "EVENTS_LOST", []) == (
        b'{"jsonrpc":"2.0","error":{"code":1,"message":"EVENTS_LOST","data":[]},"id":2}'
    )


def test_values_on_the_wire() -> None:
    value: dict[str, Value] = {
        "memory": 4294967296,
        "refs": Int32(3),
        "when": DateTime("19700101T00:00:00Z"),
        "f": 0.1,
        "b": False,
        "l": [],
        "m": {},
    }
    assert encode_jsonrpc_result(0, "2.0", value) == (
        b'{"jsonrpc":"2.0","result":{"memory":4294967296,"refs":3,'
        b'"when":"19700101T00:00:00Z","f":0.1,"b":false,"l":[],"m":{}},"id":0}'
    )


def test_non_finite_floats_are_bare_tokens() -> None:
    body = encode_jsonrpc_result(1, "1.0", [math.nan, math.inf, -math.inf, 1.5, "null"])
    assert body == b'{"result":[NaN,Infinity,-Infinity,1.5,"null"],"error":null,"id":1}'
    result = decode_jsonrpc_response(body).unwrap()
    assert isinstance(result, list)
    assert math.isnan(result[0])  # type: ignore[arg-type]
    assert result[1:] == [math.inf, -math.inf, 1.5, "null"]


def test_strings_that_look_like_null_take_the_fast_path_correctly() -> None:
    assert encode_jsonrpc_result(1, "2.0", {"null": ",null,"}) == (
        b'{"jsonrpc":"2.0","result":{"null":",null,"},"id":1}'
    )


def test_values_orjson_refuses_still_encode() -> None:
    big = 2**70
    assert encode_jsonrpc_result(1, "2.0", big) == b'{"jsonrpc":"2.0","result":%d,"id":1}' % big
    body = encode_jsonrpc_result(1, "2.0", "a\ud800b")
    assert body == b'{"jsonrpc":"2.0","result":"a\\ud800b","id":1}'
    assert json.loads(body)["result"] == "a\ud800b"


def test_unencodable_values_raise_type_error() -> None:
    with pytest.raises(TypeError):
        encode_jsonrpc_result(1, "2.0", {1, 2})  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_id", [True, 1.5, None, [1]])
def test_encoders_check_the_id(bad_id: object) -> None:
    with pytest.raises(TypeError, match="JSON-RPC id must be a str or an int"):
        encode_jsonrpc_result(bad_id, "2.0", "")  # type: ignore[arg-type]


def test_encoders_check_the_version() -> None:
    with pytest.raises(CodecError, match=r"version must be '1\.0' or '2\.0'"):
        encode_jsonrpc_error(1, "3.0", "X", [])  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="version must be"):
        encode_jsonrpc_request("m", [], 1, "2")  # type: ignore[arg-type]


def test_params_must_not_be_a_bare_string() -> None:
    with pytest.raises(TypeError, match="params must be a sequence of values"):
        encode_jsonrpc_request("m", "abc", 1)


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_response_round_trips(version: JsonRpcVersion) -> None:
    ok = decode_jsonrpc_response(encode_jsonrpc_result(5, version, {"a": [1, "b"]}))
    assert ok == JsonRpcResponse(5, version, {"a": [1, "b"]})
    assert ok.unwrap() == {"a": [1, "b"]}
    err = decode_jsonrpc_response(
        encode_jsonrpc_error("i", version, "VM_BAD_POWER_STATE", ["v", "halted", "running"])
    )
    assert err == JsonRpcResponse(
        "i",
        version,
        error_code="VM_BAD_POWER_STATE",
        error_params=("v", "halted", "running"),
    )
    with pytest.raises(XapiError) as caught:
        err.unwrap()
    assert caught.value.description == ["VM_BAD_POWER_STATE", "v", "halted", "running"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"result":null,"error":null,"id":1}', JsonRpcResponse(1, "1.0", "")),
        (b'{"result":[null],"error":null,"id":1}', JsonRpcResponse(1, "1.0", [""])),
        (b'{"jsonrpc":"2.0","result":null,"id":1}', JsonRpcResponse(1, "2.0", "")),
        (
            b'{"result":null,"error":{"code":1,"message":"X","data":["a",2]},"id":1}',
            JsonRpcResponse(1, "1.0", error_code="X", error_params=("a", "2")),
        ),
        (
            b'{"jsonrpc":"2.0","error":["X",true],"id":1}',
            JsonRpcResponse(1, "2.0", error_code="X", error_params=("true",)),
        ),
        (
            b'{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}',
            JsonRpcResponse(1, "2.0", error_code="Method not found"),
        ),
        (
            b'{"jsonrpc":"2.0","error":{"code":1,"message":"X","data":"one"},"id":1}',
            JsonRpcResponse(1, "2.0", error_code="X", error_params=("one",)),
        ),
    ],
)
def test_lenient_responses(body: bytes, expected: JsonRpcResponse) -> None:
    assert decode_jsonrpc_response(body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"nope", "malformed JSON"),
        (b"[]", "a JSON-RPC response must be an object"),
        (b'{"result":1,"error":null}', "missing or null 'id'"),
        (b'{"result":1,"id":1}', "1.0 response needs both 'result' and 'error'"),
        (b'{"error":null,"id":1}', "1.0 response needs both"),
        (b'{"result":1,"error":["X"],"id":1}', "has both a result and an error"),
        (b'{"jsonrpc":"2.0","id":1}', "exactly one of 'result' and 'error'"),
        (b'{"jsonrpc":"2.0","result":1,"error":["X"],"id":1}', "exactly one of"),
        (b'{"jsonrpc":"2.0","error":null,"id":1}', "unrecognised JSON-RPC error None"),
        (b'{"jsonrpc":"2.0","error":[],"id":1}', "unrecognised JSON-RPC error"),
        (b'{"jsonrpc":"2.0","error":[1,"a"],"id":1}', "unrecognised JSON-RPC error"),
        (b'{"jsonrpc":"2.0","error":{"code":1},"id":1}', "unrecognised JSON-RPC error"),
        (b'{"jsonrpc":"3.0","result":1,"id":1}', "unsupported 'jsonrpc'"),
    ],
)
def test_bad_responses(body: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_jsonrpc_response(body)
