"""API Gateway proxy responses in the documented error shape."""

from __future__ import annotations

import base64
from typing import Any

from shared import clock

JSON_HEADERS = {"Content-Type": "application/json"}


class ApiError(Exception):
    """An error that becomes a 4xx/5xx response with body {error, message, timestamp}."""

    status = 400
    error = "BadRequest"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class ValidationError(ApiError):
    status = 400
    error = "ValidationError"


class NotFound(ApiError):
    status = 404
    error = "NotFound"


class Conflict(ApiError):
    status = 409
    error = "Conflict"


class Unprocessable(ApiError):
    status = 422
    error = "Unprocessable"


class Unauthorized(ApiError):
    status = 401
    error = "Unauthorized"


class ServiceUnavailable(ApiError):
    status = 503
    error = "ServiceUnavailable"


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
