"""API Gateway proxy responses in the documented error shape."""

from __future__ import annotations

import base64
from typing import Any

from shared import clock

JSON_HEADERS = {"Content-Type": "application/json"}


class ApiError(Exception):
    """An error that becomes a 4xx/5xx response; each API's ErrorShape renders it.

    `error` is the payouts name (`ValidationError`), `code` the engine's (`VALIDATION_ERROR`);
    an instance may narrow `code` (`LOAN_CLOSED` for a 422) and carry `details`, a list of
    objects such as `{"field": "amount", "issue": "..."}`.
    """

    status = 400
    error = "BadRequest"
    code = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        if code is not None:
            self.code = code
        self.details = details or []


class ValidationError(ApiError):
    status = 400
    error = "ValidationError"
    code = "VALIDATION_ERROR"


class NotFound(ApiError):
    status = 404
    error = "NotFound"
    code = "NOT_FOUND"


class Conflict(ApiError):
    status = 409
    error = "Conflict"
    code = "CONFLICT"


class Unprocessable(ApiError):
    status = 422
    error = "Unprocessable"
    code = "UNPROCESSABLE"


class Unauthorized(ApiError):
    status = 401
    error = "Unauthorized"
    code = "UNAUTHORIZED"


class ServiceUnavailable(ApiError):
    status = 503
    error = "ServiceUnavailable"
    code = "SERVICE_UNAVAILABLE"


class Forbidden(ApiError):
    status = 403
    error = "Forbidden"
    code = "FORBIDDEN"


class RateLimited(ApiError):
    """429 with Retry-After (whole seconds, at least 1)."""

    status = 429
    error = "TooManyRequests"
    code = "RATE_LIMITED"

    def __init__(
        self,
        message: str,
        *,
        retry_after_seconds: int,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        self.retry_after_seconds = max(1, int(retry_after_seconds))
        retry = {"Retry-After": str(self.retry_after_seconds)}
        super().__init__(message, headers=retry, details=details)


class InternalError(ApiError):
    """What an unexpected exception becomes: a fixed message, never the exception's."""

    status = 500
    error = "InternalError"
    code = "INTERNAL_ERROR"


def error_body(error: str, message: str) -> dict[str, str]:
    return {"error": error, "message": message, "timestamp": clock.iso(clock.now())}


def raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise ValidationError("body is not valid base64") from exc
    return body.encode("utf-8")


def header(event: dict[str, Any], name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway passes headers as the client sent them)."""
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value)
    return None
