"""The engine's error shape, for every answer its handlers (and its gateways) give.

    {"error": {"code": "VALIDATION_ERROR", "message": "...", "details": [...],
               "timestamp": "2026-12-03T06:40:00.123Z", "traceId": "..."}}

`code` is the class's generic code (VALIDATION_ERROR 400, UNAUTHORIZED 401, FORBIDDEN 403,
NOT_FOUND 404, CONFLICT 409, UNPROCESSABLE 422, RATE_LIMITED 429, INTERNAL_ERROR 500,
SERVICE_UNAVAILABLE 503) or a narrower one an instance sets (`Unprocessable(..., code=
"LOAN_CLOSED")`). `details` is always a list: `{field, issue}` objects for bad input. `traceId`
is API Gateway's request id, so a customer's screenshot finds the access-log line.

Raise the classes of shared/http.py (`ValidationError`, `NotFound`, `RateLimited`, ...) and
build routers with `Router(logger, ENGINE_ERRORS)`. Through `translate`, the parser errors of
engine.models.shapes and unreadable JSON become 400 VALIDATION_ERROR, and a store still
conflicting after its retries or unreachable (shared.store_errors) 503 SERVICE_UNAVAILABLE.
"""

from __future__ import annotations

from typing import Any

from shared import clock, jsonutil, store_errors
from shared.api import ErrorShape
from shared.http import ApiError, ServiceUnavailable, ValidationError


class InvalidRequest(ValueError):
    """A request shape's verdict: the body (or a parameter) breaks its declared rules."""

    def __init__(self, message: str, details: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def issue(field: str, text: str) -> dict[str, str]:
    return {"field": field, "issue": text}


def body(error: ApiError, trace_id: str) -> dict[str, Any]:
    return {
        "error": {
            "code": error.code,
            "message": error.message,
            "details": list(error.details),
            "timestamp": clock.iso(clock.now()),
            "traceId": trace_id,
        }
    }


def _translate(exc: Exception) -> ApiError | None:
    if isinstance(exc, InvalidRequest):
        return ValidationError(exc.message, details=exc.details)
    if isinstance(exc, jsonutil.InvalidJson):
        return ValidationError("the body is not valid JSON", details=[issue("body", "not JSON")])
    if isinstance(exc, store_errors.Conflict | store_errors.Unavailable):
        # Busy or unreachable after the stores' own retries: the client may try again.
        return ServiceUnavailable("the service is busy: please try again shortly")
    return None


ENGINE_ERRORS = ErrorShape(render=body, translate=_translate)

ERROR_RESPONSE: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "EngineError",
    "type": "object",
    "additionalProperties": False,
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "message", "details", "timestamp", "traceId"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
                "timestamp": {"type": "string"},
                "traceId": {"type": "string"},
            },
        }
    },
}
