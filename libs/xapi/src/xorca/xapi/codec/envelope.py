"""XAPI's result envelope, and the codec's one error type.

Over XML-RPC every API result is wrapped in a struct, ``{Status: "Success", Value: v}`` or
``{Status: "Failure", ErrorDescription: [code, p1, ...]}``; JSON-RPC carries the same information in
its own ``result``/``error`` members. Building and opening the envelope is protocol-independent, so
it lives here rather than in either wire module.

    ValueError
     └── CodecError      input that is not the wire format it claims to be (any decoder)
    XapiError            a well-formed Failure envelope (``unwrap``), from ``xorca.xapi.errors``
"""

from __future__ import annotations

from collections.abc import Sequence

from xorca.xapi.errors import XapiError
from xorca.xapi.values import Value

__all__ = ["CodecError", "failure", "success", "unwrap"]


class CodecError(ValueError):
    """Malformed wire input: the message says what was wrong and, where known, where."""


def success(value: Value) -> dict[str, Value]:
    """The envelope of a successful call."""
    return {"Status": "Success", "Value": value}


def failure(code: str, params: Sequence[str]) -> dict[str, Value]:
    """The envelope of a failed call; every entry of ``ErrorDescription`` is a string."""
    return {"Status": "Failure", "ErrorDescription": [code, *(str(p) for p in params)]}


def unwrap(envelope: Value) -> Value:
    """The ``Value`` of a Success envelope; raises `XapiError` for a Failure envelope.

    Anything else (a bare value such as ``system.listMethods``'s array, an unknown status, a
    Failure without a code) raises `CodecError`: the caller opened an envelope that isn't one.
    """
    if not isinstance(envelope, dict):
        raise CodecError(f"expected a Status envelope (struct), got {type(envelope).__name__}")
    status = envelope.get("Status")
    if status == "Success":
        if "Value" not in envelope:
            raise CodecError("Success envelope has no Value member")
        return envelope["Value"]
    if status == "Failure":
        description = envelope.get("ErrorDescription")
        if not isinstance(description, list) or not description:
            raise CodecError("Failure envelope has no non-empty ErrorDescription array")
        code, *params = description
        if not isinstance(code, str):
            raise CodecError(f"ErrorDescription code must be a string, got {code!r}")
        # XAPI sends strings only; stringify defensively rather than reject a foreign server's ints.
        raise XapiError(code, [p if isinstance(p, str) else _text(p) for p in params])
    raise CodecError(f"envelope Status must be 'Success' or 'Failure', got {status!r}")


def _text(value: Value) -> str:
    """A parameter as XAPI would have written it: bools as ``true``/``false``, others via str."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
