"""The API's one exception tree. Whatever the gateway refuses (a route, a dependency, a
middleware, the pure core) is raised as an `ApiProblem` and answered as the RFC 9457 problem
`ApiProblem.problem` makes; the HTTP edge (`xorca.api.http`) only writes that out, and turns the
framework's own errors (validation, unknown paths, anything unexpected) into problems first.

    ApiProblem             status, title, detail; code and params when there is an error code;
     │                     errors (the wrong fields of a request); headers (WWW-Authenticate)
     ├── ActionError       an error code made a problem (core/actions.py): status, title and
     │                     detail all from the code; an action refused before any command is
     │                     sent, or by the pool (a command's reply, a failed task)
     ├── QueryError        400 XORCA_BAD_FILTER, a filter that does not parse: message,
     │                     position (core/query_parse.py; also a ValueError)
     ├── FieldsError       400 XORCA_BAD_FIELDS, a field selection that does not parse: message
     │                     (core/fields.py; also a ValueError)
     └── BodyTooLarge      413, a request body over the limit: limit

Subclasses exist only where a caller tells one kind apart: an action's body refers to objects
through a lookup whose refusals (`ActionError`) it rewrites as a bad argument; the parsers are
used outside requests too, where their errors are the ValueError of a bad input with where it
is; the body limit catches its own error and no other. Every other refusal is a plain
`ApiProblem`, which nothing catches but the handler that answers it.

A refusal the gateway words itself has a status, and the status's title ("Not found"); one with
an error code (XAPI's, or xorca's ``XORCA_*``) gets the code's title, status and sentence from
`xorca.api.core.problems`. The console's WebSocket cannot answer a problem: it closes with
`close_code` (4000 + the status: 4404 for no such VM) and the detail as the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xorca.api.core.problems import FieldError, Problem, problem_for, status_title

__all__ = ["ApiProblem", "BodyTooLarge", "close_code"]


class ApiProblem(Exception):
    """An error answered as a problem. ``params`` are the code's (kept only with a code);
    ``title`` defaults to the status's."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        params: Sequence[object] = (),
        title: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.params = [str(p) for p in params]
        self.title = title if title is not None else status_title(status)
        self.errors = list(errors)
        self.headers = dict(headers or {})

    def problem(self, instance: str | None = None) -> Problem:
        """The answer (``application/problem+json``); ``instance`` is the request's path."""
        return problem_for(
            self.code or None,  # "" is no code: the answer says nothing rather than ""
            self.params,
            status=self.status,
            title=self.title,
            detail=self.detail,
            instance=instance,
            errors=self.errors,
        )

    def brief(self) -> dict[str, Any]:
        """What one item of a bulk answer says of it: status, detail, and code and params."""
        return self.problem().model_dump(
            include={"status", "detail", "code", "params"}, exclude_none=True
        )


class BodyTooLarge(ApiProblem):
    """A request body over ``limit`` bytes (by its Content-Length, or as it is read)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")
        self.limit = limit


def close_code(problem: ApiProblem) -> int:
    """The WebSocket close code for a refusal: 4000 + its HTTP status (the private range,
    RFC 6455 §7.4.2, read as HTTP's statuses are)."""
    return 4000 + problem.status
