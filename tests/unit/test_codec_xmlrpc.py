"""XML-RPC codec: xapi's exact bytes out, anything reasonable in, CodecError for the rest."""

from __future__ import annotations

import enum
import xmlrpc.client
from typing import Any, cast

import pytest

from xorca.xapi.codec import (
    CodecError,
    XmlRpcFault,
    decode_xmlrpc_request,
    decode_xmlrpc_response,
    decode_xmlrpc_value,
    encode_xmlrpc_fault,
    encode_xmlrpc_request,
    encode_xmlrpc_response,
    encode_xmlrpc_value,
    failure,
    success,
)
from xorca.xapi.values import DateTime, Int32, Value

DECL = b'<?xml version="1.0"?>'
REF = "OpaqueRef:5c9a6a37-6e6c-4f0b-8a7e-0c1d2e3f4a5b"


def response(inner: str) -> bytes:
    return f"<methodResponse><params><param>{inner}</param></params></methodResponse>".encode()


# ------------------------------------------------------------------------------ canonical bytes


def test_request_is_compact_with_untyped_strings() -> None:
    body = encode_xmlrpc_request("VM.start", ["OpaqueRef:s", REF, False, True])
    assert body == (
        DECL + b"<methodCall><methodName>VM.start</methodName><params>"
        b"<param><value>OpaqueRef:s</value></param>"
        b"<param><value>" + REF.encode() + b"</value></param>"
        b"<param><value><boolean>0</boolean></value></param>"
        b"<param><value><boolean>1</boolean></value></param>"
        b"</params></methodCall>"
    )


def test_request_without_parameters() -> None:
    assert encode_xmlrpc_request("pool.get_all", []) == (
        DECL + b"<methodCall><methodName>pool.get_all</methodName><params></params></methodCall>"
    )


def test_success_envelope_bytes() -> None:
    assert encode_xmlrpc_response(success(REF)) == DECL + response(
        "<value><struct>"
        "<member><name>Status</name><value>Success</value></member>"
        f"<member><name>Value</name><value>{REF}</value></member>"
        "</struct></value>"
    )


def test_failure_envelope_bytes() -> None:
    body = encode_xmlrpc_response(failure("HANDLE_INVALID", ["VM", REF]))
    assert body == DECL + response(
        "<value><struct>"
        "<member><name>Status</name><value>Failure</value></member>"
        "<member><name>ErrorDescription</name><value><array><data>"
        f"<value>HANDLE_INVALID</value><value>VM</value><value>{REF}</value>"
        "</data></array></value></member>"
        "</struct></value>"
    )


@pytest.mark.parametrize(
    ("value", "xml"),
    [
        ("", "<value></value>"),
        ("OpaqueRef:NULL", "<value>OpaqueRef:NULL</value>"),
        (123, "<value>123</value>"),
        (-9223372036854775808, "<value>-9223372036854775808</value>"),
        (Int32(7), "<value><i4>7</i4></value>"),
        (True, "<value><boolean>1</boolean></value>"),
        (False, "<value><boolean>0</boolean></value>"),
        (1.0, "<value><double>1</double></value>"),
        (0.1, "<value><double>0.1</double></value>"),
        (0.1 + 0.2, "<value><double>0.3</double></value>"),  # %.16g, as OCaml prints it
        (1e16, "<value><double>1e+16</double></value>"),
        (-0.0, "<value><double>-0</double></value>"),
        (float("nan"), "<value><double>nan</double></value>"),
        (float("inf"), "<value><double>inf</double></value>"),
        (float("-inf"), "<value><double>-inf</double></value>"),
        (
            DateTime("20250319T04:16:24Z"),
            "<value><dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601></value>",
        ),
        ([], "<value><array><data></data></array></value>"),
        ({}, "<value><struct></struct></value>"),
        (
            {"a": ["x", {"b": ""}]},
            "<value><struct><member><name>a</name><value><array><data><value>x</value>"
            "<value><struct><member><name>b</name><value></value></member></struct></value>"
            "</data></array></value></member></struct></value>",
        ),
    ],
)
def test_value_encoding(value: Value, xml: str) -> None:
    assert encode_xmlrpc_value(value) == xml


def test_text_is_escaped_and_carriage_returns_survive() -> None:
    assert encode_xmlrpc_value("a&b<c>d\r\n\"'") == "<value>a&amp;b&lt;c&gt;d&#13;\n\"'</value>"
    assert decode_xmlrpc_value(encode_xmlrpc_value("a&b<c>d\r\n\r")) == "a&b<c>d\r\n\r"


def test_text_that_looks_like_a_character_reference_stays_text() -> None:
    assert encode_xmlrpc_value("&#13;\r\t") == "<value>&amp;#13;&#13;\t</value>"
    assert decode_xmlrpc_value(encode_xmlrpc_value("&#13;\r\x01")) == "&#13;\r"


def test_member_names_are_escaped_too() -> None:
    xml = encode_xmlrpc_value({"<k&>": "v"})
    member = "<member><name>&lt;k&amp;&gt;</name><value>v</value></member>"
    assert xml == f"<value><struct>{member}</struct></value>"
    assert decode_xmlrpc_value(xml) == {"<k&>": "v"}


def test_characters_xml_cannot_carry_are_dropped() -> None:
    # As ocaml-rpc drops control characters: the alternative is a document no parser accepts.
    assert encode_xmlrpc_value("a\x00b\x1bc\ufffed\ud800e\tf\x7f") == "<value>abcde\tf\x7f</value>"


def test_non_ascii_text_is_utf8() -> None:
    body = encode_xmlrpc_response("héllo ☃ 𝄞")
    assert "héllo ☃ 𝄞".encode() in body
    assert decode_xmlrpc_response(body) == "héllo ☃ 𝄞"


def test_method_name_is_escaped() -> None:
    assert b"<methodName>a&amp;b</methodName>" in encode_xmlrpc_request("a&b", [])


def test_subclasses_and_tuples_encode_as_their_wire_type() -> None:
    class Colour(enum.IntEnum):
        RED = 1

    class Mode(enum.StrEnum):
        FAST = "fast"

    value = [Colour.RED, Mode.FAST, (1, 2)]
    assert encode_xmlrpc_value(value) == (  # type: ignore[arg-type]
        "<value><array><data><value>1</value><value>fast</value>"
        "<value><array><data><value>1</value><value>2</value></data></array></value>"
        "</data></array></value>"
    )


@pytest.mark.parametrize("bad", [None, b"bytes", {1, 2}, object()])
def test_unencodable_values_raise_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="cannot encode"):
        encode_xmlrpc_value(bad)  # type: ignore[arg-type]


def test_request_params_must_not_be_a_bare_string() -> None:
    with pytest.raises(TypeError, match="params must be a sequence of values"):
        encode_xmlrpc_request("m", "abc")


def test_struct_keys_must_be_strings() -> None:
    with pytest.raises(TypeError, match="keys must be str"):
        encode_xmlrpc_value({1: "x"})  # type: ignore[dict-item]


def test_task_result_values() -> None:
    assert encode_xmlrpc_value(REF) == f"<value>{REF}</value>"
    assert decode_xmlrpc_value(f"<value>{REF}</value>") == REF
    assert decode_xmlrpc_value(b"<value></value>") == ""
    assert decode_xmlrpc_value("<value/>") == ""


def test_fault_round_trip() -> None:
    body = encode_xmlrpc_fault(-32700, "parse <error>")
    with pytest.raises(XmlRpcFault) as caught:
        decode_xmlrpc_response(body)
    assert (caught.value.code, caught.value.string) == (-32700, "parse <error>")
    assert str(caught.value) == "XML-RPC fault -32700: parse <error>"
    with pytest.raises(xmlrpc.client.Fault) as theirs:
        xmlrpc.client.loads(body)
    assert (theirs.value.faultCode, theirs.value.faultString) == (-32700, "parse <error>")


# ------------------------------------------------------------- python's xmlrpc.client (the SDK)


def _from_stdlib(value: object) -> object:
    if isinstance(value, xmlrpc.client.DateTime):
        return DateTime(value.value)
    if isinstance(value, list):
        return [_from_stdlib(v) for v in value]
    if isinstance(value, dict):
        return {k: _from_stdlib(v) for k, v in value.items()}
    return value


def test_python_sdk_reads_our_responses() -> None:
    record: dict[str, Value] = {
        "uuid": "u-1",
        "memory_target": 4294967296,
        "VCPUs_max": 2,
        "valid": Int32(3),
        "progress": 0.25,
        "is_a_template": False,
        "snapshot_time": DateTime("19700101T00:00:00Z"),
        "other_config": {"a": "b\r\n&"},
        "VBDs": [REF, ""],
    }
    (decoded,), method = xmlrpc.client.loads(encode_xmlrpc_response(success(record)))
    assert method is None
    assert _from_stdlib(decoded) == success(
        {
            **record,
            "memory_target": "4294967296",  # 64-bit ints travel as untyped strings
            "VCPUs_max": "2",
            "valid": 3,
        }
    )
    assert isinstance(cast(Any, decoded)["Value"]["snapshot_time"], xmlrpc.client.DateTime)


def test_python_sdk_requests_decode() -> None:
    body = xmlrpc.client.dumps(
        ("OpaqueRef:s", 5, 2.5, True, {"k": ["v", 7]}, xmlrpc.client.DateTime("20250319T04:16:24")),
        "VM.set_memory",
    )
    method, params = decode_xmlrpc_request(body.encode())
    assert method == "VM.set_memory"
    assert params == [
        "OpaqueRef:s",
        5,
        2.5,
        True,
        {"k": ["v", 7]},
        DateTime("20250319T04:16:24Z"),
    ]
    assert type(params[5]) is DateTime


# ---------------------------------------------------------------------------------- leniency

PRETTY = b"""<?xml version='1.0' encoding='UTF-8'?>
<!-- a comment -->
<methodCall>
  <methodName> VM.set_name_label </methodName>
  <params>
    <param>
      <value>
        <string>OpaqueRef:s</string>
      </value>
    </param>
    <param>
      <value>
        <struct>
          <member>
            <name>a</name>
            <value><i4> 1 </i4></value>
          </member>
          <member>
            <name>b</name>
            <value>
              <array>
                <data>
                  <value><int>2</int></value>
                  <value><i8>-3</i8></value>
                </data>
              </array>
            </value>
          </member>
        </struct>
      </value>
    </param>
    <param><value>  spaced  </value></param>
  </params>
</methodCall>
"""


def test_pretty_printed_request() -> None:
    assert decode_xmlrpc_request(PRETTY) == (
        "VM.set_name_label",
        ["OpaqueRef:s", {"a": 1, "b": [2, -3]}, "  spaced  "],
    )


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<value><string>x</string></value>", "x"),
        ("<value><string></string></value>", ""),
        ("<value><string/></value>", ""),
        ("<value>  </value>", "  "),
        ("<value><i4>-5</i4></value>", -5),
        ("<value><int>+5</int></value>", 5),
        ("<value><i8>9223372036854775807</i8></value>", 9223372036854775807),
        ("<value>42</value>", "42"),  # untyped stays text: the dispatcher coerces by type
        ("<value><double>2</double></value>", 2.0),
        ("<value><double>nan</double></value>", "nan"),
        ("<value><double>-inf</double></value>", float("-inf")),
        ("<value><double>1.5e300</double></value>", 1.5e300),
        ("<value><boolean>1</boolean></value>", True),
        ("<value><boolean>0</boolean></value>", False),
        ("<value><boolean> true </boolean></value>", True),
        ("<value><boolean>False</boolean></value>", False),
        ("<value><nil/></value>", ""),
        ("<value><base64>aMOpbGxv\n</base64></value>", "héllo"),
        ("<value><![CDATA[<a&b>]]></value>", "<a&b>"),
        ("<value>a<!-- c -->b</value>", "ab"),
        ("<value>&#65;&#x42;&quot;&apos;&lt;</value>", "AB\"'<"),
        ("<value>a\r\nb\rc</value>", "a\nb\nc"),  # XML normalises raw line ends
        ("<value><array></array></value>", []),
        ("<value><array><data/></array></value>", []),
        ("<value><struct/></value>", {}),
        (
            "<value><struct><member><name>k</name><value>1</value></member>"
            "<member><name>k</name><value>2</value></member></struct></value>",
            {"k": "2"},
        ),
    ],
)
def test_lenient_values(xml: str, expected: Value) -> None:
    decoded = decode_xmlrpc_value(xml)
    if expected == "nan":
        assert isinstance(decoded, float)
        assert decoded != decoded
    else:
        assert decoded == expected
        assert type(decoded) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        "20250319T04:16:24Z",
        "20250319T04:16:24",
        "2025-03-19T04:16:24Z",
        "2025-03-19T04:16:24.123Z",
        " 2025-03-19T04:16:24+00:00 ",
        "2025-03-19T06:16:24+02:00",
        "2025-03-19T01:46:24-0230",
        "20250319T041624Z",
    ],
)
def test_datetimes_are_normalised(text: str) -> None:
    decoded = decode_xmlrpc_value(f"<value><dateTime.iso8601>{text}</dateTime.iso8601></value>")
    assert decoded == "20250319T04:16:24Z"
    assert type(decoded) is DateTime


def test_declared_latin1_is_honoured() -> None:
    body = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + response("<value>café</value>")
    body = body.replace("é".encode(), b"\xe9")
    assert decode_xmlrpc_response(body) == "café"


def test_utf16_with_bom_is_honoured() -> None:
    body = '<?xml version="1.0" encoding="UTF-16"?>' + response("<value>x☃</value>").decode()
    assert decode_xmlrpc_response(body.encode("utf-16")) == "x☃"


def test_large_text_nodes_are_joined() -> None:
    big = "x" * 200_000 + "&" + "y" * 100_000
    assert decode_xmlrpc_value(encode_xmlrpc_value(big)) == big


def test_deep_nesting_does_not_recurse() -> None:
    depth = 5000
    xml = "<value><array><data>" * depth + "<value>x</value>" + "</data></array></value>" * depth
    value = decode_xmlrpc_value(xml)
    for _ in range(depth):
        assert isinstance(value, list)
        (value,) = value
    assert value == "x"


# ------------------------------------------------------------------------------- error paths


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "malformed XML: no element found"),
        (b"<methodCall>", "malformed XML: no element found"),
        (b"<methodCall></methodResponse>", "mismatched tag"),
        (b"not xml at all", "syntax error"),
        (b"<methodCall><methodName>a\xff</methodName></methodCall>", "not well-formed"),
        (b"<methodResponse/>", "expected <methodCall> as the root element, got <methodResponse>"),
        (b"<value>x</value>", "expected <methodCall> as the root element, got <value>"),
        (b"<methodCall><params></params></methodCall>", "no (or an empty) <methodName>"),
        (b"<methodCall><methodName> </methodName></methodCall>", "no (or an empty) <methodName>"),
        (
            b"<methodCall><methodName>m</methodName><params><param><value>a</value>"
            b"<value>b</value></param></params></methodCall>",
            "<param> must hold exactly one <value>",
        ),
        (
            b"<methodCall><methodName>m</methodName><params><param></param></params></methodCall>",
            "<param> must hold exactly one <value>",
        ),
        (
            b"<methodCall><methodName>m</methodName><params><value>a</value></params></methodCall>",
            "parameters must each be one <value> in a <param>",
        ),
        (b"<methodCall><methodName>m</methodName><bogus/></methodCall>", "unknown element <bogus>"),
        (
            b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
            b"<methodCall><methodName>&lol2;</methodName></methodCall>",
            "DOCTYPE and entity declarations are not accepted",
        ),
        (
            b"<methodCall><methodName>&undefined;</methodName></methodCall>",
            "undefined entity",
        ),
    ],
)
def test_bad_requests(body: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_xmlrpc_request(body)


def test_error_messages_say_where() -> None:
    with pytest.raises(CodecError, match=r"\(line 3, column \d+\)"):
        decode_xmlrpc_request(b"<methodCall>\n<methodName>m</methodName>\n<oops/></methodCall>")


@pytest.mark.parametrize(
    ("inner", "message"),
    [
        ("<value><i4>x</i4></value>", "bad <i4>: invalid literal"),
        ("<value><int></int></value>", "bad <int>"),
        ("<value><double>one</double></value>", "bad <double>"),
        ("<value><boolean>yes</boolean></value>", "bad <boolean>: not a boolean"),
        ("<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>", "not an ISO 8601"),
        ("<value><dateTime.iso8601>20250231T00:00:00Z</dateTime.iso8601></value>", "bad <dateT"),
        ("<value><base64>!!!</base64></value>", "bad <base64>"),
        ("<value><base64>/w==</base64></value>", "bad <base64>: 'utf-8' codec"),
        ("<value><struct><value>x</value></struct></value>", "struct <value> without a <name>"),
        (
            "<value><struct><member><value>x</value><name>k</name></member></struct></value>",
            "struct <value> without a <name>",
        ),
        (
            "<value><struct><member><name>k</name></member></struct></value>",
            "struct <member> without a <value>",
        ),
        ("<value><array><data><name>k</name></data></array></value>", "<name> outside a struct"),
        ("<value><stuff/></value>", "unknown element <stuff>"),
    ],
)
def test_bad_values(inner: str, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_xmlrpc_response(response(inner))
    with pytest.raises(CodecError, match=message):
        decode_xmlrpc_value(inner)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<methodResponse></methodResponse>", "must hold exactly one value, found 0"),
        (b"<methodResponse><params></params></methodResponse>", "exactly one value, found 0"),
        (
            b"<methodResponse><params><param><value>a</value></param>"
            b"<param><value>b</value></param></params></methodResponse>",
            "must hold exactly one value, found 2",
        ),
        (b"<methodCall><methodName>m</methodName></methodCall>", "expected <methodResponse>"),
        (
            b"<methodResponse><fault><value>oops</value></fault></methodResponse>",
            "<fault> must hold a struct with faultCode and faultString",
        ),
        (
            b"<methodResponse><fault><value><struct>"
            b"<member><name>faultCode</name><value>x</value></member>"
            b"<member><name>faultString</name><value>s</value></member>"
            b"</struct></value></fault></methodResponse>",
            "faultCode is not an integer: 'x'",
        ),
    ],
)
def test_bad_responses(body: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_xmlrpc_response(body)


def test_untyped_fault_code_is_accepted() -> None:
    body = (
        b"<methodResponse><fault><value><struct>"
        b"<member><name>faultCode</name><value>3</value></member>"
        b"<member><name>faultString</name><value><i4>9</i4></value></member>"
        b"</struct></value></fault></methodResponse>"
    )
    with pytest.raises(XmlRpcFault) as caught:
        decode_xmlrpc_response(body)
    assert (caught.value.code, caught.value.string) == (3, "9")


def test_value_documents_have_a_value_root() -> None:
    with pytest.raises(CodecError, match="expected <value> as the root element, got <struct>"):
        decode_xmlrpc_value("<struct></struct>")
    with pytest.raises(CodecError, match="no element found"):
        decode_xmlrpc_value("")


def test_str_with_lone_surrogate_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="not encodable"):
        decode_xmlrpc_value("<value>\ud800</value>")
