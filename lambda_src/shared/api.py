"""A small router for API Gateway REST proxy events.

API Gateway already routes each resource to its function, so a function only needs to map
(method, resource template) to code and render errors in its API's documented shape (an
`ErrorShape`: payouts' `{error, message, timestamp}` by default, the engine its own).
Powertools' event handler does that too, but importing it costs about a fifth of a cold start
here (`make bench`, handler_import_ratio), for features these functions do not use.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shared import jsonutil
from shared.http import (
    JSON_HEADERS,
    ApiError,
    InternalError,
    NotFound,
    error_body,
    header,
    raw_body,
)


class Log(Protocol):
    def error(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Request:
    event: dict[str, Any]
    context: Any

    @property
    def path_params(self) -> dict[str, str]:
        return self.event.get("pathParameters") or {}

    @property
    def query(self) -> dict[str, str]:
        return self.event.get("queryStringParameters") or {}

    def header(self, name: str) -> str | None:
        return header(self.event, name)

    def body(self) -> bytes:
        return raw_body(self.event)

    @property
    def trace_id(self) -> str:
        return trace_id(self.event, self.context)

    def remaining_seconds(self) -> float:
        """Time left in this invocation (without a context there is no deadline to honour)."""
        if self.context is None:
            return float("inf")
        return float(self.context.get_remaining_time_in_millis()) / 1000


@dataclass(frozen=True)
class Reply:
    """`body` is JSON, or bytes sent as they are (base64 for API Gateway, e.g. a PDF: the
    headers then name the content type)."""

    status: int
    body: Any
    headers: dict[str, str] | None = None


Handler = Callable[[Request], Reply]


def trace_id(event: dict[str, Any], context: Any) -> str:
    """API Gateway's request id (what its access log and a client see), else Lambda's."""
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id or getattr(context, "aws_request_id", "") or "")


def _no_translation(exc: Exception) -> ApiError | None:
    return None


@dataclass(frozen=True)
class ErrorShape:
    """How one API writes an error body, and which other exceptions it answers as 4xx.

    `render(error, trace_id)` returns the JSON body. `translate(exc)` turns an exception the
    API's own code raises for bad input (a shape's validation error, say) into an ApiError,
    or returns None to leave it a 500.
    """

    render: Callable[[ApiError, str], Any]
    translate: Callable[[Exception], ApiError | None] = _no_translation


# Payouts' documented shape; the default, so its answers stay as documented.
DOCUMENTED_ERRORS = ErrorShape(render=lambda error, _trace: error_body(error.error, error.message))


def cors_headers() -> dict[str, str]:
    """The browser origin the deployment allows (CORS_ALLOW_ORIGIN, set by the stack only
    for functions a browser calls), on every answer: the gateway answers the preflight."""
    origin = os.environ.get("CORS_ALLOW_ORIGIN")
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {}


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    # A final newline: the answer reads cleanly in a terminal (curl) and in logs.
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **cors_headers(), **(headers or {})},
        "body": jsonutil.dumps(body) + "\n",
        "isBase64Encoded": False,
    }


def binary_response(status: int, body: bytes, headers: dict[str, str] | None) -> dict[str, Any]:
    """API Gateway turns the base64 back into bytes for a client that accepts the type
    (the API's binary media types must include it)."""
    return {
        "statusCode": status,
        "headers": {**cors_headers(), **(headers or {})},
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }


class Router:
    def __init__(self, log: Log, errors: ErrorShape = DOCUMENTED_ERRORS) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._log = log
        self._errors = errors

    def route(self, method: str, resource: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self._routes[(method.upper(), resource)] = fn
            return fn

        return register

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        key = (str(event.get("httpMethod", "")).upper(), str(event.get("resource", "")))
        handler = self._routes.get(key)
        if handler is None:
            return self.error(NotFound("no such route"), event, context)
        try:
            reply = handler(Request(event, context))
        except ApiError as exc:
            return self.error(exc, event, context)
        except Exception as exc:
            translated = self._errors.translate(exc)
            if translated is not None:
                return self.error(translated, event, context)
            # The type only: messages of botocore or crypto errors can carry identifiers.
            self._log.error(
                "unhandled error",
                extra={"error_type": type(exc).__name__, "trace_id": trace_id(event, context)},
            )
            return self.error(InternalError("the request could not be processed"), event, context)
        if isinstance(reply.body, bytes):
            return binary_response(reply.status, reply.body, reply.headers)
        return response(reply.status, reply.body, reply.headers)

    def error(self, exc: ApiError, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """`exc` as this API answers it (also for callers answering before routing)."""
        body = self._errors.render(exc, trace_id(event, context))
        return response(exc.status, body, exc.headers)
