"""JSON-RPC 1.0 and 2.0 as xapi speaks them: pure functions from values to bytes and back.

The rules are ocaml-rpc's ``jsonrpc.ml``, which xapi uses. The version is 2.0 when the request says
``"jsonrpc": "2.0"`` (any other ``jsonrpc`` value is refused), otherwise 1.0. ``id`` is mandatory:
xapi answers notifications with HTTP 500, so they are a `CodecError` here. In 2.0 a missing or null
``params`` is ``[]`` and a by-name object is passed as the one parameter, as xapi does for
constructors. Failures are ``error: [code, params...]`` in 1.0 and
``error: {code: 1, message: CODE, data: [params...]}`` in 2.0; the numeric code is always 1.

orjson does the work, with the standard library as the fallback for the two things orjson will not
do: read the bare ``NaN``/``Infinity``/``-Infinity`` tokens xapi writes for non-finite floats, and
write them (orjson writes ``null`` instead). JSON ``null`` is read as ``""``, XAPI's void, since no
XAPI type is nullable and `Value` has no ``None``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

import orjson

from xorca.xapi.codec.envelope import CodecError
from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value

__all__ = [
    "JsonRpcRequest",
    "JsonRpcResponse",
    "JsonRpcVersion",
    "decode_jsonrpc_request",
    "decode_jsonrpc_response",
    "encode_jsonrpc_error",
    "encode_jsonrpc_request",
    "encode_jsonrpc_result",
]

JsonRpcVersion: TypeAlias = Literal["1.0", "2.0"]
JsonRpcId: TypeAlias = str | int


@dataclass(frozen=True)
class JsonRpcRequest:
    method: str
    params: list[Value]
    id: JsonRpcId
    version: JsonRpcVersion


@dataclass(frozen=True)
class JsonRpcResponse:
    """A decoded reply: ``error_code`` is ``None`` on success, else the XAPI error code."""

    id: JsonRpcId
    version: JsonRpcVersion
    result: Value = ""
    error_code: str | None = None
    error_params: tuple[str, ...] = ()

    def unwrap(self) -> Value:
        """The result, or `XapiError` for an error reply."""
        if self.error_code is not None:
            raise XapiError(self.error_code, self.error_params)
        return self.result


# --------------------------------------------------------------------------------------- decoding


def _loads(body: bytes | str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # maybe only the non-standard NaN/Infinity tokens; the stdlib parser reads those
    try:
        text = body.decode() if isinstance(body, bytes) else body
    except UnicodeDecodeError as e:
        raise CodecError(f"JSON body is not UTF-8: {e}") from e
    try:
        return json.loads(text)
    except RecursionError as e:
        raise CodecError("malformed JSON: nested too deeply") from e
    except ValueError as e:  # JSONDecodeError, and int() refusing thousands of digits
        raise CodecError(f"malformed JSON: {e}") from e


def _scrub(value: Any) -> Value:
    """``value`` with every ``null`` replaced by ``""``, in place (the value is freshly decoded)."""
    if value is None:
        return ""
    if type(value) is list:
        for i, item in enumerate(value):
            if item is None:
                value[i] = ""
            elif type(item) is list or type(item) is dict:
                _scrub(item)
    elif type(value) is dict:
        for key, item in value.items():
            if item is None:
                value[key] = ""
            elif type(item) is list or type(item) is dict:
                _scrub(item)
    return cast(Value, value)


def _value(value: Any, body: bytes | str) -> Value:
    # The walk is skipped when the text has no "null" at all, the usual case for a big answer.
    if not (b"null" in body if isinstance(body, bytes) else "null" in body):
        return cast(Value, value)
    try:
        return _scrub(value)
    except RecursionError as e:
        raise CodecError("JSON value nested too deeply") from e


def _object(body: bytes | str, what: str) -> dict[str, Any]:
    document = _loads(body)
    if not isinstance(document, dict):
        raise CodecError(f"a JSON-RPC {what} must be an object, got {type(document).__name__}")
    return document


def _version(document: dict[str, Any]) -> JsonRpcVersion:
    if "jsonrpc" not in document:
        return "1.0"
    if document["jsonrpc"] == "2.0":
        return "2.0"
    raise CodecError(f"unsupported 'jsonrpc' member {document['jsonrpc']!r}; only '2.0' exists")


def _id(document: dict[str, Any]) -> JsonRpcId:
    ident = document.get("id")
    if ident is None:
        raise CodecError("missing or null 'id': notifications are not supported")
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        raise CodecError(f"'id' must be a string or an integer, got {ident!r}")
    return ident


def decode_jsonrpc_request(body: bytes) -> JsonRpcRequest:
    document = _object(body, "request")
    version = _version(document)
    method = document.get("method")
    if not isinstance(method, str):
        raise CodecError(f"'method' must be a string, got {method!r}")
    params = document.get("params")
    if isinstance(params, list):
        pass
    elif version == "2.0" and params is None:
        params = []
    elif version == "2.0" and isinstance(params, dict):
        params = [params]  # by-name parameters: xapi passes the object as the one argument
    else:
        raise CodecError(f"'params' must be an array, got {type(params).__name__}")
    return JsonRpcRequest(method, cast(list[Value], _value(params, body)), _id(document), version)


def _description(error: Any) -> tuple[str, tuple[str, ...]]:
    """(code, params) from either error shape, whichever version the reply claims."""
    if isinstance(error, list) and error and isinstance(error[0], str):
        return error[0], tuple(_text(p) for p in error[1:])
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        data = error.get("data")
        params = data if isinstance(data, list) else [] if data is None else [data]
        return error["message"], tuple(_text(p) for p in params)
    raise CodecError(f"unrecognised JSON-RPC error {error!r}")


def _text(param: Any) -> str:
    return param if isinstance(param, str) else json.dumps(param)


def decode_jsonrpc_response(body: bytes) -> JsonRpcResponse:
    document = _object(body, "response")
    version, ident = _version(document), _id(document)
    has_result, has_error = "result" in document, "error" in document
    result, error = document.get("result"), document.get("error")
    if version == "1.0":
        if not (has_result and has_error):
            raise CodecError("a JSON-RPC 1.0 response needs both 'result' and 'error'")
        failed = error is not None
        if failed and result is not None:
            raise CodecError("JSON-RPC 1.0 response has both a result and an error")
    else:
        if has_result == has_error:
            raise CodecError("a JSON-RPC 2.0 response needs exactly one of 'result' and 'error'")
        failed = has_error
    if failed:
        code, params = _description(error)
        return JsonRpcResponse(ident, version, error_code=code, error_params=params)
    return JsonRpcResponse(ident, version, result=_value(result, body))


# --------------------------------------------------------------------------------------- encoding

# orjson writes NaN and the infinities as null; a null token in its output means we must redo it.
_NULL_TOKEN = re.compile(rb"(?:^|[\[:,])null(?:[\]},]|$)")


def _dumps(value: object) -> bytes:
    try:
        out = orjson.dumps(value)
    except TypeError:  # ints beyond 64 bits, lone surrogates: the stdlib copes, or says why not
        return _stdlib_dumps(value)
    if b"null" in out and _NULL_TOKEN.search(out):
        return _stdlib_dumps(value)
    return out


def _stdlib_dumps(value: object) -> bytes:
    # allow_nan writes the bare NaN/Infinity/-Infinity tokens xapi writes; ASCII output is valid
    # UTF-8 even for strings holding lone surrogates.
    return json.dumps(value, separators=(",", ":"), allow_nan=True).encode()


def _checked(ident: JsonRpcId, version: str) -> bytes:
    if version not in ("1.0", "2.0"):
        raise CodecError(f"JSON-RPC version must be '1.0' or '2.0', got {version!r}")
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        raise TypeError(f"JSON-RPC id must be a str or an int, got {type(ident).__name__}")
    return _dumps(ident)


def encode_jsonrpc_request(
    method: str, params: Sequence[Value], id: JsonRpcId, version: JsonRpcVersion = "2.0"
) -> bytes:
    ident = _checked(id, version)
    if isinstance(params, str):
        raise TypeError("params must be a sequence of values, not a str")
    head = b'{"jsonrpc":"2.0","method":' if version == "2.0" else b'{"method":'
    return b'%s%s,"params":%s,"id":%s}' % (head, _dumps(method), _dumps(list(params)), ident)


def encode_jsonrpc_result(id: JsonRpcId, version: JsonRpcVersion, result: Value) -> bytes:
    ident = _checked(id, version)
    if version == "2.0":
        return b'{"jsonrpc":"2.0","result":%s,"id":%s}' % (_dumps(result), ident)
    return b'{"result":%s,"error":null,"id":%s}' % (_dumps(result), ident)


def encode_jsonrpc_error(
    id: JsonRpcId, version: JsonRpcVersion, code: str, params: Sequence[str]
) -> bytes:
    ident = _checked(id, version)
    strings = [str(p) for p in params]
    if version == "2.0":
        error = _dumps({"code": 1, "message": code, "data": strings})
        return b'{"jsonrpc":"2.0","error":%s,"id":%s}' % (error, ident)
    return b'{"result":null,"error":%s,"id":%s}' % (_dumps([code, *strings]), ident)
