"""A small router for API Gateway REST proxy events.

API Gateway already routes each resource to its function, so a function only needs to map
(method, resource template) to code and render errors in the documented shape. Powertools'
event handler does that too, but importing it costs about a fifth of a cold start here
(`make bench`, handler_import_ratio), for features these functions do not use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shared import jsonutil
from shared.http import JSON_HEADERS, ApiError, error_body, header, raw_body


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

    def remaining_seconds(self) -> float:
        """Time left in this invocation (without a context there is no deadline to honour)."""
        if self.context is None:
            return float("inf")
        return float(self.context.get_remaining_time_in_millis()) / 1000


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] | None = None


Handler = Callable[[Request], Reply]


def response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": jsonutil.dumps(body),
        "isBase64Encoded": False,
    }


class Router:
    def __init__(self, log: Log) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._log = log

    def route(self, method: str, resource: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self._routes[(method.upper(), resource)] = fn
            return fn

        return register

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        key = (str(event.get("httpMethod", "")).upper(), str(event.get("resource", "")))
        handler = self._routes.get(key)
        if handler is None:
            return response(404, error_body("NotFound", "no such route"))
        try:
            reply = handler(Request(event, context))
        except ApiError as exc:
            return response(exc.status, error_body(exc.error, exc.message), exc.headers)
        except Exception as exc:
            # The type only: messages of botocore or crypto errors can carry identifiers.
            self._log.error("unhandled error", extra={"error_type": type(exc).__name__})
            return response(500, error_body("InternalError", "the request could not be processed"))
        return response(reply.status, reply.body, reply.headers)
