"""One error type for the API: every kind of refusal, wherever it is raised (a route, a
dependency, the body limit, the parsers, the actions, the framework itself), is answered by the
gateway's own handlers in one problem shape (RFC 9457). The app here is the gateway's error
edge (`problem_handlers`, `BodyLimit`, `authenticate`) around routes that fail as the real ones
do, called in process (no sockets); tests/integration/test_api.py checks the real routes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Query, Request

from xorca.api.core.actions import ActionError, find_action, parse_body
from xorca.api.core.errors import ApiProblem, BodyTooLarge, close_code
from xorca.api.core.fields import FieldsError, parse_fields
from xorca.api.core.problems import PROBLEM_JSON, PROBLEM_TYPES, FieldError, Problem, problem_for
from xorca.api.core.query import QueryError, parse_query
from xorca.api.http import BodyLimit, authenticate, problem_handlers

REF = "OpaqueRef:5e2a7c1d-0b9f-4d3e-8a6c-7f1e2d3c4b5a"
LIMIT = 64


def _raises(error: Callable[[], object]) -> Callable[[], Any]:
    async def endpoint() -> Any:
        error()
        raise AssertionError("the route was meant to fail")

    return endpoint


def _fail_unexpectedly() -> None:
    raise RuntimeError("a bug")


def _refused_by_the_pool() -> None:
    raise ActionError("VM_BAD_POWER_STATE", [REF, "halted", "running"])


def _gone() -> None:
    raise ApiProblem(404, "no vm 'x'")


def _bad_arguments() -> None:
    action = find_action("vms", "migrate")
    assert action is not None
    parse_body(action, {"hots": "x"})


#: kind → a route's failure, as the real routes fail
ROUTES: dict[str, Callable[[], object]] = {
    "refused by the gateway": _gone,
    "refused by the pool": _refused_by_the_pool,
    "bad arguments": _bad_arguments,
    "bad filter": lambda: parse_query("(power_state:Running"),
    "bad fields": lambda: parse_fields("a..b"),
    "unexpected": _fail_unexpectedly,
}


def gateway() -> FastAPI:
    app = FastAPI(exception_handlers=problem_handlers())
    for kind, fail in ROUTES.items():
        app.add_api_route(f"/fail/{kind.replace(' ', '-')}", _raises(fail))

    async def limited(request: Request, limit: Annotated[int, Query(ge=1)] = 1) -> Any:
        return {"limit": limit, "size": len(await request.body())}

    async def private(request: Request) -> Any:
        return {"caller": authenticate(request, lambda token: None).id}

    app.add_api_route("/limited", limited, methods=["GET", "POST"])
    app.add_api_route("/private", private)
    app.add_middleware(BodyLimit, limit=LIMIT)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # the unexpected error is answered, then re-raised for the server's log: not into the test
    transport = httpx.ASGITransport(app=gateway(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        yield c


#: kind → (method, path, request options, status)
REQUESTS: dict[str, tuple[str, str, dict[str, Any], int]] = {
    "refused by the gateway": ("GET", "/fail/refused-by-the-gateway", {}, 404),
    "refused by the pool": ("GET", "/fail/refused-by-the-pool", {}, 409),
    "bad arguments": ("GET", "/fail/bad-arguments", {}, 400),
    "bad filter": ("GET", "/fail/bad-filter", {}, 400),
    "bad fields": ("GET", "/fail/bad-fields", {}, 400),
    "unexpected": ("GET", "/fail/unexpected", {}, 500),
    "not authenticated": ("GET", "/private", {}, 401),
    "invalid parameter": ("GET", "/limited", {"params": {"limit": 0}}, 400),
    "no such path": ("GET", "/nothing-here", {}, 404),
    "wrong method": ("DELETE", "/limited", {}, 405),
    "body too large": ("POST", "/limited", {"content": b"x" * (LIMIT + 1)}, 413),
}
MEMBERS = {"type", "title", "status", "detail", "instance", "code", "params", "errors"}


@pytest.mark.parametrize("kind", sorted(REQUESTS))
async def test_every_kind_of_error_is_answered_in_one_problem_shape(
    client: httpx.AsyncClient, kind: str
) -> None:
    method, path, options, status = REQUESTS[kind]
    answer = await client.request(method, path, **options)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    body = answer.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body) <= MEMBERS
    assert body["status"] == status and body["instance"] == path
    assert body["title"] and body["detail"]
    if "code" in body:
        assert body["type"] == PROBLEM_TYPES + body["code"]
        assert all(isinstance(p, str) for p in body["params"])
    else:
        assert body["type"] == "about:blank" and "params" not in body
    for error in body.get("errors", []):
        assert set(error) == {"field", "message"}
    assert Problem.model_validate(body).to_json() == answer.content


async def test_the_answers_say_what_each_kind_says(client: httpx.AsyncClient) -> None:
    pool = (await client.get("/fail/refused-by-the-pool")).json()
    assert pool == {
        "type": "/api/v1/problems/VM_BAD_POWER_STATE",
        "title": "The VM is not in a power state that allows this",
        "status": 409,
        "detail": "The VM is Running; this needs it Halted.",
        "instance": "/fail/refused-by-the-pool",
        "code": "VM_BAD_POWER_STATE",
        "params": [REF, "halted", "running"],
    }
    filtered = (await client.get("/fail/bad-filter")).json()
    assert filtered == {
        "type": "/api/v1/problems/XORCA_BAD_FILTER",
        "title": "Bad request",
        "status": 400,
        "detail": "filter: unclosed parenthesis: `(` has no matching `)` (at character 1)",
        "instance": "/fail/bad-filter",
        "code": "XORCA_BAD_FILTER",
        "params": ["0"],
    }
    fields = (await client.get("/fail/bad-fields")).json()
    assert (fields["code"], fields["params"], fields["title"]) == (
        "XORCA_BAD_FIELDS",
        [],
        "Bad request",
    )
    arguments = (await client.get("/fail/bad-arguments")).json()
    assert arguments["title"] == "The request body is not valid"
    assert [e["field"] for e in arguments["errors"]] == ["host", "hots"]
    invalid = (await client.get("/limited", params={"limit": 0})).json()
    assert invalid["errors"] == [
        {"field": "query.limit", "message": "Input should be greater than or equal to 1"}
    ]
    assert invalid["title"] == "Bad request"
    private = await client.get("/private")
    assert private.headers["www-authenticate"] == 'Bearer realm="xorca"'
    assert private.json()["detail"] == "no API token given"
    large = (await client.post("/limited", content=b"x" * (LIMIT + 1))).json()
    assert large["detail"] == f"the request body is larger than {LIMIT} bytes"
    assert (await client.get("/fail/unexpected")).json()["detail"] == (
        "the gateway failed; see its logs"
    )


# ---- the type itself ----------------------------------------------------------------------


def errors_of_every_kind() -> list[ApiProblem]:
    def caught(fail: Callable[[], object]) -> ApiProblem:
        with pytest.raises(ApiProblem) as raised:
            fail()
        return raised.value

    return [
        ApiProblem(404, "no vm 'x'"),
        ApiProblem(401, "no API token given", headers={"WWW-Authenticate": "Bearer"}),
        ApiProblem(400, "1: JSON decode error", errors=[FieldError(field="1", message="bad")]),
        ActionError("VM_BAD_POWER_STATE", [REF, "halted", "running"]),
        ActionError.not_found("vms", "x"),
        ActionError.unknown_action("vms", "fly"),
        caught(_bad_arguments),
        caught(lambda: parse_query("a:")),
        caught(lambda: parse_fields(",,")),
        BodyTooLarge(LIMIT),
    ]


@pytest.mark.parametrize("error", errors_of_every_kind(), ids=lambda e: type(e).__name__)
def test_every_error_carries_what_its_answer_says(error: ApiProblem) -> None:
    problem = error.problem("/here")
    assert (problem.status, problem.title, problem.detail) == (
        error.status,
        error.title,
        error.detail,
    )
    assert problem.instance == "/here" and str(error) == error.detail
    assert problem.code == (error.code or None)
    assert problem.params == (error.params if error.code else None)
    assert (problem.errors or []) == error.errors
    brief = error.brief()
    assert brief["status"] == error.status and brief["detail"] == error.detail
    assert set(brief) == (
        {"status", "detail", "code", "params"} if error.code else {"status", "detail"}
    )
    assert 4400 <= close_code(error) <= 4599


def test_an_error_code_makes_the_same_problem_raised_or_not() -> None:
    # a failed task's `problem` is made without an exception: the same builder, the same body
    for code, params in [
        ("VM_BAD_POWER_STATE", [REF, "halted", "running"]),
        ("XORCA_POOL_UNAVAILABLE", ["3a1c", "disconnected"]),
        ("SOME_FUTURE_XAPI_ERROR", ["a"]),
        ("SR_BACKEND_FAILURE_44", ["", "There is insufficient space", ""]),
    ]:
        raised = ActionError(code, params).problem("/p")
        assert raised == problem_for(code, params, instance="/p")


def test_the_parsers_errors_are_problems_and_value_errors() -> None:
    with pytest.raises(QueryError) as query:
        parse_query("a:")
    assert isinstance(query.value, ValueError) and isinstance(query.value, ApiProblem)
    assert (query.value.position, query.value.params) == (1, ["1"])
    with pytest.raises(FieldsError) as fields:
        parse_fields("a..b")
    assert isinstance(fields.value, ValueError) and isinstance(fields.value, ApiProblem)
    assert fields.value.detail == f"fields: {fields.value.message}"


def test_a_problem_without_a_code_has_no_params() -> None:
    error = ApiProblem(409, "vm x has no XAPI reference yet", params=["ignored"])
    assert error.title == "Refused by the pool"
    assert error.problem().params is None and "params" not in error.brief()
    assert ApiProblem(418, "odd").title == "Error"
    with pytest.raises(ValueError, match="needs a status"):
        problem_for(None)


def test_the_error_tree_is_pure() -> None:
    # the core raises these: they must not drag the web framework in
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, xorca.api.core.errors, xorca.api.core.actions, xorca.api.core.query;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'starlette', 'nats', 'httpx')))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"
