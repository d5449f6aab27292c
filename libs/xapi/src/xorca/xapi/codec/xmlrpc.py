"""XML-RPC as xapi speaks it: pure functions from values to bytes and back.

Encoding follows ocaml-rpc's ``xmlrpc.ml`` in the non-strict mode xapi uses, byte for byte where it
matters: strings *and 64-bit ints* are untyped ``<value>text</value>``, `Int32` is ``<i4>``, floats
are ``<double>`` printed with ``%.16g`` (so NaN and infinities print as ``nan``/``inf``/``-inf``, as
OCaml's printf does, and Python's ``float()`` reads them back), and there is no whitespace between
tags. Two deliberate differences: struct member names are escaped (ocaml-rpc writes them raw), and
``\\r`` is written as ``&#13;`` so it survives XML's line-end normalisation. Characters XML 1.0
cannot carry at all (C0 controls other than tab/LF/CR, lone surrogates, U+FFFE/U+FFFF) are
dropped, as ocaml-rpc drops control characters.

Decoding is lenient, because requests come from every XML-RPC client there is: typed or untyped
scalars, pretty-printed whitespace, CDATA, ``<nil/>`` (read as ``""``, XAPI's void, since no XAPI
type is nullable). An untyped value stays a ``str``; the dispatcher coerces it by datamodel type.
A ``VM.get_all_records`` answer for a large pool is over 100 MB, so decoding uses ``pyexpat``
callbacks over an explicit stack: no tree is built (ElementTree's would be several times the size
of the result), nothing recurses (deep nesting cannot exhaust the Python stack), and the
handlers do as little per element as keeps the stack consistent. DOCTYPE and entity declarations
are refused outright, which rules out entity bombs.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn
from xml.parsers import expat

from xorca.xapi.codec.envelope import CodecError
from xorca.xapi.values import DateTime, Int32, Value

__all__ = [
    "XmlRpcFault",
    "decode_xmlrpc_request",
    "decode_xmlrpc_response",
    "decode_xmlrpc_value",
    "encode_xmlrpc_fault",
    "encode_xmlrpc_request",
    "encode_xmlrpc_response",
    "encode_xmlrpc_value",
]


class XmlRpcFault(Exception):
    """A ``<fault>`` response: the server refused the call below the XAPI level."""

    def __init__(self, code: int, string: str) -> None:
        self.code = code
        self.string = string
        super().__init__(code, string)

    def __str__(self) -> str:
        return f"XML-RPC fault {self.code}: {self.string}"


# --------------------------------------------------------------------------------------- encoding

_XML_DECL = '<?xml version="1.0"?>'
# Not representable in XML 1.0 even as a character reference; U+FFFE/U+FFFF and lone surrogates
# are also what str.isprintable() rejects, which gives _escape its fast path.
_UNREPRESENTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if escaped.isprintable():  # the usual case: no control, line-end or unassigned characters
        return escaped
    return _UNREPRESENTABLE.sub("", escaped).replace("\r", "&#13;")


def _encode(value: Value, out: list[str]) -> None:
    # Dispatch on the exact class first: this runs once per value of a 100 MB answer.
    if type(value) is str:
        out.append(f"<value>{_escape(value)}</value>")
    elif type(value) is dict:
        out.append("<value><struct>")
        for key, item in value.items():
            if type(key) is not str:
                key = _key(key)
            if type(item) is str:  # the common member, inlined
                out.append(f"<member><name>{_escape(key)}</name><value>{_escape(item)}</value>")
            else:
                out.append(f"<member><name>{_escape(key)}</name>")
                _encode(item, out)
            out.append("</member>")
        out.append("</struct></value>")
    elif type(value) is list:
        out.append("<value><array><data>")
        for item in value:
            _encode(item, out)
        out.append("</data></array></value>")
    elif type(value) is int:
        out.append(f"<value>{value}</value>")
    elif type(value) is bool:
        out.append(_TRUE if value else _FALSE)
    elif type(value) is float:
        out.append(f"<value><double>{value:.16g}</double></value>")
    elif type(value) is DateTime:
        out.append(f"<value><dateTime.iso8601>{_escape(value)}</dateTime.iso8601></value>")
    elif type(value) is Int32:
        out.append(f"<value><i4>{int(value)}</i4></value>")
    else:
        _encode(_exact(value), out)


def _key(key: object) -> str:
    if isinstance(key, str):
        return str.__str__(key)
    raise TypeError(f"XML-RPC struct keys must be str, got {type(key).__name__}")


_TRUE = "<value><boolean>1</boolean></value>"
_FALSE = "<value><boolean>0</boolean></value>"


def _exact(value: object) -> Value:
    """A value of a subclass (an ``IntEnum``, a ``UserString``...) as its plain wire type."""
    if isinstance(value, DateTime):
        return DateTime(str.__str__(value))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, Int32):
        return Int32(int(value))
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list | tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as an XAPI value")


def encode_xmlrpc_value(value: Value) -> str:
    """One ``<value>...</value>``, as XAPI stores it in ``task.result`` (void: ``<value></value>``).

    Returns text, not bytes, because it becomes a string field of a task record.
    """
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def encode_xmlrpc_request(method: str, params: Sequence[Value]) -> bytes:
    if isinstance(params, str):  # a str is a Sequence too, and the mistake is easy to make
        raise TypeError("params must be a sequence of values, not a str")
    out = [_XML_DECL, "<methodCall><methodName>", _escape(method), "</methodName><params>"]
    for param in params:
        out.append("<param>")
        _encode(param, out)
        out.append("</param>")
    out.append("</params></methodCall>")
    return "".join(out).encode()


def encode_xmlrpc_response(value: Value) -> bytes:
    """A ``methodResponse`` carrying ``value`` (normally an envelope from `success`/`failure`)."""
    out = [_XML_DECL, "<methodResponse><params><param>"]
    _encode(value, out)
    out.append("</param></params></methodResponse>")
    return "".join(out).encode()


def encode_xmlrpc_fault(code: int, string: str) -> bytes:
    """A ``<fault>`` response, for failures below the XAPI level (xapi itself answers HTTP 500)."""
    return (
        f"{_XML_DECL}<methodResponse><fault><value><struct>"
        f"<member><name>faultCode</name><value><int>{int(code)}</int></value></member>"
        f"<member><name>faultString</name><value>{_escape(string)}</value></member>"
        f"</struct></value></fault></methodResponse>"
    ).encode()


# --------------------------------------------------------------------------------------- decoding

_DATETIME = re.compile(
    r"(\d{4})-?(\d\d)-?(\d\d)T(\d\d):?(\d\d):?(\d\d)(?:[.,]\d+)?(Z|[+-]\d\d(?::?\d\d)?)?"
)


def _datetime(text: str) -> DateTime:
    """XAPI's ``YYYYMMDDTHH:MM:SSZ`` from any of the ISO 8601 spellings clients send."""
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 datetime: {text!r}")
    year, month, day, hour, minute, second, zone = match.groups()
    naive = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
    datetime.fromisoformat(naive)  # raises ValueError on a 31 February
    if zone is None or zone == "Z" or zone.strip("+-:0") == "":
        # No zone (python's xmlrpc.client sends none) is taken as UTC, as XAPI does.
        return DateTime(f"{year}{month}{day}T{hour}:{minute}:{second}Z")
    return DateTime.from_datetime(datetime.fromisoformat(naive + zone).astimezone(UTC))


def _boolean(text: str) -> bool:
    flag = text.strip().lower()
    if flag in ("1", "true"):
        return True
    if flag in ("0", "false"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _base64(text: str) -> str:
    # Value has no bytes type and XAPI never sends base64; read it as the UTF-8 text it carries.
    # Line breaks are allowed (RFC 2045, as pretty printers emit); anything else non-base64 is not.
    packed = "".join(text.split()).encode("ascii")
    return binascii.a2b_base64(packed, strict_mode=True).decode()


_SCALARS: dict[str, Callable[[str], Value]] = {
    "string": str,
    "i4": int,
    "int": int,
    "i8": int,
    "double": float,
    "boolean": _boolean,
    "dateTime.iso8601": _datetime,
    "base64": _base64,
}
_FRAMING = frozenset({"methodCall", "methodResponse", "methodName", "params", "param", "fault"})
# Elements whose start needs no action beyond resetting the text.
_PASSIVE = frozenset({"member", "name", "data", "nil", *_SCALARS, *_FRAMING})


def _fail(parser: Any, message: str) -> NoReturn:
    line, column = parser.CurrentLineNumber, parser.CurrentColumnNumber
    raise CodecError(f"{message} (line {line}, column {column})")


def _parse(body: bytes | str, root: str) -> tuple[str | None, list[Value], int, bool]:
    """Parse a document whose root element must be ``root``.

    Returns the methodName (if any), the values found at the top level (in a ``<param>``, a
    ``<fault>``, or the root itself), how many ``<param>``/``<fault>`` slots held them, and whether
    one was a fault.

    The handlers are closures over local state, the cheapest state CPython offers, and they check
    only what keeps the stack consistent: checking every element's parent cost a fifth of the parse
    time. So misplaced framing is tolerated where its meaning is still clear, and anything that
    would corrupt the result is a `CodecError`.
    """
    parser = expat.ParserCreate()
    parser.buffer_text = True  # one callback per text node instead of one per line or entity
    parser.buffer_size = 1 << 16
    results: list[Value] = []
    stack: list[Any] = [results]  # the containers being filled; results collects top values
    keys: list[str | None] = []  # per open struct: the name waiting for its value
    text = ""  # character data since the last start tag
    scalar: Value = ""  # the last typed child or finished container
    typed = False  # whether the open <value> has had a typed child
    method: str | None = None
    slots = 0
    fault = False

    def first(tag: str, attrs: object) -> None:
        if tag != root:
            _fail(parser, f"expected <{root}> as the root element, got <{tag}>")
        parser.StartElementHandler = start
        start(tag, attrs)

    def start(tag: str, _attrs: object) -> None:
        nonlocal text, typed
        text = ""
        if tag == "value":
            typed = False
        elif tag in _PASSIVE:
            pass
        elif tag == "struct":
            stack.append({})
            keys.append(None)
        elif tag == "array":
            stack.append([])
        else:
            _fail(parser, f"unknown element <{tag}>")

    def end(tag: str) -> None:
        nonlocal typed, scalar, method, slots, fault
        if tag == "value":
            value = scalar if typed else text
            top = stack[-1]
            if type(top) is dict:
                key = keys[-1]
                if key is None:
                    _fail(parser, "struct <value> without a <name>")
                top[key] = value
                keys[-1] = None
            else:
                top.append(value)
        elif tag == "name":
            if type(stack[-1]) is not dict:
                _fail(parser, "<name> outside a struct <member>")
            keys[-1] = text
        elif tag == "member":
            if type(stack[-1]) is not dict:
                _fail(parser, "<member> outside a <struct>")
            if keys[-1] is not None:
                _fail(parser, "struct <member> without a <value>")
        elif tag == "struct":
            scalar = stack.pop()
            keys.pop()
            typed = True
        elif tag == "array":
            scalar = stack.pop()
            typed = True
        elif tag in _SCALARS:
            try:
                scalar = _SCALARS[tag](text)
            except (ValueError, UnicodeError) as e:
                _fail(parser, f"bad <{tag}>: {e}")
            typed = True
        elif tag == "nil":
            scalar, typed = "", True
        elif tag == "param" or tag == "fault":
            slots += 1
            fault = fault or tag == "fault"
            if len(results) != slots or len(stack) != 1:
                _fail(parser, f"<{tag}> must hold exactly one <value>")
        elif tag == "methodName":
            method = text.strip()

    def chars(data: str) -> None:
        nonlocal text
        text += data

    def refuse(*_: object) -> None:
        _fail(parser, "DOCTYPE and entity declarations are not accepted")

    parser.StartElementHandler = first
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(body, True)
    except expat.ExpatError as e:
        reason = expat.ErrorString(e.code)
        raise CodecError(f"malformed XML: {reason} (line {e.lineno}, column {e.offset})") from e
    except UnicodeError as e:  # a str body holding lone surrogates
        raise CodecError(f"XML text is not encodable: {e}") from e
    return method, results, slots, fault


def _one(results: list[Value], slots: int, what: str) -> Value:
    if len(results) != 1 or slots > 1:
        raise CodecError(f"{what} must hold exactly one value, found {max(len(results), slots)}")
    return results[0]


def decode_xmlrpc_request(body: bytes) -> tuple[str, list[Value]]:
    """The method name and parameters of a ``methodCall``."""
    method, params, slots, fault = _parse(body, "methodCall")
    if not method:
        raise CodecError("<methodCall> has no (or an empty) <methodName>")
    if fault or len(params) != slots:
        raise CodecError("<methodCall> parameters must each be one <value> in a <param>")
    return method, params


def decode_xmlrpc_response(body: bytes) -> Value:
    """The value of a ``methodResponse`` (still enveloped); raises `XmlRpcFault` on ``<fault>``."""
    _, results, slots, fault = _parse(body, "methodResponse")
    value = _one(results, slots, "<methodResponse>")
    if not fault:
        return value
    if not isinstance(value, dict) or "faultCode" not in value or "faultString" not in value:
        raise CodecError("<fault> must hold a struct with faultCode and faultString")
    code, string = value["faultCode"], value["faultString"]
    try:
        number = int(str(code))  # typed <int> or, leniently, untyped text
    except ValueError as e:
        raise CodecError(f"faultCode is not an integer: {code!r}") from e
    raise XmlRpcFault(number, string if isinstance(string, str) else str(string))


def decode_xmlrpc_value(text: str | bytes) -> Value:
    """One ``<value>...</value>`` document, such as a ``task.result``."""
    _, results, _, _ = _parse(text, "value")
    return results[0]  # the root is a <value>, and expat allows exactly one root
