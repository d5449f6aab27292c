"""Errors as the REST API answers them: RFC 9457 problem details (``application/problem+json``),
made from XAPI's and xorca's error codes.

An error reaches the API as ``{code, params}``: XAPI's own code when the pool refused (the
collector passes it on untouched), or an ``XORCA_*`` code when xorca refused or could not reach
the pool. `problem_for` turns it into a `Problem` whose

- ``status`` is `status_for_xapi` (below),
- ``title`` is `title_for`: short, the same for every occurrence of the code,
- ``detail`` is `describe_xapi_error`: one English sentence using the params whose meaning is
  known (``VM_BAD_POWER_STATE [vm, expected, actual]`` → "The VM is Running; this needs it
  Halted."); the web UI shows it to users, so refs and raw codes stay out of it where possible,
- ``code`` and ``params`` are kept as they came, for programs.

How codes map to statuses:

====  ==========================================================================================
400   the request could not be understood as an operation: bad body, bad argument types or
      count, a body naming an object that does not exist (``XORCA_INVALID_ARGUMENT``,
      ``XORCA_UNKNOWN_REFERENCE``, ``FIELD_TYPE_ERROR``, ``INVALID_VALUE``…)
403   the pool forbids it for good: its account for xorca lacks the XAPI role
      (``RBAC_PERMISSION_DENIED``, ``PERMISSION_DENIED``) or its licence lacks the feature.
      xorca checks the caller's own rights before any command is sent, so a 403 from XAPI
      means the *pool's account* is not allowed, which the detail says; 403 (not 502) because
      repeating the request cannot help and nothing is broken between xorca and the pool
404   the object is gone (``HANDLE_INVALID``, ``UUID_INVALID``, ``XORCA_OBJECT_NOT_FOUND``) or
      the collection has no such action
409   the pool understood and refused in its current state (``VM_BAD_POWER_STATE``,
      ``OTHER_OPERATION_IN_PROGRESS``, ``HOST_OFFLINE``, ``SR_FULL``…): the default for any
      code not listed, since XAPI refusing means the request itself was well formed
501   the pool's XAPI does not implement the call (``NOT_IMPLEMENTED``, ``MESSAGE_REMOVED``)
502   the link to the pool failed, or XAPI failed inside: ``SESSION_*`` (the pool's credentials
      stopped working: the collector re-logs in by itself, so one that reaches a client is a
      configuration fault, not the caller's), ``INTERNAL_ERROR``, ``XORCA_CONNECTION_FAILED``,
      ``XORCA_TLS_FAILED``, ``XORCA_PROTOCOL_ERROR``
503   the pool cannot take commands now: ``XORCA_POOL_NOT_MANAGED``, ``XORCA_POOL_UNAVAILABLE``,
      ``XORCA_POOL_UNREACHABLE``, ``TOO_BUSY``, ``HOST_STILL_BOOTING``
504   no answer in time (``XORCA_TIMEOUT``): the operation may still have run
500   an ``XORCA_*`` code this version does not know
====  ==========================================================================================

Problem ``type`` is ``/api/v1/problems/<CODE>`` (a URI reference, RFC 9457 §3.1.1), so that a
client can tell problems apart by type as the RFC intends and the API can document each code
there; ``about:blank`` is kept for problems without a code.

The words are data, read (and checked) once, when this module loads: XAPI's codes' in
``xorca/xapi/data/xapi-error-sentences.toml`` (`xorca.xapi.sentences`), xorca's own in
``xorca/api/data/xorca-error-sentences.toml``; the format is in ``xorca/xapi/data/README.md``.
How a placeholder is shown (a power state, a class for people, a size) is decided here.

The exceptions that become problems are `xorca.api.core.errors`; `problem_for` is the one
place a `Problem` is made, for them and for a failed task's ``problem``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from xorca.api.core import codes as api
from xorca.contracts import codes as xorca
from xorca.xapi import codes as xapi
from xorca.xapi.datamodel import errors as xapi_errors
from xorca.xapi.sentences import (
    MAX_TITLE,
    ErrorSentences,
    InvalidCatalogue,
    Template,
    parse_catalogue,
    xapi_sentences,
)

__all__ = [
    "PROBLEM_JSON",
    "PROBLEM_TYPES",
    "XORCA_CATALOGUE",
    "FieldError",
    "Problem",
    "describe_xapi_error",
    "problem_for",
    "problem_type",
    "sentences",
    "status_for_xapi",
    "status_title",
    "title_for",
]

PROBLEM_JSON = "application/problem+json"
#: prefix of every problem type made from a code
PROBLEM_TYPES = "/api/v1/problems/"

#: the words for xorca's own codes, in ``xorca.api``'s ``data/``
XORCA_CATALOGUE = "xorca-error-sentences.toml"

#: longest param quoted in a detail (storage back-ends can send pages of stderr)
_MAX_PARAM = 300


class FieldError(BaseModel):
    """One field of a request body that is wrong, and why."""

    model_config = ConfigDict(frozen=True)

    field: Annotated[
        str, Field(description="dotted path in the body; `body` for the body as a whole")
    ]
    message: Annotated[str, Field(description="what is wrong, for a person")]


class Problem(BaseModel):
    """An error answer (RFC 9457), with XAPI's or xorca's code and params when there is one."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "/api/v1/problems/VM_BAD_POWER_STATE",
                    "title": "The VM is not in a power state that allows this",
                    "status": 409,
                    "detail": "The VM is Running; this needs it Halted.",
                    "instance": "/api/v1/vms/0b9f4d3e-8a6c-4f1e-9d3c-4b5a7f1e2d3c/actions/start",
                    "code": xapi.VM_BAD_POWER_STATE,
                    "params": ["OpaqueRef:5e2a7c1d", "halted", "running"],
                }
            ]
        },
    )

    type: Annotated[str, Field(description="URI reference naming the kind of problem")] = (
        "about:blank"
    )
    title: Annotated[str, Field(description="short summary of the kind of problem")]
    status: Annotated[int, Field(ge=400, le=599, description="the HTTP status")]
    detail: Annotated[str | None, Field(description="what happened this time, for a person")] = None
    instance: Annotated[str | None, Field(description="the request path it happened on")] = None
    code: Annotated[str | None, Field(description="XAPI's error code, or xorca's (`XORCA_*`)")] = (
        None
    )
    params: Annotated[list[str] | None, Field(description="the code's parameters")] = None
    errors: Annotated[
        list[FieldError] | None, Field(description="the fields of the body that are wrong")
    ] = None

    def to_json(self) -> bytes:
        """The body as sent: members that are None left out."""
        return self.model_dump_json(exclude_none=True).encode()


# ---------------------------------------------------------------------------------- statuses

_STATUSES: dict[int, tuple[str, ...]] = {
    400: (
        xapi.MESSAGE_METHOD_UNKNOWN,
        xapi.MESSAGE_PARAMETER_COUNT_MISMATCH,
        xapi.FIELD_TYPE_ERROR,
        xapi.INVALID_VALUE,
        xapi.VALUE_NOT_SUPPORTED,
        xapi.INVALID_DEVICE,
        xapi.ILLEGAL_VBD_DEVICE,
        xapi.INVALID_IP_ADDRESS_SPECIFIED,
        xapi.INVALID_CIDR_ADDRESS_SPECIFIED,
        xapi.HOST_NAME_INVALID,
        xorca.MALFORMED_COMMAND,
        xorca.UNKNOWN_FIELD,
        api.INVALID_ARGUMENT,
        api.UNKNOWN_REFERENCE,
    ),
    403: (
        xapi.PERMISSION_DENIED,
        xapi.RBAC_PERMISSION_DENIED,
        xapi.USER_IS_NOT_LOCAL_SUPERUSER,
        xapi.LICENCE_RESTRICTION,
    ),
    404: (
        xapi.HANDLE_INVALID,
        xapi.UUID_INVALID,
        xapi.OBJECT_NOLONGER_EXISTS,
        api.OBJECT_NOT_FOUND,
        api.UNKNOWN_ACTION,
    ),
    # the default for unknown codes: listed for the record (and the tests)
    409: (
        xapi.VM_BAD_POWER_STATE,
        xapi.OPERATION_NOT_ALLOWED,
        xapi.OPERATION_BLOCKED,
        xapi.OTHER_OPERATION_IN_PROGRESS,
        xapi.VM_IS_TEMPLATE,
        xapi.VM_IS_SNAPSHOT,
        xapi.VM_CANNOT_DELETE_DEFAULT_TEMPLATE,
        xapi.VM_IS_PROTECTED,
        xapi.HOST_OFFLINE,
        xapi.HOST_NOT_LIVE,
        xapi.HOST_DISABLED,
        xapi.HOST_IN_USE,
        xapi.HOST_NOT_DISABLED,
        xapi.HOST_NOT_ENOUGH_FREE_MEMORY,
        xapi.NO_HOSTS_AVAILABLE,
        xapi.SR_FULL,
        xapi.SR_NOT_ATTACHED,
        xapi.VDI_IN_USE,
        xapi.TASK_CANCELLED,
        api.OTHER_POOL,
    ),
    501: (xapi.NOT_IMPLEMENTED, xapi.MESSAGE_REMOVED),
    502: (
        xapi.INTERNAL_ERROR,
        xapi.HOST_IS_SLAVE,
        xorca.CONNECTION_FAILED,
        xorca.TLS_FAILED,
        xorca.PROTOCOL_ERROR,
        xorca.TRANSPORT_ERROR,
        xorca.UNKNOWN_ERROR,
    ),
    503: (
        xorca.POOL_NOT_MANAGED,
        xorca.POOL_UNAVAILABLE,
        xorca.POOL_UNREACHABLE,
        xorca.COLLECTOR_STOPPED,
        xapi.TOO_BUSY,
        xapi.TOO_MANY_PENDING_TASKS,
        xapi.HOST_STILL_BOOTING,
    ),
    504: (xorca.TIMEOUT,),
}
_STATUS_OF = {code: status for status, codes in _STATUSES.items() for code in codes}


def status_for_xapi(code: str) -> int:
    """The HTTP status of an error code, XAPI's or xorca's (see the module's table)."""
    known = _STATUS_OF.get(code)
    if known is not None:
        return known
    if code.startswith(xapi.SESSION_PREFIX):
        return 502
    if code.startswith(xorca.PREFIX):
        return 500
    return 409


#: the title of a problem without a code: the status's
_STATUS_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Refused by the pool",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable",
    500: "Internal error",
    502: "Bad gateway",
    503: "Unavailable",
    504: "Timed out",
}


def status_title(status: int) -> str:
    """The title of a problem the gateway words itself (no code, or one of its own request
    errors): the HTTP status's name."""
    return _STATUS_TITLES.get(status, "Error")


# --------------------------------------------------------------------------------- sentences


def _catalogue() -> dict[str, ErrorSentences]:
    """XAPI's words and xorca's, checked; each code in one of them only."""
    text = resources.files("xorca.api").joinpath("data", XORCA_CATALOGUE).read_text("utf-8")
    own = parse_catalogue(text, source=XORCA_CATALOGUE)
    for code in own:
        if not code.startswith(xorca.PREFIX):
            raise InvalidCatalogue(XORCA_CATALOGUE, code, f"xorca's codes start {xorca.PREFIX}")
    return {**xapi_sentences(), **own}


# at import, not at the first error: a broken file fails the gateway's start, not an answer
_SENTENCES = _catalogue()


def sentences() -> dict[str, ErrorSentences]:
    """Every code that has words, XAPI's and xorca's (a copy)."""
    return dict(_SENTENCES)


def _show(value: str, spec: str) -> str:
    """A param as a placeholder shows it: ``{x}`` as given (clipped), ``{x:state}`` a power
    state (``running`` → ``Running``), ``{x:class}`` a class for people (``SR`` → ``storage
    repository``), ``{x:op}`` an operation (``clean_shutdown`` → ``clean shutdown``),
    ``{x:bytes}`` a size (``4294967296`` → ``4 GiB``); the formats are
    `xorca.xapi.sentences.SPECS`."""
    text = value.strip()
    if spec == "state":
        return text[:1].upper() + text[1:].lower()
    if spec == "class":
        return _CLASS_NAMES.get(text, _CLASS_NAMES.get(text.lower(), text))
    if spec == "op":
        return text.replace("_", " ")
    if spec == "bytes":
        return _size(text)
    if spec:
        raise ValueError(f"unknown param format {spec!r}")
    clipped = text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 1] + "…"
    return clipped.rstrip(".")


def _render(template: Template, values: Sequence[str]) -> str:
    return "".join(
        part if isinstance(part, str) else _show(values[part.index], part.spec)
        for part in template.parts
    )


_CLASS_NAMES = {
    "VM": "VM",
    "vm": "VM",
    "host": "host",
    "SR": "storage repository",
    "sr": "storage repository",
    "VDI": "disk",
    "vdi": "disk",
    "VBD": "disk drive",
    "vbd": "disk drive",
    "VIF": "network interface",
    "vif": "network interface",
    "PIF": "physical interface",
    "pif": "physical interface",
    "PBD": "storage connection",
    "pbd": "storage connection",
    "network": "network",
    "pool": "pool",
    "task": "task",
}


def _size(text: str) -> str:
    try:
        n = int(text)
    except ValueError:
        return text
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


#: the title of a code that has no words, neither here nor in XAPI's documentation
_GENERIC_TITLES = {
    400: "The request is not valid",
    403: "Not allowed",
    404: "Not found",
    409: "The pool refused this operation",
    500: "xorca failed",
    501: "Not implemented",
    502: "The pool could not be used",
    503: "The pool is not available",
    504: "The pool did not answer in time",
}


def _base(code: str) -> str:
    # XAPI numbers storage back-end failures: SR_BACKEND_FAILURE_44 is SR_BACKEND_FAILURE
    return xapi.SR_BACKEND_FAILURE if code.startswith(xapi.SR_BACKEND_FAILURE) else code


def title_for(code: str) -> str:
    """A short human title for a code: ours, else XAPI's documentation's first sentence, else
    one for its status."""
    known = _SENTENCES.get(_base(code))
    if known is not None:
        return known.title
    doc = xapi_errors().get(code)
    if doc is not None and doc.doc and not doc.doc.startswith("("):
        first = doc.doc.split(". ")[0].rstrip(".")
        if len(first) <= MAX_TITLE:  # as long as the catalogue's may be
            return first
    return _GENERIC_TITLES.get(status_for_xapi(code), "The request failed")


def describe_xapi_error(code: str, params: Sequence[str] = ()) -> str:
    """One English sentence for a user, from the params whose meaning is known; else
    ``CODE: params``."""
    values = [str(p) for p in params]
    known = _SENTENCES.get(_base(code))
    if known is not None:
        if known.code == xapi.SR_BACKEND_FAILURE:
            values = _backend_message(values)
        for template in known.details:
            if template.needs <= len(values):  # else the next, which may need fewer
                return _render(template, values)
    return f"{code}: {', '.join(params)}" if params else code


def _backend_message(values: list[str]) -> list[str]:
    """``[status, stdout, stderr]`` (``SR_BACKEND_FAILURE_44 ["", "There is insufficient
    space", ""]``): the first text that says something, as ``stderr``."""
    said = next((v for v in (values[1:2] + values[2:3] + values[0:1]) if v.strip()), None)
    return [] if said is None else ["", "", said]


def problem_type(code: str | None) -> str:
    return f"{PROBLEM_TYPES}{code}" if code else "about:blank"


def problem_for(
    code: str | None,
    params: Sequence[str] = (),
    *,
    status: int | None = None,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    errors: Sequence[FieldError] = (),
) -> Problem:
    """The problem for an error ``{code, params}``: status, title and detail derived from the
    code unless given. Without a code (a refusal the gateway words itself) the status is
    required, the title is the status's and there are no params."""
    if code is None:
        if status is None:
            raise ValueError("a problem without a code needs a status")
        return Problem(
            title=title if title is not None else status_title(status),
            status=status,
            detail=detail,
            instance=instance or None,
            errors=list(errors) or None,
        )
    return Problem(
        type=problem_type(code),
        title=title if title is not None else title_for(code),
        status=status if status is not None else status_for_xapi(code),
        detail=detail if detail is not None else describe_xapi_error(code, params),
        instance=instance or None,
        code=code,
        params=list(params),
        errors=list(errors) or None,
    )
