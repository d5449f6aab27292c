"""The API's own error codes: what the gateway refuses by itself, before or instead of sending a
command. Each is a problem's ``code`` (and its ``type``, ``/api/v1/problems/<CODE>``); the
params are listed with each. Codes the gateway shares with the collectors are in
`xorca.contracts.codes`, XAPI's in `xorca.xapi.codes`; their words for people are in
``data/xorca-error-sentences.toml``.
"""

from __future__ import annotations

__all__ = [
    "BAD_FIELDS",
    "BAD_FILTER",
    "INVALID_ARGUMENT",
    "MALFORMED_REPLY",
    "OBJECT_NOT_FOUND",
    "OTHER_POOL",
    "UNKNOWN_ACTION",
    "UNKNOWN_REFERENCE",
]

#: a body that does not fit the action [field, message]
INVALID_ARGUMENT = "XORCA_INVALID_ARGUMENT"
#: the object acted on does not exist [collection, id]
OBJECT_NOT_FOUND = "XORCA_OBJECT_NOT_FOUND"
#: a body names an object that does not exist [collection, id]
UNKNOWN_REFERENCE = "XORCA_UNKNOWN_REFERENCE"
#: a body names an object of another pool than the one acted on [collection, id]
OTHER_POOL = "XORCA_OBJECT_IN_OTHER_POOL"
#: the collection has no such action [collection, name]
UNKNOWN_ACTION = "XORCA_UNKNOWN_ACTION"
#: a ``filter`` that does not parse [position: the offset, from 0, of the faulty character]
BAD_FILTER = "XORCA_BAD_FILTER"
#: a ``fields`` selection that does not parse []
BAD_FIELDS = "XORCA_BAD_FIELDS"
#: the collector's reply to a command does not decode [reason]
MALFORMED_REPLY = "XORCA_MALFORMED_REPLY"
