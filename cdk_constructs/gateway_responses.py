"""What an API answers when API Gateway itself refuses a request: one shape per API family.

Each shape lists the gateway response types it sets (status, the API's error code, the
message expression) and renders one mapping template per type. `DOCUMENTED` is the payouts
API's shape (`{"error", "message", "timestamp"}`); `ENGINE` is the payments engine's
(`{"error": {"code", "message", "details", "timestamp", "traceId"}}`), ending with a newline
like every answer the engine's functions give, `traceId` being the request id the access log
records and the timestamp ISO-8601 UTC with milliseconds.

API Gateway's `$context.requestTime` reads `03/Dec/2026:06:40:00 +0000` and
`$context.requestTimeEpoch` is in milliseconds; the engine template rebuilds
`2026-12-03T06:40:00.123Z` from them with Velocity string methods (formal `${...}`
references, so no text next to a reference is read as part of it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aws_cdk import aws_apigateway as apigateway

_VALIDATION = '"$context.error.validationErrorString"'
# $context.error.messageString is already a quoted JSON string.
_PLAIN = "$context.error.messageString"
_MONTHS = ", ".join(
    f'"{month}": "{number:02d}"'
    for number, month in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
)
_ISO_TIMESTAMP = (
    "${t.substring(7,11)}-${months.get($t.substring(3,6))}-${t.substring(0,2)}"
    "T${t.substring(12,20)}.${e.substring(10)}Z"
)
_ENGINE_PRELUDE = (
    '#set($t = "$context.requestTime")'
    '#set($e = "$context.requestTimeEpoch")'
    f"#set($months = {{{_MONTHS}}})"
)


@dataclass(frozen=True)
class GatewayError:
    response_type: apigateway.ResponseType
    status: str | None  # None: the status API Gateway chose (the DEFAULT_* types)
    code: str
    message: str  # a template expression that renders a JSON string
    headers: dict[str, str] = field(default_factory=dict)  # name -> literal value


@dataclass(frozen=True)
class GatewayErrorShape:
    name: str
    errors: tuple[GatewayError, ...]
    render: Callable[[GatewayError], str]

    def construct_id(self, error: GatewayError) -> str:
        return f"{error.code}{error.response_type.response_type}"


def _documented(error: GatewayError) -> str:
    return (
        f'{{"error": "{error.code}", "message": {error.message}, '
        '"timestamp": "$context.requestTime"}'
    )


def _engine(error: GatewayError) -> str:
    return (
        f'{_ENGINE_PRELUDE}{{"error": {{"code": "{error.code}", "message": {error.message}, '
        f'"details": [], "timestamp": "{_ISO_TIMESTAMP}", "traceId": "$context.requestId"}}}}\n'
    )


RT = apigateway.ResponseType

DOCUMENTED = GatewayErrorShape(
    name="documented",
    errors=(
        GatewayError(RT.BAD_REQUEST_BODY, "400", "ValidationError", _VALIDATION),
        GatewayError(RT.BAD_REQUEST_PARAMETERS, "400", "ValidationError", _VALIDATION),
        GatewayError(RT.UNAUTHORIZED, "401", "Unauthorized", _PLAIN),
        GatewayError(RT.ACCESS_DENIED, "403", "Forbidden", _PLAIN),
        GatewayError(RT.WAF_FILTERED, "403", "Forbidden", _PLAIN),
        GatewayError(RT.THROTTLED, "429", "Throttled", _PLAIN),
        GatewayError(RT.DEFAULT_4_XX, None, "ClientError", _PLAIN),
        GatewayError(RT.DEFAULT_5_XX, None, "InternalError", _PLAIN),
    ),
    render=_documented,
)

ENGINE = GatewayErrorShape(
    name="engine",
    errors=(
        GatewayError(RT.BAD_REQUEST_BODY, "400", "VALIDATION_ERROR", _VALIDATION),
        GatewayError(RT.BAD_REQUEST_PARAMETERS, "400", "VALIDATION_ERROR", _VALIDATION),
        GatewayError(RT.UNAUTHORIZED, "401", "UNAUTHORIZED", _PLAIN),
        GatewayError(RT.ACCESS_DENIED, "403", "FORBIDDEN", _PLAIN),
        GatewayError(RT.INVALID_API_KEY, "403", "FORBIDDEN", _PLAIN),
        GatewayError(RT.WAF_FILTERED, "403", "FORBIDDEN", _PLAIN),
        # An unknown path or method: API Gateway's "Missing Authentication Token" 403.
        GatewayError(RT.MISSING_AUTHENTICATION_TOKEN, "404", "NOT_FOUND", '"no such route"'),
        GatewayError(RT.THROTTLED, "429", "RATE_LIMITED", _PLAIN, {"Retry-After": "1"}),
        # The usage plan's daily quota: the next day's starts at midnight UTC.
        GatewayError(RT.QUOTA_EXCEEDED, "429", "RATE_LIMITED", _PLAIN, {"Retry-After": "3600"}),
        GatewayError(RT.INTEGRATION_TIMEOUT, "504", "SERVICE_UNAVAILABLE", _PLAIN),
        GatewayError(RT.DEFAULT_4_XX, None, "VALIDATION_ERROR", _PLAIN),
        GatewayError(RT.DEFAULT_5_XX, None, "INTERNAL_ERROR", _PLAIN),
    ),
    render=_engine,
)
