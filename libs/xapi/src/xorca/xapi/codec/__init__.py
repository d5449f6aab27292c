"""The XAPI wire codec: XML-RPC and JSON-RPC bodies to and from `Value`, without any I/O.

Transports (the client's HTTP connection, the simulator's server) hand bytes in and take bytes
out; everything protocol-shaped lives here, so it is tested with plain values.
"""

from xorca.xapi.codec.envelope import CodecError, failure, success, unwrap
from xorca.xapi.codec.jsonrpc import (
    JsonRpcRequest,
    JsonRpcResponse,
    JsonRpcVersion,
    decode_jsonrpc_request,
    decode_jsonrpc_response,
    encode_jsonrpc_error,
    encode_jsonrpc_request,
    encode_jsonrpc_result,
)
from xorca.xapi.codec.xmlrpc import (
    XmlRpcFault,
    decode_xmlrpc_request,
    decode_xmlrpc_response,
    decode_xmlrpc_value,
    encode_xmlrpc_fault,
    encode_xmlrpc_request,
    encode_xmlrpc_response,
    encode_xmlrpc_value,
)

__all__ = [
    "CodecError",
    "JsonRpcRequest",
    "JsonRpcResponse",
    "JsonRpcVersion",
    "XmlRpcFault",
    "decode_jsonrpc_request",
    "decode_jsonrpc_response",
    "decode_xmlrpc_request",
    "decode_xmlrpc_response",
    "decode_xmlrpc_value",
    "encode_jsonrpc_error",
    "encode_jsonrpc_request",
    "encode_jsonrpc_result",
    "encode_xmlrpc_fault",
    "encode_xmlrpc_request",
    "encode_xmlrpc_response",
    "encode_xmlrpc_value",
    "failure",
    "success",
    "unwrap",
]
