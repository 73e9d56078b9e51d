"""The engine's error shape, through shared/api.Router, and payouts' shape left as it was."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from engine.models.errors import ENGINE_ERRORS, ERROR_RESPONSE, InvalidRequest, issue
from local.events import LambdaContext, rest_event
from shared import jsonutil
from shared.api import Reply, Request, Router
from shared.http import NotFound, RateLimited, Unprocessable, ValidationError


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.lines.append((msg, kwargs))


@pytest.fixture
def log() -> Log:
    return Log()


def engine_router(log: Log) -> Router:
    router = Router(log, ENGINE_ERRORS)

    @router.route("POST", "/things")
    def post(request: Request) -> Reply:
        kind = jsonutil.loads(request.body()).get("kind")
        if kind == "invalid":
            raise InvalidRequest("the request is not valid", [issue("amount", "required")])
        if kind == "closed":
            raise Unprocessable("the loan is closed", code="LOAN_CLOSED")
        if kind == "limited":
            raise RateLimited("too many attempts", retry_after_seconds=42)
        if kind == "missing":
            raise NotFound("no such loan")
        if kind == "boom":
            raise RuntimeError("secret detail: +919876543210")
        return Reply(201, {"ok": True})

    return router


def call(router: Router, body: str, *, request_id: str | None = "req-1") -> dict[str, Any]:
    event = rest_event("POST", "/things", body=body)
    if request_id is None:
        del event["requestContext"]["requestId"]
    else:
        event["requestContext"]["requestId"] = request_id
    return router.resolve(event, LambdaContext(aws_request_id="lambda-req-9"))


def error_of(answer: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(answer["body"])
    jsonschema.Draft4Validator(ERROR_RESPONSE).validate(body)
    return dict(body["error"])


def test_validation_failure_is_400_with_details_and_the_trace_id(log: Log) -> None:
    answer = call(engine_router(log), '{"kind": "invalid"}')

    assert answer["statusCode"] == 400
    error = error_of(answer)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"] == [{"field": "amount", "issue": "required"}]
    assert error["traceId"] == "req-1"
    assert error["timestamp"].endswith("Z")


def test_unreadable_json_is_a_validation_error(log: Log) -> None:
    answer = call(engine_router(log), "{not json")

    assert answer["statusCode"] == 400
    assert error_of(answer)["code"] == "VALIDATION_ERROR"


def test_an_unknown_exception_is_500_without_its_message(log: Log) -> None:
    answer = call(engine_router(log), '{"kind": "boom"}')

    assert answer["statusCode"] == 500
    error = error_of(answer)
    assert error["code"] == "INTERNAL_ERROR"
    assert "secret" not in answer["body"] and "9876" not in answer["body"]
    assert log.lines == [
        ("unhandled error", {"extra": {"error_type": "RuntimeError", "trace_id": "req-1"}})
    ]


def test_the_lambda_request_id_is_the_trace_id_without_a_gateway_one(log: Log) -> None:
    answer = call(engine_router(log), '{"kind": "missing"}', request_id=None)

    assert answer["statusCode"] == 404
    assert error_of(answer) | {"timestamp": "t"} == {
        "code": "NOT_FOUND",
        "message": "no such loan",
        "details": [],
        "timestamp": "t",
        "traceId": "lambda-req-9",
    }


def test_a_narrower_code_and_retry_after(log: Log) -> None:
    router = engine_router(log)

    closed = call(router, '{"kind": "closed"}')
    limited = call(router, '{"kind": "limited"}')

    assert (closed["statusCode"], error_of(closed)["code"]) == (422, "LOAN_CLOSED")
    assert (limited["statusCode"], error_of(limited)["code"]) == (429, "RATE_LIMITED")
    assert limited["headers"]["Retry-After"] == "42"


def test_an_unknown_route_answers_in_the_engine_shape(log: Log) -> None:
    event = rest_event("GET", "/nowhere")

    answer = engine_router(log).resolve(event, LambdaContext())

    assert answer["statusCode"] == 404
    assert error_of(answer)["code"] == "NOT_FOUND"


def test_every_json_answer_ends_with_a_newline(log: Log) -> None:
    router = engine_router(log)

    for body in ('{"kind": "ok"}', '{"kind": "invalid"}', '{"kind": "boom"}'):
        answer = call(router, body)
        assert answer["body"].endswith("}\n")
        json.loads(answer["body"])


def test_payouts_keeps_its_documented_shape(log: Log) -> None:
    router = Router(log)

    @router.route("POST", "/things")
    def post(_: Request) -> Reply:
        raise ValidationError("amount must be a number", details=[issue("amount", "x")])

    answer = call(router, "{}")

    body = json.loads(answer["body"])
    assert answer["statusCode"] == 400
    assert set(body) == {"error", "message", "timestamp"}
    assert (body["error"], body["message"]) == ("ValidationError", "amount must be a number")
    assert answer["body"] == jsonutil.dumps(body) + "\n"
    # Payouts never translates the engine's parser errors: they stay 500s there.
    assert Router(log).error(NotFound("x"), {}, None)["statusCode"] == 404
